"""OpenAI audio transcriptions: `usage` by tokens (GPT transcribe models) or by duration.

openai-python's Transcription.Usage is one of two shapes, told by `type`:
- `"tokens"`: `input_tokens` (the audio and any prompt text) split by
  `input_token_details.audio_tokens` and `.text_tokens`, `output_tokens` (the transcript's
  text), `total_tokens = input_tokens + output_tokens`; audio input has its own price
  (gpt-4o-transcribe: $6 per million audio, $2.50 text);
- `"duration"`: `seconds` of input audio (whisper-1, billed per minute of audio): priced per
  second, a fraction kept exactly as written.
A body is the transcription (`text`, `usage`, and for verbose or diarized bodies `segments`,
`duration`...), or the stream's last event (`"type": "transcript.text.done"`); neither names
the model: give `model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ratecard.costing.formats.counts import (
    count,
    count_or_none,
    describe,
    field_path,
    new_read,
    new_usage,
    object_at,
    optional_count,
    optional_seconds,
    parts_overflow,
    total_note,
    usage_block,
)
from ratecard.costing.usage import ReadUsage, Usage, UsageError
from ratecard.vocabulary import UsageFormat

FORMAT = UsageFormat.OPENAI_TRANSCRIPTION
USAGE_KEY = "usage"
MARKERS = frozenset({"type", "seconds", "input_token_details"})
KINDS = (("type", "transcript.text.done"),)
TEXT_PRICED: frozenset[str] = frozenset()


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a transcription `usage` object given at `path`."""
    partition, notes = _partition(usage, path)
    return new_read(usage=partition, format=FORMAT, notes=notes)


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole transcription body given at `path` (its model is None: not in it)."""
    usage = usage_block(body, USAGE_KEY, path)
    partition, notes = _partition(usage, field_path(path, USAGE_KEY))
    return new_read(usage=partition, format=FORMAT, notes=notes)


def _partition(usage: Mapping[str, Any], path: str) -> tuple[Usage, tuple[str, ...]]:
    kind = usage.get("type")
    if kind is None:
        kind = "duration" if "seconds" in usage else "tokens"
    if kind == "duration":
        if usage.get("seconds") is None:
            raise UsageError(field_path(path, "seconds"), "is required")
        return new_usage(seconds=optional_seconds(usage, "seconds", path)), ()
    if kind != "tokens":
        raise UsageError(
            field_path(path, "type"), f'must be "tokens" or "duration", got {describe(kind)}'
        )
    inputs = count(usage, "input_tokens", path)
    outputs = count(usage, "output_tokens", path)
    where = (path, "input_token_details")
    details = object_at(usage, "input_token_details", path)
    audio = optional_count(details, "audio_tokens", *where)
    text = count_or_none(details, "text_tokens", *where)
    notes: list[str] = []
    if audio > inputs or (text is not None and text + audio > inputs):
        parts = (
            {"audio_tokens": audio}
            if text is None
            else {"text_tokens": text, "audio_tokens": audio}
        )
        raise parts_overflow(parts, "input_tokens", inputs, *where)
    if text is not None and text + audio < inputs:
        notes.append(
            f"{field_path(*where)} lists {text + audio} of input_tokens ({inputs}): the rest "
            "priced as text tokens"
        )
    note = total_note(usage, "total_tokens", inputs + outputs, "input_tokens + output_tokens", path)
    if note is not None:
        notes.append(note)
    partition = new_usage(
        input_tokens=inputs - audio, audio_input_tokens=audio, output_tokens=outputs
    )
    return partition, tuple(notes)

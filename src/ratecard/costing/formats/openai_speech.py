"""OpenAI text to speech (GPT TTS models): the `speech.audio.done` event's `usage`.

`POST /v1/audio/speech` answers with audio bytes; streamed as server-sent events
(`stream_format: "sse"`), its last event is `{"type": "speech.audio.done", "usage": ...}` with
`input_tokens` (the text read), `output_tokens` (the audio generated) and `total_tokens =
input_tokens + output_tokens` (the OpenAPI document's SpeechAudioDoneEvent). Text input and
audio output have their own prices (gpt-4o-mini-tts: $0.60 and $12 per million): the output
tokens are audio output tokens. The event names no model: give `model`. Models priced per
character (tts-1) report no usage: give `characters` as flat counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ratecard.costing.formats.counts import (
    count,
    field_path,
    new_read,
    new_usage,
    total_note,
    usage_block,
)
from ratecard.costing.usage import ReadUsage, Usage
from ratecard.vocabulary import UsageFormat

FORMAT = UsageFormat.OPENAI_SPEECH
USAGE_KEY = "usage"
# Its three keys are the Responses API's and Anthropic's too: only the event's type tells.
MARKERS: frozenset[str] = frozenset()
KINDS = (("type", "speech.audio.done"),)
TEXT_PRICED: frozenset[str] = frozenset()


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a text-to-speech `usage` object given at `path`."""
    partition, notes = _partition(usage, path)
    return new_read(usage=partition, format=FORMAT, notes=notes)


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a `speech.audio.done` event given at `path` (its model is None: not in it)."""
    usage = usage_block(body, USAGE_KEY, path)
    partition, notes = _partition(usage, field_path(path, USAGE_KEY))
    return new_read(usage=partition, format=FORMAT, notes=notes)


def _partition(usage: Mapping[str, Any], path: str) -> tuple[Usage, tuple[str, ...]]:
    inputs = count(usage, "input_tokens", path)
    outputs = count(usage, "output_tokens", path)
    note = total_note(usage, "total_tokens", inputs + outputs, "input_tokens + output_tokens", path)
    partition = new_usage(input_tokens=inputs, audio_output_tokens=outputs)
    return partition, () if note is None else (note,)

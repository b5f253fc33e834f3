"""OpenAI Chat Completions: `usage` holds totals, and its details are subsets of them.

`prompt_tokens` INCLUDES `prompt_tokens_details.cached_tokens`, `.audio_tokens` and (when
reported) `.image_tokens`; `completion_tokens` INCLUDES `completion_tokens_details
.reasoning_tokens` and `.audio_tokens`, and the accepted and rejected prediction tokens, which
are billed as output and not split out; `total_tokens = prompt_tokens + completion_tokens`.
`.text_tokens` (newer bodies) is what is left of the total: not needed, not read.

The OpenAI-compatible APIs that keep these meanings are read here too, their own keys ignored:
Azure OpenAI (`prompt_filter_results`, `content_filter_results`), Mistral
(`prompt_audio_seconds`, `prompt_tokens_details.messages`). DeepSeek and xAI count otherwise,
and Groq's tiers are its own: deepseek_chat.py, xai_chat.py and groq_chat.py, which share this
module's prompt and completion rules.

Image tokens have no price of their own at OpenAI: "image inputs are metered and charged in
tokens" at the model's input price (OpenAI's vision guide), so without an image-token price
they are priced as text input (TEXT_PRICED; the answer's `notes` say so).

A `total_tokens` that is not prompt + completion is priced by its parts, with a note; one that
is prompt + completion + reasoning says the reasoning was counted outside the completion
(xAI's accounting, also seen through proxies), and is read so.

The billed tier is the response's top-level `service_tier`, outside `usage`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ratecard.costing.formats.counts import (
    count,
    field_path,
    model_name,
    new_read,
    new_usage,
    object_at,
    optional_count,
    parts_overflow,
    tier,
    total_note,
    usage_block,
)
from ratecard.costing.usage import ReadUsage, Usage
from ratecard.vocabulary import ServiceTier, UsageFormat

FORMAT = UsageFormat.OPENAI_CHAT
USAGE_KEY = "usage"
# No key is this format's alone: its keys are every OpenAI-compatible API's. A usage block of
# `prompt_tokens` and `completion_tokens` without another format's markers is read as this one
# (formats/__init__.py, the defaults).
MARKERS: frozenset[str] = frozenset()
# What a whole body says of itself.
KINDS = (("object", "chat.completion"),)
# Token quantities OpenAI bills at the text input price when the model lists no price of their
# own (see above).
TEXT_PRICED = frozenset({"image_input_tokens"})

# OpenAI's `service_tier` values (Chat Completions and Responses): `auto` and `scale` are billed
# at the standard prices (docs/cost-semantics.md §4).
OPENAI_TIERS: Mapping[str, str] = MappingProxyType(
    {
        "default": ServiceTier.STANDARD,
        "auto": ServiceTier.STANDARD,
        "scale": ServiceTier.STANDARD,
        "flex": ServiceTier.FLEX,
        "priority": ServiceTier.PRIORITY,
    }
)
_TOTAL = "prompt_tokens + completion_tokens"
_OUTSIDE = "prompt_tokens + completion_tokens + reasoning_tokens"


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a Chat Completions `usage` object given at `path`."""
    partition, notes = _partition(usage, path)
    return new_read(usage=partition, format=FORMAT, notes=notes)


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole Chat Completions response body given at `path`."""
    usage = usage_block(body, USAGE_KEY, path)
    partition, notes = _partition(usage, field_path(path, USAGE_KEY))
    return new_read(
        usage=partition,
        format=FORMAT,
        model=model_name(body, "model", path),
        service_tier=tier(body.get("service_tier"), OPENAI_TIERS, path, "service_tier"),
        notes=notes,
    )


def _partition(usage: Mapping[str, Any], path: str) -> tuple[Usage, tuple[str, ...]]:
    prompt = count(usage, "prompt_tokens", path)
    text_in, cached, audio_in, image_in = prompt_parts(usage, prompt, path)
    return completion_parts(usage, prompt, path, text_in, cached, audio_in, image_in, False)


def prompt_parts(usage: Mapping[str, Any], prompt: int, path: str) -> tuple[int, int, int, int]:
    """(text, cached, audio, image) input tokens of `prompt_tokens`, its details subtracted."""
    where = (path, "prompt_tokens_details")
    details = object_at(usage, "prompt_tokens_details", path)
    cached = optional_count(details, "cached_tokens", *where)
    audio_in = optional_count(details, "audio_tokens", *where)
    image_in = optional_count(details, "image_tokens", *where)
    text_in = prompt - cached - audio_in - image_in
    if text_in < 0:
        parts = {"cached_tokens": cached, "audio_tokens": audio_in, "image_tokens": image_in}
        raise parts_overflow(parts, "prompt_tokens", prompt, *where)
    return text_in, cached, audio_in, image_in


def completion_parts(
    usage: Mapping[str, Any],
    prompt: int,
    path: str,
    text_in: int,
    cached: int,
    audio_in: int,
    image_in: int,
    reasoning_outside: bool,
) -> tuple[Usage, tuple[str, ...]]:
    """The partition, given the prompt's parts, and the notes on what was assumed.

    Reasoning is inside `completion_tokens` (OpenAI's accounting) unless `reasoning_outside`
    (xAI's); either way a stated `total_tokens` that fits only the other accounting wins.
    """
    completion = count(usage, "completion_tokens", path)
    where = (path, "completion_tokens_details")
    details = object_at(usage, "completion_tokens_details", path)
    reasoning = optional_count(details, "reasoning_tokens", *where)
    audio_out = optional_count(details, "audio_tokens", *where)
    notes: list[str] = []
    total = usage.get("total_tokens")
    if reasoning and type(total) is int:
        if not reasoning_outside and total == prompt + completion + reasoning:
            reasoning_outside = True
            notes.append(
                f"{field_path(path, 'total_tokens')} is prompt_tokens + completion_tokens + "
                "reasoning_tokens: reasoning counted outside completion_tokens"
            )
        elif reasoning_outside and total == prompt + completion:
            reasoning_outside = False
            notes.append(
                f"{field_path(path, 'total_tokens')} is prompt_tokens + completion_tokens: "
                "reasoning counted inside completion_tokens"
            )
    text_out = completion - audio_out
    if not reasoning_outside:
        text_out -= reasoning
    if text_out < 0:
        parts = {"audio_tokens": audio_out}
        if not reasoning_outside:
            parts = {"reasoning_tokens": reasoning, **parts}
        raise parts_overflow(parts, "completion_tokens", completion, *where)
    # Inside completion_tokens and priced as output: only checked to be counts that fit.
    for key in ("accepted_prediction_tokens", "rejected_prediction_tokens"):
        predicted = optional_count(details, key, *where)
        if predicted > completion:
            raise parts_overflow({key: predicted}, "completion_tokens", completion, *where)

    if reasoning_outside:
        note = total_note(usage, "total_tokens", prompt + completion + reasoning, _OUTSIDE, path)
    else:
        note = total_note(usage, "total_tokens", prompt + completion, _TOTAL, path)
    if note is not None:
        notes.append(note)
    partition = new_usage(
        input_tokens=text_in,
        output_tokens=text_out,
        cache_read_tokens=cached,
        reasoning_tokens=reasoning,
        audio_input_tokens=audio_in,
        audio_output_tokens=audio_out,
        image_input_tokens=image_in,
    )
    return partition, tuple(notes)

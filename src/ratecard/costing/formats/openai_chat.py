"""OpenAI Chat Completions: `usage` holds totals, and its details are subsets of them.

`prompt_tokens` INCLUDES `prompt_tokens_details.cached_tokens`, `.audio_tokens` and (when
reported) `.image_tokens`; `completion_tokens` INCLUDES `completion_tokens_details
.reasoning_tokens` and `.audio_tokens`, and the accepted and rejected prediction tokens, which
are billed as output and not split out; `total_tokens = prompt_tokens + completion_tokens`.
`.text_tokens` (newer bodies) is what is left of the total: not needed, not read.

The billed tier is the response's top-level `service_tier`, outside `usage`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ratecard.costing.formats.counts import (
    check_total,
    count,
    field_path,
    model_name,
    new_read,
    new_usage,
    object_at,
    optional_count,
    parts_overflow,
    tier,
    usage_block,
)
from ratecard.costing.usage import ReadUsage, Usage
from ratecard.vocabulary import ServiceTier, UsageFormat

FORMAT = UsageFormat.OPENAI_CHAT
USAGE_KEY = "usage"
# Keys only this format's usage object has (format detection).
MARKERS = frozenset(
    {"prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"}
)

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


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a Chat Completions `usage` object given at `path`."""
    return new_read(usage=_partition(usage, path), format=FORMAT)


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole Chat Completions response body given at `path`."""
    usage = usage_block(body, USAGE_KEY, path)
    return new_read(
        usage=_partition(usage, field_path(path, USAGE_KEY)),
        format=FORMAT,
        model=model_name(body, "model", path),
        service_tier=tier(body.get("service_tier"), OPENAI_TIERS, path, "service_tier"),
    )


def _partition(usage: Mapping[str, Any], path: str) -> Usage:
    prompt = count(usage, "prompt_tokens", path)
    completion = count(usage, "completion_tokens", path)
    prompt_details = object_at(usage, "prompt_tokens_details", path)
    completion_details = object_at(usage, "completion_tokens_details", path)

    where = (path, "prompt_tokens_details")
    cached = optional_count(prompt_details, "cached_tokens", *where)
    audio_in = optional_count(prompt_details, "audio_tokens", *where)
    image_in = optional_count(prompt_details, "image_tokens", *where)
    text_in = prompt - cached - audio_in - image_in
    if text_in < 0:
        parts = {"cached_tokens": cached, "audio_tokens": audio_in, "image_tokens": image_in}
        raise parts_overflow(parts, "prompt_tokens", prompt, *where)

    where = (path, "completion_tokens_details")
    reasoning = optional_count(completion_details, "reasoning_tokens", *where)
    audio_out = optional_count(completion_details, "audio_tokens", *where)
    text_out = completion - reasoning - audio_out
    if text_out < 0:
        parts = {"reasoning_tokens": reasoning, "audio_tokens": audio_out}
        raise parts_overflow(parts, "completion_tokens", completion, *where)
    # Inside completion_tokens and priced as output: only checked to be counts that fit.
    for key in ("accepted_prediction_tokens", "rejected_prediction_tokens"):
        predicted = optional_count(completion_details, key, *where)
        if predicted > completion:
            raise parts_overflow({key: predicted}, "completion_tokens", completion, *where)

    check_total(
        usage, "total_tokens", prompt + completion, "prompt_tokens + completion_tokens", path
    )
    return new_usage(
        input_tokens=text_in,
        output_tokens=text_out,
        cache_read_tokens=cached,
        reasoning_tokens=reasoning,
        audio_input_tokens=audio_in,
        audio_output_tokens=audio_out,
        image_input_tokens=image_in,
    )

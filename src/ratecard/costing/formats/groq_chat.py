"""Groq chat completions: OpenAI's `usage` counters, Groq's timings, and Groq's own tiers.

groq-python's CompletionUsage: `prompt_tokens` (including `prompt_tokens_details
.cached_tokens`), `completion_tokens` (including `completion_tokens_details.reasoning_tokens`),
`total_tokens = prompt_tokens + completion_tokens`, as OpenAI counts them, beside timings in
seconds (`queue_time`, `prompt_time`, `completion_time`, `total_time`: JSON numbers with
fractions, not counts, and not read). The body adds `x_groq` (its request id).

The top-level `service_tier` is Groq's, whose words mean other prices than OpenAI's same
words: `on_demand` (the default), `flex` ("the same pricing as on-demand processing", Groq's
Flex Processing page) and `auto` (one of those two) are billed at the standard prices;
`performance` (Groq's enterprise tier, dearer) is read as priority, which the catalog prices
where a source states it and refuses where not.
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
    tier,
    usage_block,
)
from ratecard.costing.formats.openai_chat import completion_parts, prompt_parts
from ratecard.costing.usage import ReadUsage, Usage
from ratecard.vocabulary import ServiceTier, UsageFormat

FORMAT = UsageFormat.GROQ
USAGE_KEY = "usage"
MARKERS = frozenset({"queue_time", "prompt_time", "completion_time", "total_time"})
KINDS: tuple[tuple[str, str], ...] = ()  # `"object": "chat.completion"`, as OpenAI's: markers tell
TEXT_PRICED: frozenset[str] = frozenset()

GROQ_TIERS: Mapping[str, str] = MappingProxyType(
    {
        "on_demand": ServiceTier.STANDARD,
        "flex": ServiceTier.STANDARD,
        "auto": ServiceTier.STANDARD,
        "performance": ServiceTier.PRIORITY,
    }
)


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a Groq chat `usage` object given at `path`."""
    partition, notes = _partition(usage, path)
    return new_read(usage=partition, format=FORMAT, notes=notes)


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole Groq chat completion body given at `path`."""
    usage = usage_block(body, USAGE_KEY, path)
    partition, notes = _partition(usage, field_path(path, USAGE_KEY))
    return new_read(
        usage=partition,
        format=FORMAT,
        model=model_name(body, "model", path),
        service_tier=tier(body.get("service_tier"), GROQ_TIERS, path, "service_tier"),
        notes=notes,
    )


def _partition(usage: Mapping[str, Any], path: str) -> tuple[Usage, tuple[str, ...]]:
    prompt = count(usage, "prompt_tokens", path)
    text_in, cached, audio_in, image_in = prompt_parts(usage, prompt, path)
    return completion_parts(usage, prompt, path, text_in, cached, audio_in, image_in, False)

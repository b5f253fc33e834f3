"""OpenAI Responses API: `usage` totals with subsets, and web searches outside `usage`.

`input_tokens` INCLUDES `input_tokens_details.cached_tokens`; `output_tokens` INCLUDES
`output_tokens_details.reasoning_tokens`; `total_tokens = input_tokens + output_tokens`.
Web searches are not counted in `usage`: each `output[]` item of type `web_search_call` is one
call (the searched pages' tokens are already in `input_tokens`). The billed tier is the
top-level `service_tier`, as in Chat Completions. xAI's and Azure OpenAI's Responses APIs give
the same body (xAI adds `cost_in_usd_ticks`, what it charged: ignored, ratecard prices from
its catalog). A `total_tokens` that is not the sum is priced by its parts, with a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ratecard.costing.formats.counts import (
    count,
    field_path,
    model_name,
    new_read,
    new_usage,
    object_at,
    objects_at,
    optional_count,
    parts_overflow,
    tier,
    total_note,
    usage_block,
)
from ratecard.costing.formats.openai_chat import OPENAI_TIERS
from ratecard.costing.usage import ReadUsage, Usage
from ratecard.vocabulary import UsageFormat

FORMAT = UsageFormat.OPENAI_RESPONSES
USAGE_KEY = "usage"
# `input_tokens`/`output_tokens` alone are Anthropic's (and text-to-speech's) names too, and
# `input_tokens_details`/`output_tokens_details` the image API's and (output) Anthropic's: the
# counters inside them are this format's alone.
MARKERS = frozenset(
    {"input_tokens_details.cached_tokens", "output_tokens_details.reasoning_tokens"}
)
KINDS = (("object", "response"),)
TEXT_PRICED: frozenset[str] = frozenset()


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a Responses `usage` object given at `path` (web searches are not in it)."""
    partition, notes = _partition(usage, path, 0)
    return new_read(usage=partition, format=FORMAT, notes=notes)


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole Responses body given at `path`, counting its `web_search_call` items."""
    usage = usage_block(body, USAGE_KEY, path)
    searches = sum(
        1 for item in objects_at(body, "output", path) if item.get("type") == "web_search_call"
    )
    partition, notes = _partition(usage, field_path(path, USAGE_KEY), searches)
    return new_read(
        usage=partition,
        format=FORMAT,
        model=model_name(body, "model", path),
        service_tier=tier(body.get("service_tier"), OPENAI_TIERS, path, "service_tier"),
        notes=notes,
    )


def _partition(usage: Mapping[str, Any], path: str, searches: int) -> tuple[Usage, tuple[str, ...]]:
    prompt = count(usage, "input_tokens", path)
    completion = count(usage, "output_tokens", path)

    where = (path, "input_tokens_details")
    cached = optional_count(object_at(usage, "input_tokens_details", path), "cached_tokens", *where)
    if cached > prompt:
        raise parts_overflow({"cached_tokens": cached}, "input_tokens", prompt, *where)

    where = (path, "output_tokens_details")
    details = object_at(usage, "output_tokens_details", path)
    reasoning = optional_count(details, "reasoning_tokens", *where)
    if reasoning > completion:
        raise parts_overflow({"reasoning_tokens": reasoning}, "output_tokens", completion, *where)

    note = total_note(
        usage, "total_tokens", prompt + completion, "input_tokens + output_tokens", path
    )
    partition = new_usage(
        input_tokens=prompt - cached,
        output_tokens=completion - reasoning,
        cache_read_tokens=cached,
        reasoning_tokens=reasoning,
        web_search_calls=searches,
    )
    return partition, () if note is None else (note,)

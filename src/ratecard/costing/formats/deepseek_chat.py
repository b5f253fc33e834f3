"""DeepSeek chat completions: OpenAI's `usage`, with its own cache counters.

DeepSeek's API reference: `prompt_tokens = prompt_cache_hit_tokens + prompt_cache_miss_tokens`
(context caching on disk: a hit is billed at the cache-hit price, a miss at the input price);
newer bodies also give `prompt_tokens_details.cached_tokens`, the same count as the hits.
`completion_tokens` INCLUDES `completion_tokens_details.reasoning_tokens` (deepseek-reasoner,
thinking mode) as OpenAI's does, and `total_tokens = prompt_tokens + completion_tokens`.

The hit and miss counters are the parts billed: hits + misses that are not `prompt_tokens` are
priced as they are, with a note; a `cached_tokens` that is not the hits is refused (two counts
of one thing that disagree: neither can be priced). The model and tier are read as in Chat
Completions (DeepSeek sends no `service_tier`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ratecard.costing.formats.counts import (
    count,
    count_or_none,
    field_path,
    model_name,
    new_read,
    object_at,
    parts_overflow,
    usage_block,
)
from ratecard.costing.formats.openai_chat import completion_parts
from ratecard.costing.usage import ReadUsage, Usage, UsageError
from ratecard.vocabulary import UsageFormat

FORMAT = UsageFormat.DEEPSEEK
USAGE_KEY = "usage"
MARKERS = frozenset({"prompt_cache_hit_tokens", "prompt_cache_miss_tokens"})
KINDS: tuple[tuple[str, str], ...] = ()  # `"object": "chat.completion"`, as OpenAI's: markers tell
TEXT_PRICED: frozenset[str] = frozenset()


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a DeepSeek `usage` object given at `path`."""
    partition, notes = _partition(usage, path)
    return new_read(usage=partition, format=FORMAT, notes=notes)


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole DeepSeek chat completion body given at `path`."""
    usage = usage_block(body, USAGE_KEY, path)
    partition, notes = _partition(usage, field_path(path, USAGE_KEY))
    return new_read(
        usage=partition, format=FORMAT, model=model_name(body, "model", path), notes=notes
    )


def _partition(usage: Mapping[str, Any], path: str) -> tuple[Usage, tuple[str, ...]]:
    prompt = count(usage, "prompt_tokens", path)
    hits = count_or_none(usage, "prompt_cache_hit_tokens", path)
    misses = count_or_none(usage, "prompt_cache_miss_tokens", path)
    where = (path, "prompt_tokens_details")
    cached = count_or_none(object_at(usage, "prompt_tokens_details", path), "cached_tokens", *where)
    if hits is None:
        hits = cached if cached is not None else prompt - (misses or 0)
    elif cached is not None and cached != hits:
        raise UsageError(
            field_path(*where, "cached_tokens"),
            f"{cached} is not prompt_cache_hit_tokens ({hits}): two counts of the cache hits",
        )
    if misses is None:
        misses = prompt - hits
    if hits > prompt or misses < 0:
        raise parts_overflow({"prompt_cache_hit_tokens": hits}, "prompt_tokens", prompt, path)
    notes: list[str] = []
    if hits + misses != prompt:
        notes.append(
            f"{field_path(path, 'prompt_tokens')} {prompt} is not prompt_cache_hit_tokens + "
            f"prompt_cache_miss_tokens ({hits + misses}): the hits and misses are priced"
        )
    partition, completion_notes = completion_parts(usage, prompt, path, misses, hits, 0, 0, False)
    return partition, (*notes, *completion_notes)

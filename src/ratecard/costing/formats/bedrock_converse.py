"""Amazon Bedrock Converse: `usage` with DISJOINT input counters; no model id in the body.

`inputTokens` EXCLUDES `cacheReadInputTokens` and `cacheWriteInputTokens` (as Anthropic's API);
`totalTokens = inputTokens + outputTokens + cacheReadInputTokens + cacheWriteInputTokens`;
`cacheDetails[]` (`{ttl: "5m" | "1h", inputTokens}`) splits the writes by TTL, and without it
every write is a 5-minute write. Reasoning is not split out of `outputTokens`. The model is in
the request path (`/model/{modelId}/converse`), so a response gives none. A response served at
another tier than standard says so in `serviceTier` (`{"type": "priority" | "flex" |
"default"}`, as the request sets it; AWS's service-tiers guide: the tier "is visible in API
response"). A stated total that is not the sum of its parts is priced by the parts, with a
note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ratecard.costing.formats.counts import (
    count,
    describe,
    field_path,
    new_read,
    new_usage,
    objects_at,
    optional_count,
    tier,
    total_note,
    usage_block,
)
from ratecard.costing.usage import ReadUsage, Usage, UsageError
from ratecard.vocabulary import ServiceTier, UsageFormat

FORMAT = UsageFormat.BEDROCK
USAGE_KEY = "usage"
MARKERS = frozenset(
    {
        "inputTokens",
        "outputTokens",
        "totalTokens",
        "cacheReadInputTokens",
        "cacheWriteInputTokens",
        "cacheDetails",
    }
)

KINDS: tuple[tuple[str, str], ...] = ()  # a Converse body names no kind of its own
TEXT_PRICED: frozenset[str] = frozenset()
_WRITES = "the sum of cacheDetails[].inputTokens"
_TOTAL = "inputTokens + outputTokens + cacheReadInputTokens + cacheWriteInputTokens"

BEDROCK_TIERS: Mapping[str, str] = MappingProxyType(
    {
        "default": ServiceTier.STANDARD,
        "reserved": ServiceTier.STANDARD,
        "flex": ServiceTier.FLEX,
        "priority": ServiceTier.PRIORITY,
    }
)


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a Converse `usage` object given at `path`."""
    partition, notes = _partition(usage, path)
    return new_read(usage=partition, format=FORMAT, notes=notes)


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole Converse response body given at `path` (its model is None: not in it)."""
    usage = usage_block(body, USAGE_KEY, path)
    served = body.get("serviceTier")
    if isinstance(served, Mapping):
        service_tier = tier(served.get("type"), BEDROCK_TIERS, path, "serviceTier", "type")
    else:
        service_tier = tier(served, BEDROCK_TIERS, path, "serviceTier")
    partition, notes = _partition(usage, field_path(path, USAGE_KEY))
    return new_read(usage=partition, format=FORMAT, service_tier=service_tier, notes=notes)


def _partition(usage: Mapping[str, Any], path: str) -> tuple[Usage, tuple[str, ...]]:
    input_tokens = count(usage, "inputTokens", path)
    output_tokens = count(usage, "outputTokens", path)
    reads = optional_count(usage, "cacheReadInputTokens", path)
    details = objects_at(usage, "cacheDetails", path)
    notes: list[str] = []
    if details:
        writes_5m, writes_1h = _writes_by_ttl(details, path)
        note = total_note(usage, "cacheWriteInputTokens", writes_5m + writes_1h, _WRITES, path)
        if note is not None:
            notes.append(note)
    else:
        writes_5m, writes_1h = optional_count(usage, "cacheWriteInputTokens", path), 0
    parts = input_tokens + output_tokens + reads + writes_5m + writes_1h
    note = total_note(usage, "totalTokens", parts, _TOTAL, path)
    if note is not None:
        notes.append(note)
    partition = new_usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=reads,
        cache_write_tokens=writes_5m,
        cache_write_1h_tokens=writes_1h,
    )
    return partition, tuple(notes)


def _writes_by_ttl(details: Sequence[Mapping[str, Any]], path: str) -> tuple[int, int]:
    writes_5m = writes_1h = 0
    for index, detail in enumerate(details):
        where = f"cacheDetails[{index}]"
        tokens = count(detail, "inputTokens", path, where)
        ttl = detail.get("ttl")
        if ttl == "5m":
            writes_5m += tokens
        elif ttl == "1h":
            writes_1h += tokens
        else:
            message = f'must be "5m" or "1h", got {describe(ttl)}'
            raise UsageError(field_path(path, where, "ttl"), message)
    return writes_5m, writes_1h

"""Anthropic Messages: `usage` holds three DISJOINT input counters, and its own tier.

`input_tokens` EXCLUDES cache reads (`cache_read_input_tokens`) and cache writes
(`cache_creation_input_tokens`); `cache_creation.ephemeral_5m_input_tokens` and
`.ephemeral_1h_input_tokens` split the writes by TTL (their prices differ: 1.25x and 2x the
input price), and add up to `cache_creation_input_tokens`; without `cache_creation` every write
is a 5-minute write (the only TTL before 1-hour caching existed). `output_tokens` includes
extended thinking (not split out). `server_tool_use.web_search_requests` counts billed searches.
`usage.service_tier` is `standard`, `priority` or `batch` (Message Batches results).
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
    tier,
    usage_block,
)
from ratecard.costing.usage import ReadUsage, Usage
from ratecard.vocabulary import ServiceTier, UsageFormat

FORMAT = UsageFormat.ANTHROPIC
USAGE_KEY = "usage"
# `input_tokens`/`output_tokens` alone are the Responses API's names too.
MARKERS = frozenset(
    {
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
        "server_tool_use",
        "service_tier",
    }
)

_SPLIT = "cache_creation.ephemeral_5m_input_tokens + .ephemeral_1h_input_tokens"

ANTHROPIC_TIERS: Mapping[str, str] = MappingProxyType(
    {tier: tier for tier in (ServiceTier.STANDARD, ServiceTier.PRIORITY, ServiceTier.BATCH)}
)


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a Messages `usage` object given at `path` (everything priced is inside it)."""
    return new_read(
        usage=_partition(usage, path),
        format=FORMAT,
        service_tier=tier(usage.get("service_tier"), ANTHROPIC_TIERS, path, "service_tier"),
    )


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole Messages response body given at `path`."""
    usage = usage_block(body, USAGE_KEY, path)
    where = field_path(path, USAGE_KEY)
    return new_read(
        usage=_partition(usage, where),
        format=FORMAT,
        model=model_name(body, "model", path),
        service_tier=tier(usage.get("service_tier"), ANTHROPIC_TIERS, where, "service_tier"),
    )


def _partition(usage: Mapping[str, Any], path: str) -> Usage:
    input_tokens = count(usage, "input_tokens", path)
    output_tokens = count(usage, "output_tokens", path)
    split = object_at(usage, "cache_creation", path)
    if "ephemeral_5m_input_tokens" in split or "ephemeral_1h_input_tokens" in split:
        where = (path, "cache_creation")
        writes_5m = optional_count(split, "ephemeral_5m_input_tokens", *where)
        writes_1h = optional_count(split, "ephemeral_1h_input_tokens", *where)
        check_total(usage, "cache_creation_input_tokens", writes_5m + writes_1h, _SPLIT, path)
    else:
        writes_5m, writes_1h = optional_count(usage, "cache_creation_input_tokens", path), 0
    searches = object_at(usage, "server_tool_use", path)
    return new_usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=optional_count(usage, "cache_read_input_tokens", path),
        cache_write_tokens=writes_5m,
        cache_write_1h_tokens=writes_1h,
        web_search_calls=optional_count(searches, "web_search_requests", path, "server_tool_use"),
    )

"""Anthropic Messages: `usage` holds three DISJOINT input counters, and its own tier.

`input_tokens` EXCLUDES cache reads (`cache_read_input_tokens`) and cache writes
(`cache_creation_input_tokens`); `cache_creation.ephemeral_5m_input_tokens` and
`.ephemeral_1h_input_tokens` split the writes by TTL (their prices differ: 1.25x and 2x the
input price), and add up to `cache_creation_input_tokens`; without `cache_creation` every write
is a 5-minute write (the only TTL before 1-hour caching existed). `output_tokens` includes
extended thinking and is "the inclusive, authoritative total used for billing": its
`output_tokens_details.thinking_tokens` (re-tokenized, approximate, "always <= output_tokens")
is for observability and is not split out. `server_tool_use.web_search_requests` counts billed
searches ($10 per 1,000); `.web_fetch_requests` cost nothing beyond their tokens.
`usage.service_tier` is `standard`, `priority` or `batch` (Message Batches results).

Priced fields the usage states (Anthropic's pricing page, "Data residency pricing" and "Fast
mode pricing"): `inference_geo: "us"` multiplies every token price by 1.1 on Claude 4.6 and
later (`global`, the default, and `not_available`, older models, by nothing), and
`speed: "fast"` by the model's fast-mode factor; both stack. They are StatedUplifts: the
engine applies the model's uplift of that name, or refuses when the model lists none.

`usage.iterations[]` (compaction, server-side tool loops, advisor and fallback models) itemizes
sampling steps: the top-level counters are the sum of the `message` iterations (the executor's).
`compaction` iterations are billed beside them and are added here (with a note);
`advisor_message` and `fallback_message` iterations ran on another model, billed at that
model's prices: one cost request prices one model, so such a body is refused, naming the
iteration, rather than priced short.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ratecard.costing.formats.counts import (
    count,
    describe,
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
from ratecard.costing.usage import ReadUsage, StatedUplift, Usage, UsageError
from ratecard.vocabulary import ServiceTier, UsageFormat

FORMAT = UsageFormat.ANTHROPIC
USAGE_KEY = "usage"
# `input_tokens`/`output_tokens` alone are the Responses API's names too, and
# `output_tokens_details` is both formats' key (its counters differ).
MARKERS = frozenset(
    {
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
        "server_tool_use",
        "service_tier",
        "inference_geo",
        "iterations",
        "speed",
        "output_tokens_details.thinking_tokens",
    }
)
KINDS = (("type", "message"),)
TEXT_PRICED: frozenset[str] = frozenset()

_SPLIT = "cache_creation.ephemeral_5m_input_tokens + .ephemeral_1h_input_tokens"

ANTHROPIC_TIERS: Mapping[str, str] = MappingProxyType(
    {tier: tier for tier in (ServiceTier.STANDARD, ServiceTier.PRIORITY, ServiceTier.BATCH)}
)
# `inference_geo` values billed at the standard prices.
_NO_UPLIFT_GEOS = frozenset({"global", "not_available"})
# Iterations billed at another model's prices than the response's.
_OTHER_MODEL_ITERATIONS = frozenset({"advisor_message", "fallback_message"})


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a Messages `usage` object given at `path` (everything priced is inside it)."""
    partition, notes = _partition(usage, path)
    return new_read(
        usage=partition,
        format=FORMAT,
        service_tier=tier(usage.get("service_tier"), ANTHROPIC_TIERS, path, "service_tier"),
        notes=notes,
        uplifts=_uplifts(usage, path),
    )


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole Messages response body given at `path`."""
    usage = usage_block(body, USAGE_KEY, path)
    where = field_path(path, USAGE_KEY)
    partition, notes = _partition(usage, where)
    return new_read(
        usage=partition,
        format=FORMAT,
        model=model_name(body, "model", path),
        service_tier=tier(usage.get("service_tier"), ANTHROPIC_TIERS, where, "service_tier"),
        notes=notes,
        uplifts=_uplifts(usage, where),
    )


def _partition(usage: Mapping[str, Any], path: str) -> tuple[Usage, tuple[str, ...]]:
    input_tokens, reads, writes_5m, writes_1h, output_tokens, note = _counters(usage, path)
    notes = [] if note is None else [note]
    thinking = optional_count(
        object_at(usage, "output_tokens_details", path), "thinking_tokens",
        path, "output_tokens_details",
    )  # fmt: skip
    if thinking > output_tokens:
        raise parts_overflow(
            {"thinking_tokens": thinking}, "output_tokens", output_tokens,
            path, "output_tokens_details",
        )  # fmt: skip
    if "iterations" in usage:
        added = _compactions(usage, path)
        if added is not None:
            input_tokens += added[0]
            reads += added[1]
            writes_5m += added[2]
            writes_1h += added[3]
            output_tokens += added[4]
            notes.extend(added[5])
    searches = object_at(usage, "server_tool_use", path)
    partition = new_usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=reads,
        cache_write_tokens=writes_5m,
        cache_write_1h_tokens=writes_1h,
        web_search_calls=optional_count(searches, "web_search_requests", path, "server_tool_use"),
    )
    return partition, tuple(notes)


def _counters(usage: Mapping[str, Any], *path: str) -> tuple[int, int, int, int, int, str | None]:
    """(input, cache reads, 5-minute writes, 1-hour writes, output) of a usage object (or of
    one of its iterations), and the note on a write total that is not its split."""
    input_tokens = count(usage, "input_tokens", *path)
    output_tokens = count(usage, "output_tokens", *path)
    split = object_at(usage, "cache_creation", *path)
    note = None
    if "ephemeral_5m_input_tokens" in split or "ephemeral_1h_input_tokens" in split:
        where = (*path, "cache_creation")
        writes_5m = optional_count(split, "ephemeral_5m_input_tokens", *where)
        writes_1h = optional_count(split, "ephemeral_1h_input_tokens", *where)
        note = total_note(
            usage, "cache_creation_input_tokens", writes_5m + writes_1h, _SPLIT, *path
        )
    else:
        writes_5m, writes_1h = optional_count(usage, "cache_creation_input_tokens", *path), 0
    reads = optional_count(usage, "cache_read_input_tokens", *path)
    return input_tokens, reads, writes_5m, writes_1h, output_tokens, note


def _compactions(
    usage: Mapping[str, Any], path: str
) -> tuple[int, int, int, int, int, list[str]] | None:
    """What the `compaction` iterations add to the top-level counters, with notes; None when
    there are none. Refuses iterations billed at another model's prices."""
    inputs = reads = writes_5m = writes_1h = outputs = 0
    notes: list[str] = []
    compacted = False
    for index, iteration in enumerate(objects_at(usage, "iterations", path)):
        where = f"iterations[{index}]"
        kind = iteration.get("type")
        if kind == "message":
            continue  # the executor's own step: already in the top-level counters
        if kind == "compaction":
            counted = _counters(iteration, path, where)
            inputs += counted[0]
            reads += counted[1]
            writes_5m += counted[2]
            writes_1h += counted[3]
            outputs += counted[4]
            if counted[5] is not None:
                notes.append(counted[5])
            compacted = True
        elif kind in _OTHER_MODEL_ITERATIONS:
            other = iteration.get("model")
            named = f" on {describe(other)}" if isinstance(other, str) else ""
            raise UsageError(
                field_path(path, where),
                f"a {kind} iteration{named} is billed at that model's prices, and one cost "
                "request prices one model: give each model's iterations as its own `usage`",
            )
        elif isinstance(kind, str):
            notes.append(f"{field_path(path, where)}: iteration type {describe(kind)} not priced")
        else:
            raise UsageError(
                field_path(path, where, "type"), f"must be a string, got {describe(kind)}"
            )
    if not compacted:
        return None if not notes else (0, 0, 0, 0, 0, notes)
    notes.insert(
        0,
        f"{field_path(path, 'iterations')}: compaction iterations are billed beside the "
        "top-level counts and are added to them",
    )
    return inputs, reads, writes_5m, writes_1h, outputs, notes


def _uplifts(usage: Mapping[str, Any], path: str) -> tuple[StatedUplift, ...]:
    """The multipliers the usage says the request was billed with (none, mostly)."""
    geo = usage.get("inference_geo")
    speed = usage.get("speed")
    if geo is None and speed is None:
        return ()
    uplifts: list[StatedUplift] = []
    if geo is not None:
        if not isinstance(geo, str) or not geo:
            raise UsageError(
                field_path(path, "inference_geo"), f"must be a region name, got {describe(geo)}"
            )
        if geo not in _NO_UPLIFT_GEOS:
            uplifts.append(StatedUplift("region", geo, field_path(path, "inference_geo")))
    if speed is not None and speed != "standard":
        if speed != "fast":
            raise UsageError(
                field_path(path, "speed"), f'must be "standard" or "fast", got {describe(speed)}'
            )
        uplifts.append(StatedUplift("speed", "fast", field_path(path, "speed")))
    return tuple(uplifts)

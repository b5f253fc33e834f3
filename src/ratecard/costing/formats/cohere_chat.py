"""Cohere v2 chat: `usage.billed_units`, what is charged, beside `usage.tokens`, what ran.

cohere-python's Usage: `billed_units` (UsageBilledUnits: `input_tokens`, `output_tokens`,
`search_units`, `classifications`) is what Cohere bills; `tokens` (UsageTokens) counts every
token the model processed, the system tokens Cohere adds (and does not bill) included, so it is
not read when billed units are given; `cached_tokens` ("prompt tokens that hit the inference
cache") has no price of its own at Cohere (genai-prices notes the same) and is not read.
Search units (rerank, billed per search) are `queries`. Classifications have no quantity in a
cost request: a body that bills some is refused, naming them. Without `billed_units` the
processed `tokens` are priced, with a note.

The v2 chat body is `{id, finish_reason, message, usage, logprobs?}`: it names no model, give
`model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ratecard.costing.formats.counts import (
    field_path,
    new_read,
    new_usage,
    object_at,
    optional_count,
    usage_block,
)
from ratecard.costing.usage import ReadUsage, Usage, UsageError
from ratecard.vocabulary import UsageFormat

FORMAT = UsageFormat.COHERE
USAGE_KEY = "usage"
MARKERS = frozenset({"billed_units", "tokens"})
KINDS: tuple[tuple[str, str], ...] = ()  # the body names no kind: its markers tell
TEXT_PRICED: frozenset[str] = frozenset()


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a Cohere `usage` object given at `path`."""
    partition, notes = _partition(usage, path)
    return new_read(usage=partition, format=FORMAT, notes=notes)


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole Cohere v2 chat body given at `path` (its model is None: not in it)."""
    usage = usage_block(body, USAGE_KEY, path)
    partition, notes = _partition(usage, field_path(path, USAGE_KEY))
    return new_read(usage=partition, format=FORMAT, notes=notes)


def _partition(usage: Mapping[str, Any], path: str) -> tuple[Usage, tuple[str, ...]]:
    billed = object_at(usage, "billed_units", path)
    if not billed:
        processed = object_at(usage, "tokens", path)
        where = (path, "tokens")
        partition = new_usage(
            input_tokens=optional_count(processed, "input_tokens", *where),
            output_tokens=optional_count(processed, "output_tokens", *where),
        )
        note = (
            f"{field_path(path, 'billed_units')} not given: the processed tokens are priced "
            "(Cohere bills its billed units, which can be fewer)"
        )
        return partition, (note,)
    where = (path, "billed_units")
    if optional_count(billed, "classifications", *where):
        raise UsageError(
            field_path(*where, "classifications"),
            "billed classifications have no price in a cost request: price them apart",
        )
    partition = new_usage(
        input_tokens=optional_count(billed, "input_tokens", *where),
        output_tokens=optional_count(billed, "output_tokens", *where),
        queries=optional_count(billed, "search_units", *where),
    )
    return partition, ()

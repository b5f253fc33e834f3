"""Feed formats behind a registry keyed by kind: one module per format, one parse_feed.

Turning a feed body into exact ModelPrice records: the body is loaded once as JSON with
Decimals (`parsing.load_json`), then handed to the parser registered for the source's kind.
Adding a format = one module with a `parse(source_name, document, now=None) -> ParsedFeed`
function, one line in PARSERS and one FeedKind member (the settings accept exactly
FEED_KINDS).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from ratecard.catalog.model import ModelPrice
from ratecard.ingest.feed_errors import FeedError
from ratecard.ingest.feeds import genai_prices, litellm, openrouter
from ratecard.ingest.feeds.parsing import (
    DroppedField,
    ParsedFeed,
    Rejection,
    load_json,
    unstorable_text,
)
from ratecard.safe_text import escaped_text
from ratecard.settings import Source
from ratecard.vocabulary import MODEL_TEXT_LIMITS, FeedKind

__all__ = ["PARSERS", "DroppedField", "FeedParser", "ParsedFeed", "Rejection", "parse_feed"]


class FeedParser(Protocol):
    """`parse(source name, document, now)`: `now` is the time of the read (what a dated
    price is in force by; formats without dated prices ignore it)."""

    def __call__(self, source: str, document: Any, now: datetime | None = None) -> ParsedFeed: ...


PARSERS: Mapping[str, FeedParser] = {
    FeedKind.LITELLM: litellm.parse,
    FeedKind.OPENROUTER: openrouter.parse,
    FeedKind.GENAI_PRICES: genai_prices.parse,
}


def parse_feed(source: Source, body: bytes, now: datetime | None = None) -> ParsedFeed:
    """Parse a feed body according to its source kind, read at `now` (default: the current
    time); raise FeedError if unusable."""
    parser = PARSERS.get(source.kind)
    if parser is None:
        raise FeedError(source.name, f"unknown feed kind {source.kind!r}")
    parsed = _storable(parser(source.name, load_json(source.name, body), now))
    if not parsed.models:
        raise FeedError(
            source.name,
            f"no usable models ({len(parsed.rejected)} rejected, {parsed.skipped} skipped)",
        )
    return parsed


def _storable(parsed: ParsedFeed) -> ParsedFeed:
    """`parsed` with every entry the database could not store, or readers could not read,
    rejected like any other bad entry.

    Timeline this prevents: one entry's id holds NUL (PostgreSQL text cannot), a lone surrogate
    (no UTF-8 encoding), or is longer than its column; the refresh's INSERT fails, the whole
    transaction rolls back and every source stops updating until the feed is fixed. A control
    character would be stored, then make the change feed's Atom document invalid XML for every
    reader. Rejected here, the entry is named (escaped) in the run's problems and the rest of
    the feed is stored. The ids of other rejections are escaped for the same reason.
    """
    rejected = [Rejection(escaped_text(r.model_id), r.reason) for r in parsed.rejected]
    dropped = [dataclasses.replace(d, model_id=escaped_text(d.model_id)) for d in parsed.dropped]
    kept: dict[str, ModelPrice] = {}
    for model_id, model in parsed.models.items():
        problem = _text_problem(model)
        if problem is None:
            kept[model_id] = model
        else:
            rejected.append(Rejection(escaped_text(model_id), problem))
    return dataclasses.replace(parsed, models=kept, rejected=rejected, dropped=dropped)


def _text_problem(model: ModelPrice) -> str | None:
    for name, limit in MODEL_TEXT_LIMITS.items():
        problem = unstorable_text(name, getattr(model, name), limit)
        if problem is not None:
            return problem
    for name, mapping in (
        ("units", model.units),
        ("variants", model.variants),
        ("uplifts", model.uplifts),
        ("rules", model.rules),
    ):
        for key, value in mapping.items():
            problem = unstorable_text(f"{name} key", key, None) or (
                unstorable_text(f"{name}.{escaped_text(key)}", value, None)
                if isinstance(value, str)
                else None
            )
            if problem is not None:
                return problem
    return None

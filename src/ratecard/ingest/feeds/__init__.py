"""Feed formats behind a registry keyed by kind: one module per format, one parse_feed.

Turning a feed body into exact ModelPrice records: the body is loaded once as JSON with
Decimals (`parsing.load_json`), then handed to the parser registered for the source's kind.
Adding a format = one module with a `parse(source_name, document) -> ParsedFeed` function,
one line in PARSERS and one FeedKind member (the settings accept exactly FEED_KINDS).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ratecard.ingest.feed_errors import FeedError
from ratecard.ingest.feeds import litellm, openrouter
from ratecard.ingest.feeds.parsing import DroppedField, ParsedFeed, Rejection, load_json
from ratecard.settings import Source
from ratecard.vocabulary import FeedKind

__all__ = ["PARSERS", "DroppedField", "FeedParser", "ParsedFeed", "Rejection", "parse_feed"]

FeedParser = Callable[[str, Any], ParsedFeed]

PARSERS: Mapping[str, FeedParser] = {
    FeedKind.LITELLM: litellm.parse,
    FeedKind.OPENROUTER: openrouter.parse,
}


def parse_feed(source: Source, body: bytes) -> ParsedFeed:
    """Parse a feed body according to its source kind; raise FeedError if unusable."""
    parser = PARSERS.get(source.kind)
    if parser is None:
        raise FeedError(source.name, f"unknown feed kind {source.kind!r}")
    parsed = parser(source.name, load_json(source.name, body))
    if not parsed.models:
        raise FeedError(
            source.name,
            f"no usable models ({len(parsed.rejected)} rejected, {parsed.skipped} skipped)",
        )
    return parsed

"""What every feed format shares: JSON loading, strict value readers, ParsedFeed, Rejection.

Every number goes from JSON text straight to Decimal (`parse_float=Decimal`; OpenRouter's
decimal strings are read verbatim), never through a binary float, so 2.9999900000000002e-06
stays exactly 0.0000029999900000000002. Whole-body problems (not JSON, HTML, truncated, wrong
shape, no usable model) raise FeedError; a bad entry (a word where a number belongs, a
negative or non-finite price, a wrong type) rejects only that entry, with its reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ratecard.prices.feed_errors import FeedError
from ratecard.prices.model import TOKEN_PRICE_FIELDS, ModelPrice, Tier
from ratecard.vocabulary import PriceStatus

# Bounds outside which a "price" is garbage rather than a price (USD per unit).
MAX_PRICE = Decimal(1_000_000)
MIN_ADJUSTED_EXPONENT = -30

_DECIMAL_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_JSON_LITERALS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")


@dataclass
class Rejection:
    """One feed entry left out, and why."""

    model_id: str
    reason: str


@dataclass
class ParsedFeed:
    """The usable models of one feed body, plus what was left out and why."""

    source: str
    models: dict[str, ModelPrice]
    rejected: list[Rejection] = field(default_factory=list)
    skipped: int = 0
    unknown_fields: int = 0
    snapshot_date: str | None = None


class EntryRejected(Exception):
    """Internal: this one entry is garbage; the reason says which field and why."""


# -- JSON ---------------------------------------------------------------------------------


def load_json(source: str, body: bytes) -> Any:
    stripped = body.lstrip()
    if not stripped:
        raise FeedError(source, "body is empty")
    if stripped[:1] == b"<":
        raise FeedError(source, "body is HTML, not JSON")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedError(source, f"body is not UTF-8 text (bad byte at {exc.start})") from None
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=Decimal)
    except json.JSONDecodeError as exc:
        if _is_truncation(text, exc):
            raise FeedError(source, f"truncated JSON at byte {len(body)}") from None
        at = len(text[: exc.pos].encode())
        raise FeedError(source, f"invalid JSON at byte {at}: {exc.msg}") from None
    except RecursionError:
        raise FeedError(source, "JSON nested too deeply") from None
    except ValueError:
        # Python refuses integers of more than 4300 digits: garbage, not a feed.
        raise FeedError(source, "invalid JSON: a number has too many digits") from None


def _is_truncation(text: str, exc: json.JSONDecodeError) -> bool:
    """Whether the parser ran out of text (the body ends early) rather than met bad text."""
    rest = text[exc.pos :].strip()
    if not rest or exc.msg.startswith("Unterminated string"):
        return True
    return any(literal.startswith(rest) and literal != rest for literal in _JSON_LITERALS)


def json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


# -- values -------------------------------------------------------------------------------


def read_price(key: str, value: Any) -> Decimal:
    """Read one price exactly; reject words, wrong types, negatives, NaN and Infinity."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise EntryRejected(f"{key}: expected a number, got {json_type(value)}")
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_TEXT.fullmatch(text):
            raise EntryRejected(f"{key}: {value[:40]!r} is not a number")
        number = Decimal(text)
    else:
        number = Decimal(value)
    if not number.is_finite():
        raise EntryRejected(f"{key}: {number} is not a finite number")
    if number < 0:
        raise EntryRejected(f"{key}: negative price {number}")
    if number == 0:
        return Decimal(0)  # one spelling of zero (not -0, 0E-7, 0.0)
    if number > MAX_PRICE:
        raise EntryRejected(f"{key}: implausible price {number} (above {MAX_PRICE})")
    if number.adjusted() < MIN_ADJUSTED_EXPONENT:
        raise EntryRejected(f"{key}: implausible price {number} (below 1e{MIN_ADJUSTED_EXPONENT})")
    return number


def read_whole_number(key: str, value: Any) -> int | None:
    """Read a token count (JSON null: absent); 2000000.0 is accepted as 2000000."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise EntryRejected(f"{key}: expected a whole number, got {json_type(value)}")
    if isinstance(value, Decimal) and not (value.is_finite() and value == value.to_integral()):
        raise EntryRejected(f"{key}: expected a whole number, got {value}")
    if value < 0:
        raise EntryRejected(f"{key}: negative count {value}")
    return int(value)


def read_text(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EntryRejected(f"{key}: expected a string, got {json_type(value)}")
    return value.strip() or None


def status_of(prices: Iterable[Decimal]) -> str:
    """free: every price given is zero; unpriced: no price given; priced otherwise."""
    values = list(prices)
    if not values:
        return PriceStatus.UNPRICED
    if all(value == 0 for value in values):
        return PriceStatus.FREE
    return PriceStatus.PRICED


def all_prices(
    token: Mapping[str, Decimal], tiers: Iterable[Tier], units: Mapping[str, Decimal]
) -> Iterator[Decimal]:
    """Yield every price a model has: per-token, per-tier and per-unit."""
    yield from token.values()
    for tier in tiers:
        for name in TOKEN_PRICE_FIELDS:
            value = getattr(tier, name)
            if value is not None:
                yield value
    yield from units.values()


def tiers_from(by_threshold: Mapping[int, Mapping[str, Decimal]]) -> tuple[Tier, ...]:
    return tuple(
        Tier(above_tokens=threshold, **dict(prices))
        for threshold, prices in sorted(by_threshold.items())
        if prices
    )


def words(text: str) -> frozenset[str]:
    """Return the whitespace-separated names in text (long name lists stay readable)."""
    return frozenset(text.split())

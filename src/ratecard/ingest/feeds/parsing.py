"""What every feed format shares: JSON loading, strict value readers, ParsedFeed, Rejection.

Every number goes from JSON text straight to Decimal (`parse_float=Decimal`; OpenRouter's
decimal strings are read verbatim), never through a binary float, so 2.9999900000000002e-06
stays exactly 0.0000029999900000000002. Whole-body problems (not JSON, HTML, truncated, wrong
shape, no usable model) raise FeedError. Nothing inside one entry can fail the feed:

- a bad per-token price (a word, a negative, NaN, non-ASCII digits, a duplicate key, a number
  of absurd size, garbage nested absurdly deep even in an ignored field) rejects the entry:
  it lands in `ParsedFeed.rejected`, and the guard keeps its last good prices served;
- a bad secondary field (a unit price, a token limit, a descriptive string) drops only that
  field: it lands in `ParsedFeed.dropped`, and the guard keeps that field's last good value.

Numbers are bounded before Python builds them: `json` would raise for the whole body on an
integer of more than 4300 digits, and on nesting deeper than the recursion limit; our hooks
turn both into per-entry markers instead (see `load_json`).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from ratecard.catalog.model import TOKEN_PRICE_FIELDS, ModelPrice, PriceSet, Tier
from ratecard.ingest.feed_errors import FeedError
from ratecard.safe_text import UNSTORABLE, escaped_text
from ratecard.vocabulary import PriceStatus

# Bounds outside which a "price" is garbage rather than a price (USD per unit).
MAX_PRICE = Decimal(1_000_000)
MIN_ADJUSTED_EXPONENT = -30

_T = TypeVar("_T")

# ASCII digits only: `\d` (and Decimal()) also accept Arabic-Indic digits (U+0663 U+0665
# reads as 35) and full-width ones (U+FF13 as 3), which no price feed means as a number.
DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
# Longest number text read (a real price is ~25 characters; 2.9999900000000002e-06 is 22).
# Longer ones are garbage, and a 5,000-digit integer would make int() raise for the whole body.
MAX_NUMBER_CHARS = 64
# Largest whole number (token counts): 10^15 tokens is far past any context window.
MAX_WHOLE_NUMBER = 10**15
# Deepest nesting read inside one entry (real entries nest 3 levels); past it, garbage.
MAX_ENTRY_DEPTH = 32
# Depth at which the fallback loader cuts a body nested too deep for `json` (see load_json).
_CUT_DEPTH = 48
_JSON_LITERALS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")


@dataclass
class Rejection:
    """One feed entry left out, and why."""

    model_id: str
    reason: str


@dataclass
class DroppedField:
    """One bad secondary field of a model that is otherwise served: the field is left out.

    `field` is the stored name (a unit such as `output_per_pixel`, or `context_window`),
    so the guard can keep that field's last good value.
    """

    model_id: str
    field: str
    reason: str


@dataclass
class ParsedFeed:
    """The usable models of one feed body, plus what was left out and why."""

    source: str
    models: dict[str, ModelPrice]
    rejected: list[Rejection] = field(default_factory=list)
    dropped: list[DroppedField] = field(default_factory=list)
    skipped: int = 0
    unknown_fields: int = 0
    snapshot_date: str | None = None
    # When the body must be parsed again even if unchanged: a dated price starts then.
    read_again_at: datetime | None = None


class EntryRejected(Exception):
    """Internal: this one entry is garbage; the reason says which field and why."""


class SecondaryFields:
    """Read secondary fields of one entry: a bad one is dropped and reported, not fatal."""

    def __init__(self, model_id: str, dropped: list[DroppedField]) -> None:
        self.model_id = model_id
        self.dropped = dropped

    def read(self, stored_name: str, read: Callable[[], _T]) -> _T | None:
        try:
            return read()
        except EntryRejected as exc:
            self.dropped.append(DroppedField(self.model_id, stored_name, str(exc)))
            return None


def fail(reason: str) -> None:
    """Reject the field being read (for SecondaryFields.read of a wrongly typed container)."""
    raise EntryRejected(reason)


# -- JSON ---------------------------------------------------------------------------------


class _Oversized:
    """A JSON number too long to be a value (built in place of it, so only its entry fails)."""

    def __init__(self, text: str) -> None:
        self.chars = len(text)


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers the keys it held more than once (json is last-wins)."""

    duplicates: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicates = []
        for key, _ in pairs:
            if key in seen and key not in duplicates:
                duplicates.append(key)
            seen.add(key)
        obj.duplicates = tuple(duplicates)
    return obj


def _json_int(text: str) -> int | _Oversized:
    return _Oversized(text) if len(text) > MAX_NUMBER_CHARS else int(text)


def _json_float(text: str) -> Decimal | _Oversized:
    return _Oversized(text) if len(text) > MAX_NUMBER_CHARS else Decimal(text)


def duplicate_keys(obj: Any) -> tuple[str, ...]:
    """Return the keys a loaded JSON object held more than once (json itself is last-wins)."""
    return tuple(getattr(obj, "duplicates", ()))


# Stands for a value cut out of a body nested too deep: a random string no feed can contain,
# so the entry holding it is rejected (see `entry_problem`) rather than read.
_TOO_DEEP = f"ratecard-nested-too-deep-{secrets.token_hex(8)}"
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


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
        try:
            return _decode(text)
        except RecursionError:
            # One entry nested thousands deep must not fail the feed: cut every value below
            # _CUT_DEPTH out and parse again; the entries that held one are rejected.
            return _decode(_cut_deep_values(text))
    except json.JSONDecodeError as exc:
        if _is_truncation(text, exc):
            raise FeedError(source, f"truncated JSON at byte {len(body)}") from None
        at = len(text[: exc.pos].encode())
        raise FeedError(source, f"invalid JSON at byte {at}: {exc.msg}") from None
    except RecursionError:
        raise FeedError(source, "JSON nested too deeply") from None


def _decode(text: str) -> Any:
    return json.loads(
        text,
        parse_float=_json_float,
        parse_int=_json_int,
        parse_constant=Decimal,
        object_pairs_hook=_json_object,
    )


def _cut_deep_values(text: str) -> str:
    """Replace each value that starts deeper than _CUT_DEPTH with the _TOO_DEEP marker."""
    out: list[str] = []
    depth = 0
    kept_until = 0
    cut_from: int | None = None
    for token in _JSON_TOKEN.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth == _CUT_DEPTH + 1 and cut_from is None:
                cut_from = token.start()
        elif char in "]}":
            depth -= 1
            if depth == _CUT_DEPTH and cut_from is not None:
                out.append(text[kept_until:cut_from])
                out.append(json.dumps(_TOO_DEEP))
                kept_until = token.end()
                cut_from = None
    out.append(text[kept_until:])
    return "".join(out)


def entry_problem(value: Any, path: str = "", depth: int = 0) -> str | None:
    """Return why an entry cannot be read whole (duplicate key, oversized number, too deep)."""
    if depth > MAX_ENTRY_DEPTH or (isinstance(value, str) and value == _TOO_DEEP):
        return f"{path or 'entry'}: nested more than {MAX_ENTRY_DEPTH} levels deep"
    if isinstance(value, _Oversized):
        return f"{path}: a number of {value.chars} characters (limit {MAX_NUMBER_CHARS})"
    if isinstance(value, dict):
        duplicates = duplicate_keys(value)
        if duplicates:
            where = f"{path}." if path else ""
            return f"duplicate key {where}{duplicates[0]} (the feed is ambiguous)"
        for key, item in value.items():
            problem = entry_problem(item, f"{path}.{key}" if path else key, depth + 1)
            if problem is not None:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = entry_problem(item, f"{path}[{index}]", depth + 1)
            if problem is not None:
                return problem
    return None


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
        if len(text) > MAX_NUMBER_CHARS or not DECIMAL_TEXT.fullmatch(text):
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
    if value > MAX_WHOLE_NUMBER:
        raise EntryRejected(f"{key}: implausible count {value} (above {MAX_WHOLE_NUMBER})")
    return int(value)


def read_text(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EntryRejected(f"{key}: expected a string, got {json_type(value)}")
    return value.strip() or None


def unstorable_text(name: str, value: str | None, limit: int | None) -> str | None:
    """Why `value` (the field `name`) cannot be stored and served as text, or None."""
    if value is None:
        return None
    if limit is not None and len(value) > limit:
        return f"{name}: {len(value)} characters (limit {limit})"
    found = UNSTORABLE.search(value)
    if found is not None:
        return (
            f"{name}: holds {escaped_text(found.group())} (a control character or a lone surrogate)"
        )
    return None


def status_of(prices: Iterable[Decimal]) -> str:
    """free: every price given is zero; unpriced: no price given; priced otherwise."""
    values = list(prices)
    if not values:
        return PriceStatus.UNPRICED
    if all(value == 0 for value in values):
        return PriceStatus.FREE
    return PriceStatus.PRICED


def tiers_from(by_threshold: Mapping[int, Mapping[str, Decimal]]) -> tuple[Tier, ...]:
    """Tiers from {threshold: {name: price}}: token attributes go to the Tier's fields, every
    other name (a ModelPrice.units name) to its `units`."""
    return tuple(
        Tier(
            above_tokens=threshold,
            **{k: v for k, v in prices.items() if k in TOKEN_PRICE_FIELDS},
            units={k: v for k, v in sorted(prices.items()) if k not in TOKEN_PRICE_FIELDS},
        )
        for threshold, prices in sorted(by_threshold.items())
        if prices
    )


@dataclass
class PriceSetParts:
    """What a feed states for one price set (the standard prices or a variant), as read."""

    token: dict[str, Decimal] = field(default_factory=dict)  # ModelPrice token attributes
    units: dict[str, Decimal] = field(default_factory=dict)
    by_threshold: dict[int, dict[str, Decimal]] = field(default_factory=dict)

    def put(self, name: str, value: Decimal, threshold: int | None = None) -> None:
        if threshold is not None:
            self.by_threshold.setdefault(threshold, {})[name] = value
        elif name in TOKEN_PRICE_FIELDS:
            self.token[name] = value
        else:
            self.units[name] = value

    def __bool__(self) -> bool:
        return bool(self.token or self.units or self.by_threshold)

    def price_set(self) -> PriceSet:
        return PriceSet(
            **self.token,
            tiers=tiers_from(self.by_threshold),
            units=dict(sorted(self.units.items())),
        )

    def model_fields(self) -> Any:
        """The standard prices as ModelPrice keyword arguments (token fields, tiers, units)."""
        built = self.price_set()
        return {
            **{name: getattr(built, name) for name in TOKEN_PRICE_FIELDS},
            "tiers": built.tiers,
            "units": built.units,
        }

    def prices(self) -> Iterator[Decimal]:
        yield from self.token.values()
        yield from self.units.values()
        for prices in self.by_threshold.values():
            yield from prices.values()


def words(text: str) -> frozenset[str]:
    """Return the whitespace-separated names in text (long name lists stay readable)."""
    return frozenset(text.split())

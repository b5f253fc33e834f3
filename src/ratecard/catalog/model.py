"""The normalized price record every source is turned into (exact Decimals, never floats).

This is the contract between ingestion (fetch -> feeds -> guard) and storage/serving (store,
cache, API, cost). `PRICE_FIELDS` declares each price dimension once: every conversion (rows,
JSON snapshots, catalog items, API output, cost components) iterates it, in `prices.codec`.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from ratecard.catalog.match_clauses import AnswersTo
from ratecard.catalog.money import decimal_text
from ratecard.vocabulary import PriceStatus

__all__ = [
    "DESCRIPTIVE_FIELDS",
    "PRICE_FIELDS",
    "STATUSES",
    "TOKEN_PRICE_FIELDS",
    "DatedPrices",
    "ModelPrice",
    "PriceField",
    "PriceSet",
    "PriceStatusText",
    "Tier",
    "TimeWindow",
    "assembled",
    "dated_in_force",
    "decimal_text",
]

STATUSES: tuple[PriceStatus, ...] = tuple(PriceStatus)
# The static type of a model's status: plain str, because statuses arrive as strings (rows,
# JSON snapshots, Redis blobs) and PriceStatus members are strs equal to them.
PriceStatusText = str


@dataclass(frozen=True)
class PriceField:
    """One price dimension, declared once; `prices.codec` converts every one the same way.

    `name` is the attribute of ModelPrice (and of Tier when `tiered`), the `models` column,
    and the key in JSON snapshots and catalog items; `api_name` is its key under the API's
    `prices` and its cost component; `unit` is what one unit of it is.
    """

    name: str
    api_name: str
    unit: str
    tiered: bool = True

    @property
    def label(self) -> str:
        """How people read it: "cache read"."""
        return self.api_name.replace("_", " ")


# Adding a dimension: one line here, the attribute below (ModelPrice, and Tier if tiered), the
# column if it is stored in one, and the feed modules' parsing. Order = order everywhere.
PRICE_FIELDS: tuple[PriceField, ...] = (
    PriceField("input_per_token", "input", "token"),
    PriceField("output_per_token", "output", "token"),
    PriceField("cache_read_per_token", "cache_read", "token"),
    PriceField("cache_write_per_token", "cache_write", "token"),
)
TOKEN_PRICE_FIELDS: tuple[str, ...] = tuple(f.name for f in PRICE_FIELDS if f.unit == "token")
TIERED_FIELDS: tuple[PriceField, ...] = tuple(f for f in PRICE_FIELDS if f.tiered)
# What describes a model rather than prices it (not part of a snapshot; kept as served).
DESCRIPTIVE_FIELDS = ("provider", "mode", "context_window", "max_output_tokens", "alias_target")


@dataclass(frozen=True)
class Tier:
    """Prices that replace the base ones when the prompt passes `above_tokens`.

    "Passes" is `prompt > above_tokens`, or `>=` where the model's rules say the threshold is
    inclusive (xAI, OpenRouter's `min_prompt_tokens`). `units` holds the tier's other prices
    (1-hour cache writes, per-character, reasoning...) under the names of ModelPrice.units.
    """

    above_tokens: int
    input_per_token: Decimal | None = None
    output_per_token: Decimal | None = None
    cache_read_per_token: Decimal | None = None
    cache_write_per_token: Decimal | None = None
    units: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class PriceSet:
    """The prices of one variant of a model: a service tier (batch, flex, priority) or a time
    window. Only what the source states for the variant; the rest falls back to the standard
    prices (how, per price, is the cost engine's business: `prices.cost`)."""

    input_per_token: Decimal | None = None
    output_per_token: Decimal | None = None
    cache_read_per_token: Decimal | None = None
    cache_write_per_token: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    units: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class TimeWindow:
    """Prices in force from `utc_start` (inclusive) to `utc_end` (exclusive), HHMM in UTC,
    wrapping past midnight when end < start (OpenRouter's `pricing.overrides` by time of day)."""

    utc_start: int
    utc_end: int
    prices: PriceSet

    @property
    def label(self) -> str:
        return f"{self.utc_start:04d}-{self.utc_end:04d}"

    def contains(self, hhmm: int) -> bool:
        if self.utc_start <= self.utc_end:
            return self.utc_start <= hhmm < self.utc_end
        return hhmm >= self.utc_start or hhmm < self.utc_end


@dataclass(frozen=True)
class DatedPrices:
    """One entry of a source's dated price list (genai-prices' `constraint.start_date`): the
    standard prices in force from `starts` (UTC; None: the entry before every dated one) until
    the next entry starts.

    `scheduled`: its start was still ahead when the source was read (the served prices are an
    earlier entry's). When a later read finds it started, it is served and the flag clears, so
    the change is logged then, once, like any other.
    """

    starts: datetime | None
    prices: PriceSet
    scheduled: bool = False


@dataclass(frozen=True)
class ModelPrice:
    """One model of one source, normalized. Prices are USD per unit (token, request, ...)."""

    source: str
    model_id: str
    status: PriceStatusText  # a PriceStatus value
    provider: str | None = None
    mode: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    input_per_token: Decimal | None = None
    output_per_token: Decimal | None = None
    cache_read_per_token: Decimal | None = None
    cache_write_per_token: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    # Other priced units the source gives: per_request, per_image, per_second, web_search...
    units: Mapping[str, Decimal] = field(default_factory=dict)
    # OpenRouter's `~maker/x-latest` aliases name the model they stand for today (its slug).
    alias_target: str | None = None
    # Service-tier variants by ServiceTier value (batch, flex, priority): what the source
    # states for each; the standard prices above fill the rest (see prices.cost).
    variants: Mapping[str, PriceSet] = field(default_factory=dict)
    # Time-of-day prices that replace the standard ones inside their window.
    windows: tuple[TimeWindow, ...] = ()
    # Multipliers on the whole cost by the condition a request or body names: a region (data
    # residency: {"eu": 1.1}, Anthropic's inference_geo "us") or a speed (Anthropic's "fast").
    uplifts: Mapping[str, Decimal] = field(default_factory=dict)
    # How the source's prices are applied, where it differs by provider (PricingRule names):
    # {"threshold": "inclusive"}, {"tiers": "bands"}, {"reasoning": "output"},
    # {"batch": "half"}, {"web_search_billing_unit": "per_query"}.
    rules: Mapping[str, str] = field(default_factory=dict)
    # A dated price list, oldest first, when the source states one: the standard prices above
    # are the entry in force when the source was read; a cost at another time uses the entry
    # in force then (`dated_in_force`).
    dated: tuple[DatedPrices, ...] = ()
    # The ids the model answers to in its source (genai-prices' `match` clauses), where the
    # source says: what resolves a typed id to it (`ModelIndex.resolve`, rule "match").
    answers_to: AnswersTo | None = None

    def same_prices(self, other: ModelPrice) -> bool:
        """Whether the served prices are identical (descriptive fields ignored).

        Decimals compare by value (1.0 == 1.00), as their snapshot text does.
        """
        return (
            self.status == other.status
            and all(getattr(self, f.name) == getattr(other, f.name) for f in PRICE_FIELDS)
            and self.tiers == other.tiers
            and dict(self.units) == dict(other.units)
            and dict(self.variants) == dict(other.variants)
            and self.windows == other.windows
            and dict(self.uplifts) == dict(other.uplifts)
            and dict(self.rules) == dict(other.rules)
            and self.dated == other.dated
        )

    def standard_prices(self) -> PriceSet:
        """The standard prices as a PriceSet (what a dated entry states)."""
        return PriceSet(
            **{f.name: getattr(self, f.name) for f in PRICE_FIELDS},
            tiers=self.tiers,
            units=self.units,
        )


Record = TypeVar("Record")


def assembled(cls: type[Record], values: dict[str, Any]) -> Record:
    """What `cls(**values)` builds, for a frozen dataclass `cls` without `__post_init__` and a
    `values` that names every one of its fields, without running its `__init__`.

    Why: a frozen dataclass's `__init__` sets each field through `object.__setattr__`. For the
    ~3,000 models of a catalog, building the objects took 24 ms instead of 14 ms, in the
    master on every start, before any worker can answer (ModelPrice has 22 fields).
    Filling the instance's `__dict__` at once gives the same object. The callers' tests
    compare what they build with `cls(**values)` field by field, which also catches a field
    they leave out."""
    instance = object.__new__(cls)
    instance.__dict__.update(values)
    return instance


def dated_entry_at(dated: tuple[DatedPrices, ...], at: datetime) -> int:
    """The index of the entry in force at `at`: the last one started by then; before every
    start, the first (genai-prices' own rule: its list is tried last to first and falls back
    to the first). A naive `at` is UTC."""
    when = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    chosen = 0
    for index, entry in enumerate(dated):
        if entry.starts is not None and entry.starts <= when:
            chosen = index
    return chosen


def forget_when_freed(memo: dict[int, Any], ident: int) -> Callable[[object], None]:
    """A weakref callback that drops `ident` from `memo` (a memo keyed by the id of a model).

    It holds `memo` itself: a model freed at interpreter exit runs its callback after the
    module's globals are gone (None), and one that looked the memo up by name printed
    "Exception ignored ... 'NoneType' object has no attribute 'pop'" at every exit."""

    def forget(_gone: object) -> None:
        memo.pop(ident, None)

    return forget


def dated_in_force(model: ModelPrice, at: datetime | None) -> ModelPrice:
    """`model` with the standard prices of its dated entry in force at `at` (UTC, default
    now): `model` itself when it has no dated list or that entry is the one it serves.

    Why at pricing time and not only when the feed is read: a start passes at midnight, the
    next refresh runs hours later (or finds the file unchanged); a cost in between is billed
    at the provider's new price, so the time of the request decides, not the time of the read.
    The model built for an entry is kept with `model` (weakly, as the cost engine's own
    per-model memo), so a batch of a million lines builds it once.
    """
    if not model.dated:
        return model
    index = dated_entry_at(model.dated, at or datetime.now(UTC))
    memo = _DATED.get(id(model))
    if memo is None or memo[0]() is not model:
        ident = id(model)
        memo = (weakref.ref(model, forget_when_freed(_DATED, ident)), {})
        _DATED[ident] = memo
    found = memo[1].get(index)
    if found is None:
        entry = model.dated[index].prices
        found = (
            model
            if entry == model.standard_prices()
            else dataclasses.replace(
                model,
                **{f.name: getattr(entry, f.name) for f in PRICE_FIELDS},
                tiers=entry.tiers,
                units=entry.units,
            )
        )
        memo[1][index] = found
    return found


_DATED: dict[int, tuple[weakref.ref[ModelPrice], dict[int, ModelPrice]]] = {}

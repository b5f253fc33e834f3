"""Price books: negotiated or resale prices over the catalog's list prices, as rules.

A book is a description, an optional `base` book it applies on top of, what to do with a price
no rule covers (`unmatched`: keep the list price, or refuse the request), and rules tried in
order. For each price of a model, the first rule that
- matches the model (`{"model": id}` the served id after resolution, `{"provider": p}`,
  `{"pattern": glob}` on the served id, `{}` every model),
- covers that price (a `set` rule the prices it sets; a `multiply` rule those in its `prices`
  list, or every price when it has none),
- and is in force at the request's time (`from` <= at < `until`)
applies: `multiply` scales the list price exactly, `set` replaces it. A rule names base price
names (`input_per_token`, `cache_read_per_token`, `per_request`...) and applies to every form
of them: the standard price, each long-context tier's, each service tier's and each time
window's (the dated price in force at the request's time is taken first). A chain (a book on
its base, on its base...) applies the deepest base first.

Pure functions: `parse_book` validates a book as a user writes it (each problem a
ValidationFailed naming the rule and field), `book_prices` applies a chain to one model at one
instant and says, per price name, which rule of which book set it and which books refused it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ratecard.catalog.model import (
    PRICE_FIELDS,
    ModelPrice,
    PriceSet,
    Tier,
    TimeWindow,
    dated_in_force,
)
from ratecard.catalog.money import EXACT, decimal_text
from ratecard.costing.cost import BILLED_PRICES
from ratecard.costing.cost_requests import CostRequest, ModelAt, answer_cost
from ratecard.errors import RatecardError, ValidationFailed
from ratecard.timetext import instant_text

__all__ = [
    "BOOK_NAME",
    "BOOK_NAME_PATTERN",
    "DECIMAL_PATTERN",
    "INSTANT_PATTERN",
    "AppliedRule",
    "BookAccess",
    "BookPricing",
    "PriceBook",
    "Rule",
    "answer_with_books",
    "base_price_name",
    "book_prices",
    "parse_book",
]

# A book's name: what its URL and `price_book` carry.
# The texts a book is written in, as patterns the OpenAPI document states too (book_schemas).
BOOK_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# A decimal as people write one: digits, one optional point, no sign, exponent or space.
DECIMAL_PATTERN = r"^[0-9]{1,30}(\.[0-9]{1,30})?$"
INSTANT_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
BOOK_NAME = re.compile(BOOK_NAME_PATTERN, re.ASCII)
MAX_MULTIPLIER = Decimal(1000)
_BOOK_KEYS = frozenset({"description", "base", "unmatched", "public", "rules"})
_RULE_KEYS = frozenset({"match", "set", "multiply", "prices", "from", "until"})
_MATCH_KEYS = frozenset({"model", "provider", "pattern"})
_TOKEN_FIELDS = frozenset(f.name for f in PRICE_FIELDS)
_DECIMAL = re.compile(DECIMAL_PATTERN, re.ASCII)
_INSTANT = re.compile(INSTANT_PATTERN, re.ASCII)


@dataclass(frozen=True)
class Rule:
    """One rule of a book (`index`: its place in the book's list, from 0)."""

    index: int
    model: str | None = None
    provider: str | None = None
    pattern: str | None = None
    sets: Mapping[str, Decimal] = field(default_factory=dict)
    multiply: Decimal | None = None
    prices: frozenset[str] | None = None  # what a multiply rule covers (None: every price)
    starts: datetime | None = None
    ends: datetime | None = None
    _glob: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, model: ModelPrice) -> bool:
        if self.model is not None and model.model_id != self.model:
            return False
        if self.provider is not None and (model.provider or "").lower() != self.provider.lower():
            return False
        return self._glob is None or self._glob.fullmatch(model.model_id) is not None

    def covers(self, name: str) -> bool:
        if self.multiply is None:
            return name in self.sets
        return self.prices is None or name in self.prices

    def in_force(self, at: datetime) -> bool:
        return (self.starts is None or self.starts <= at) and (self.ends is None or at < self.ends)


@dataclass(frozen=True)
class PriceBook:
    """One version of a book, validated (`content`: the book as stored, exact text)."""

    name: str
    version: int
    description: str
    base: str | None
    unmatched: str  # "list" | "refuse"
    public: bool
    rules: tuple[Rule, ...]
    content: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class BookAccess:
    """Who asks for a book: the admin, or someone holding a key (None: no credentials)."""

    admin: bool
    key: str | None = None


@dataclass(frozen=True)
class AppliedRule:
    """The rule that set a price: its book, the book's version and its place in the book."""

    book: str
    version: int
    rule: int

    def to_json(self) -> dict[str, Any]:
        return {"book": self.book, "version": self.version, "rule": self.rule}


@dataclass(frozen=True)
class BookPricing:
    """A model's prices under a chain of books at one instant: the list prices (the dated
    entry in force taken), the book's, which rule set each price name (the last book of the
    chain that covered it) and, per book that refuses unmatched prices, the names none of its
    rules covered."""

    listed: ModelPrice
    priced: ModelPrice
    applied: Mapping[str, AppliedRule]
    refused: Mapping[str, frozenset[str]]  # book name -> price names it has no rule for


def book_prices(model: ModelPrice, chain: Sequence[PriceBook], at: datetime) -> BookPricing:
    """`model`'s prices at `at` under `chain` (the deepest base first, the book asked last)."""
    listed = dated_in_force(model, at)
    current = replace(listed, dated=())
    applied: dict[str, AppliedRule] = {}
    refused: dict[str, frozenset[str]] = {}
    for book in chain:
        rules = [r for r in book.rules if r.in_force(at) and r.matches(model)]
        covered: set[str] = set()
        current = _with_prices(current, _adjuster(book, rules, applied, covered))
        # A `set` rule states a price the list lacks: it is the book's price all the same.
        current = _added(current, rules, book, applied, covered)
        if book.unmatched == "refuse":
            refused[book.name] = frozenset(_names(current) - covered)
    return BookPricing(listed, current, applied, refused)


def _adjuster(
    book: PriceBook, rules: list[Rule], applied: dict[str, AppliedRule], covered: set[str]
) -> Adjust:
    """The price of name and list value under `book`'s rules in force (`rules`), noting the
    rule that set it."""

    def adjusted(name: str, value: Decimal) -> Decimal:
        rule = next((r for r in rules if r.covers(name)), None)
        if rule is None:
            return value
        covered.add(name)
        applied[name] = AppliedRule(book.name, book.version, rule.index)
        if rule.multiply is None:
            return rule.sets[name]
        return EXACT.multiply(value, rule.multiply)

    return adjusted


def answer_with_books(
    request: CostRequest, model: ModelAt, chain: Sequence[PriceBook], now: datetime
) -> dict[str, Any]:
    """The API's answer to `request` priced under `chain`: the cost answer at the book's
    prices, each component with its `list_price` and the `rule` that set its price (null: at
    list), and the book and version. A component whose price a refusing book has no rule for
    is a 422 naming the model and the price."""
    at = request.at or now
    pricing = book_prices(model.price, chain, at)
    answer: dict[str, Any] = answer_cost(request, replace(model, price=pricing.priced), now=now)
    try:
        listed = answer_cost(request, replace(model, price=pricing.listed), now=now)["components"]
    except RatecardError:
        listed = []  # a price the list lacks and a `set` rule gives: no list price to show
    list_of = {c["name"]: c["price"] for c in listed}
    for component in answer["components"]:
        base = base_price_name(component["price_name"])
        for book_name, names in pricing.refused.items():
            if base in names:
                raise ValidationFailed(
                    f"{component['name']}: price book {book_name!r} has no rule for "
                    f"{base} of {model.price.model_id!r} (its unmatched prices are refused)",
                    field=component["name"],
                    price=base,
                    model=model.price.model_id,
                )
        component["list_price"] = list_of.get(component["name"])
        applied = pricing.applied.get(base) if base is not None else None
        component["rule"] = applied.to_json() if applied is not None else None
    book = chain[-1]
    answer["price_book"] = {
        "name": book.name,
        "version": book.version,
        "bases": [{"name": b.name, "version": b.version} for b in chain[:-1]],
    }
    return answer


def base_price_name(price_name: str) -> str | None:
    """The base price name a component was billed at (`variants.batch.input_per_token`,
    `tiers[>200000].input_per_token`, `output_per_token/2` -> its base name; an uplift: None)."""
    if price_name.startswith("uplifts."):
        return None
    return price_name.rsplit(".", 1)[-1].removesuffix("/2")


Adjust = Callable[[str, Decimal], Decimal]


def _set_of(holder: PriceSet | Tier | ModelPrice, adjust: Adjust) -> dict[str, Any]:
    """The adjusted token prices and units of `holder` as `replace` arguments."""
    out: dict[str, Any] = {}
    for f in PRICE_FIELDS:
        value = getattr(holder, f.name)
        if value is not None:
            out[f.name] = adjust(f.name, value)
    out["units"] = {k: adjust(k, v) for k, v in holder.units.items()}
    return out


def _tiers(tiers: tuple[Tier, ...], adjust: Adjust) -> tuple[Tier, ...]:
    return tuple(replace(t, **_set_of(t, adjust)) for t in tiers)


def _price_set(prices: PriceSet, adjust: Adjust) -> PriceSet:
    return replace(prices, **_set_of(prices, adjust), tiers=_tiers(prices.tiers, adjust))


def _with_prices(model: ModelPrice, adjust: Adjust) -> ModelPrice:
    """`model` with every form of every price passed through `adjust`."""
    return replace(
        model,
        **_set_of(model, adjust),
        tiers=_tiers(model.tiers, adjust),
        variants={k: _price_set(v, adjust) for k, v in model.variants.items()},
        windows=tuple(
            TimeWindow(w.utc_start, w.utc_end, _price_set(w.prices, adjust)) for w in model.windows
        ),
    )


def _added(
    model: ModelPrice,
    rules: list[Rule],
    book: PriceBook,
    applied: dict[str, AppliedRule],
    covered: set[str],
) -> ModelPrice:
    missing: dict[str, Decimal] = {}
    for rule in rules:
        for name, value in rule.sets.items():
            stated = getattr(model, name) if name in _TOKEN_FIELDS else model.units.get(name)
            if stated is None and name not in missing:
                # The first rule covering it decides, as for a stated price.
                first = next(r for r in rules if r.covers(name))
                if first is rule:
                    missing[name] = value
                    covered.add(name)
                    applied[name] = AppliedRule(book.name, book.version, rule.index)
    if not missing:
        return model
    tokens: dict[str, Any] = {k: v for k, v in missing.items() if k in _TOKEN_FIELDS}
    units = {**model.units, **{k: v for k, v in missing.items() if k not in _TOKEN_FIELDS}}
    return replace(model, **tokens, units=units)


def _names(model: ModelPrice) -> set[str]:
    """Every base price name `model` states in any form."""
    names: set[str] = set()

    def collect(holder: PriceSet | Tier | ModelPrice) -> None:
        names.update(f.name for f in PRICE_FIELDS if getattr(holder, f.name) is not None)
        names.update(holder.units)

    collect(model)
    for tier in model.tiers:
        collect(tier)
    for prices in [*model.variants.values(), *(w.prices for w in model.windows)]:
        collect(prices)
        for tier in prices.tiers:
            collect(tier)
    return names


# --- validation --------------------------------------------------------------------------------


def parse_book(name: str, data: Any, *, version: int = 0, max_rules: int = 10_000) -> PriceBook:
    """Validate a book as a user writes it; a problem is a ValidationFailed naming its field
    (`rules[2].multiply`). Decimals are read from their text (strings; JSON numbers only when
    whole), so a price is what was written, digit for digit."""
    if not BOOK_NAME.fullmatch(name):
        raise ValidationFailed(
            "name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            field="name",
        )
    if not isinstance(data, dict):
        raise ValidationFailed("body: a price book is a JSON object", field="body")
    unknown = sorted(str(k) for k in data if k not in _BOOK_KEYS)
    if unknown:
        raise ValidationFailed(f"{unknown[0]}: not a price book field", field=unknown[0])
    description = data.get("description") or ""
    if not isinstance(description, str) or len(description) > 1000:
        raise ValidationFailed("description: text of at most 1,000 characters", field="description")
    base = data.get("base")
    if base is not None and (not isinstance(base, str) or not BOOK_NAME.fullmatch(base)):
        raise ValidationFailed("base: the name of another price book, or null", field="base")
    if base == name:
        raise ValidationFailed("base: a book cannot be its own base", field="base")
    unmatched = data.get("unmatched", "list")
    if unmatched not in ("list", "refuse"):
        raise ValidationFailed("unmatched: 'list' or 'refuse'", field="unmatched")
    public = data.get("public", False)
    if not isinstance(public, bool):
        raise ValidationFailed("public: true or false", field="public")
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ValidationFailed("rules: a list of rules", field="rules")
    if len(raw_rules) > max_rules:
        raise ValidationFailed(
            f"rules: at most {max_rules:,} rules (RATECARD_PRICE_BOOK_MAX_RULES)", field="rules"
        )
    rules = tuple(_rule(i, r) for i, r in enumerate(raw_rules))
    content = {
        "description": description,
        "base": base,
        "unmatched": unmatched,
        "public": public,
        "rules": [_rule_json(r) for r in rules],
    }
    return PriceBook(name, version, description, base, unmatched, public, rules, content)


def _rule(index: int, data: Any) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(data, dict):
        raise ValidationFailed(f"{where}: a rule is a JSON object", field=where)
    unknown = sorted(str(k) for k in data if k not in _RULE_KEYS)
    if unknown:
        raise ValidationFailed(
            f"{where}.{unknown[0]}: not a rule field", field=f"{where}.{unknown[0]}"
        )
    match = data.get("match", {})
    if not isinstance(match, dict) or not set(match) <= _MATCH_KEYS:
        raise ValidationFailed(
            f"{where}.match: an object of model, provider and/or pattern ({{}}: every model)",
            field=f"{where}.match",
        )
    for key, value in match.items():
        if not isinstance(value, str) or not value or len(value) > 512:
            raise ValidationFailed(
                f"{where}.match.{key}: a non-empty string", field=f"{where}.match.{key}"
            )
    pattern = match.get("pattern")
    glob = _glob(f"{where}.match.pattern", pattern) if pattern is not None else None
    has_set, has_multiply = "set" in data, "multiply" in data
    if has_set == has_multiply:
        raise ValidationFailed(
            f"{where}: give one of `set` (prices) or `multiply` (a factor)", field=where
        )
    sets: dict[str, Decimal] = {}
    multiply: Decimal | None = None
    prices: frozenset[str] | None = None
    if has_set:
        if "prices" in data:
            raise ValidationFailed(
                f"{where}.prices: only with `multiply` (a `set` rule covers what it sets)",
                field=f"{where}.prices",
            )
        given = data["set"]
        if not isinstance(given, dict) or not given:
            raise ValidationFailed(
                f"{where}.set: an object of price names and prices", field=f"{where}.set"
            )
        for key, value in given.items():
            _known(f"{where}.set.{key}", key)
            sets[key] = _decimal(f"{where}.set.{key}", value, "a non-negative decimal price")
    else:
        multiply = _decimal(f"{where}.multiply", data["multiply"], "a positive decimal <= 1000")
        if not 0 < multiply <= MAX_MULTIPLIER:
            raise ValidationFailed(
                f"{where}.multiply: a positive decimal <= 1000", field=f"{where}.multiply"
            )
        if "prices" in data:
            listed = data["prices"]
            if not isinstance(listed, list) or not listed:
                raise ValidationFailed(
                    f"{where}.prices: a non-empty list of price names", field=f"{where}.prices"
                )
            for i, key in enumerate(listed):
                _known(f"{where}.prices[{i}]", key)
            prices = frozenset(listed)
    starts = _instant(f"{where}.from", data.get("from"))
    ends = _instant(f"{where}.until", data.get("until"))
    if starts is not None and ends is not None and starts >= ends:
        raise ValidationFailed(f"{where}.until: must be later than `from`", field=f"{where}.until")
    return Rule(
        index,
        match.get("model"),
        match.get("provider"),
        pattern,
        sets,
        multiply,
        prices,
        starts,
        ends,
        glob,
    )


def _known(where: str, name: Any) -> None:
    if not isinstance(name, str) or name not in BILLED_PRICES:
        raise ValidationFailed(
            f"{where}: not a price name (one of {', '.join(sorted(BILLED_PRICES)[:6])}, ...; "
            "see GET /api/models/<id>)",
            field=where,
        )


def _decimal(where: str, value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValidationFailed(f'{where}: {what}, as a string ("0.85")', field=where)
    text = str(value)
    if not _DECIMAL.fullmatch(text):
        raise ValidationFailed(f"{where}: {what}, got {text[:40]!r}", field=where)
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValidationFailed(f"{where}: {what}", field=where) from None


def _instant(where: str, value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str) or not _INSTANT.fullmatch(value):
            raise ValueError(value)
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            f"{where}: an RFC 3339 time with an offset (2026-06-01T00:00:00Z)", field=where
        ) from None


def _glob(where: str, pattern: str) -> re.Pattern[str]:
    """A shell glob on the served id (`*`, `?`, `[...]`), compiled once."""
    if pattern.count("[") != pattern.count("]") or any(ord(c) < 32 for c in pattern):
        raise ValidationFailed(f"{where}: a glob with balanced brackets (claude-*)", field=where)
    try:
        return re.compile(fnmatch.translate(pattern))
    except re.error as exc:
        raise ValidationFailed(f"{where}: not a glob ({exc})", field=where) from None


def _rule_json(rule: Rule) -> dict[str, Any]:
    """A rule as stored and shown: only what it states, decimals as exact text."""
    match = {
        k: v
        for k, v in (("model", rule.model), ("provider", rule.provider), ("pattern", rule.pattern))
        if v is not None
    }
    out: dict[str, Any] = {"match": match}
    if rule.multiply is None:
        out["set"] = {k: decimal_text(v) for k, v in rule.sets.items()}
    else:
        out["multiply"] = decimal_text(rule.multiply)
        if rule.prices is not None:
            out["prices"] = sorted(rule.prices)
    if rule.starts is not None:
        out["from"] = instant_text(rule.starts)
    if rule.ends is not None:
        out["until"] = instant_text(rule.ends)
    return out

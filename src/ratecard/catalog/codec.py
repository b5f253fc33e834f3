"""The one place a model's prices are converted: rows, JSON snapshots, catalog items, API output.

Each conversion iterates `model.PRICE_FIELDS`, so a new price dimension is declared there and
every form below carries it. The forms, and the exact shapes they must keep:
- row: the `models` columns (Decimals; tiers and units as their JSON snapshot form);
- snapshot: what history rows and held changes store, every price a decimal string, so it
  round-trips exactly;
- item: one model of the catalog data the cache holds and Redis publishes (a snapshot's
  prices plus the descriptive fields and two times);
- API: what GET /api/models shows (prices per token and per million);
- flat prices: every price of a snapshot under one flat name, for the moves held changes list.
Imports stay light (no SQLAlchemy, no pydantic): the catalog cache is on create_app's path.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

import orjson

from ratecard.catalog.match_clauses import AnswersTo
from ratecard.catalog.model import (
    DESCRIPTIVE_FIELDS,
    PRICE_FIELDS,
    TIERED_FIELDS,
    DatedPrices,
    ModelPrice,
    PriceSet,
    Tier,
    TimeWindow,
    assembled,
)
from ratecard.catalog.money import decimal_text, per_million
from ratecard.timetext import instant_text


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def _prices_from_json(data: Mapping[str, Any]) -> Any:
    """The per-token prices of a snapshot or item, as ModelPrice keyword arguments."""
    return {f.name: _decimal(data.get(f.name)) for f in PRICE_FIELDS}


def units_to_json(units: Mapping[str, Decimal]) -> dict[str, str]:
    """Other priced units as JSON: sorted by name, exact decimal strings."""
    return {k: decimal_text(v) for k, v in sorted(units.items())}


def units_from_json(data: Mapping[str, Any] | None) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in (data or {}).items()}


# --- tiers -----------------------------------------------------------------------------------


def tier_to_snapshot(tier: Tier) -> dict[str, Any]:
    """A tier as JSON: its threshold, then only the prices it sets (`units` when it has any)."""
    out: dict[str, Any] = {"above_tokens": tier.above_tokens}
    for f in TIERED_FIELDS:
        value = getattr(tier, f.name)
        if value is not None:
            out[f.name] = decimal_text(value)
    if tier.units:
        out["units"] = units_to_json(tier.units)
    return out


def tier_from_snapshot(data: Mapping[str, Any]) -> Tier:
    return Tier(
        above_tokens=int(data["above_tokens"]),
        **{f.name: Decimal(data[f.name]) for f in TIERED_FIELDS if data.get(f.name) is not None},
        units=units_from_json(data.get("units")),
    )


# --- variants, windows, uplifts, rules: the `pricing` JSON -----------------------------------


def price_set_to_json(prices: PriceSet) -> dict[str, Any]:
    """A variant's prices as JSON: only what it states."""
    out: dict[str, Any] = {
        f.name: decimal_text(getattr(prices, f.name))
        for f in PRICE_FIELDS
        if getattr(prices, f.name) is not None
    }
    if prices.tiers:
        out["tiers"] = [tier_to_snapshot(tier) for tier in prices.tiers]
    if prices.units:
        out["units"] = units_to_json(prices.units)
    return out


def price_set_from_json(data: Mapping[str, Any]) -> PriceSet:
    return PriceSet(
        **{f.name: Decimal(data[f.name]) for f in PRICE_FIELDS if data.get(f.name) is not None},
        tiers=tiers_from_json(data.get("tiers")),
        units=units_from_json(data.get("units")),
    )


def pricing_to_json(price: ModelPrice) -> dict[str, Any]:
    """Variants, time windows, regional uplifts, rules, the dated price list and the ids the
    model answers to (`match`): only the non-empty ones, so a model without any stores `{}`
    (and its snapshots stay as they were before they existed)."""
    out: dict[str, Any] = {}
    if price.variants:
        out["variants"] = {k: price_set_to_json(v) for k, v in sorted(price.variants.items())}
    if price.windows:
        out["windows"] = [
            {"utc_start": w.utc_start, "utc_end": w.utc_end, **price_set_to_json(w.prices)}
            for w in price.windows
        ]
    if price.uplifts:
        out["uplifts"] = units_to_json(price.uplifts)
    if price.rules:
        out["rules"] = dict(sorted(price.rules.items()))
    if price.dated:
        out["dated"] = [_dated_to_json(entry) for entry in price.dated]
    if price.answers_to is not None:
        answers = price.answers_to
        out["match"] = {
            "clause": answers.clause,
            "provider_clause": answers.provider_clause,
            "fallback_providers": list(answers.fallback_providers),
            "place": list(answers.place),
        }
    return out


def _answers_from_json(data: Mapping[str, Any] | None) -> AnswersTo | None:
    if not data:
        return None
    provider, model = data.get("place") or (0, 0)
    return AnswersTo(
        data["clause"],
        data.get("provider_clause"),
        tuple(data.get("fallback_providers") or ()),
        (int(provider), int(model)),
    )


def _dated_to_json(entry: DatedPrices) -> dict[str, Any]:
    out: dict[str, Any] = {"starts": instant_text(entry.starts)}
    if entry.scheduled:
        out["scheduled"] = True
    return {**out, **price_set_to_json(entry.prices)}


def _dated_from_json(data: Mapping[str, Any]) -> DatedPrices:
    starts = data.get("starts")
    return DatedPrices(
        datetime.fromisoformat(starts) if starts else None,
        price_set_from_json(data),
        bool(data.get("scheduled")),
    )


class PricingArgs(TypedDict):
    variants: dict[str, PriceSet]
    windows: tuple[TimeWindow, ...]
    uplifts: dict[str, Decimal]
    rules: dict[str, str]
    dated: tuple[DatedPrices, ...]
    answers_to: AnswersTo | None


def pricing_from_json(data: Mapping[str, Any] | None) -> PricingArgs:
    """ModelPrice keyword arguments from a `pricing` JSON object (absent parts empty)."""
    # Each part built only when present: most models have rules and nothing else, and the
    # empty comprehensions cost ~5 ms of the catalog decode every start waits for.
    data = data or {}
    variants = data.get("variants")
    windows = data.get("windows")
    uplifts = data.get("uplifts")
    rules = data.get("rules")
    dated = data.get("dated")
    return {
        "variants": {k: price_set_from_json(v) for k, v in variants.items()} if variants else {},
        "windows": tuple(
            TimeWindow(int(w["utc_start"]), int(w["utc_end"]), price_set_from_json(w))
            for w in windows
        )
        if windows
        else (),
        "uplifts": units_from_json(uplifts) if uplifts else {},
        "rules": dict(rules) if rules else {},
        "dated": tuple(_dated_from_json(d) for d in dated) if dated else (),
        "answers_to": _answers_from_json(data.get("match")),
    }


def tiers_from_json(data: Any) -> tuple[Tier, ...]:
    return tuple(tier_from_snapshot(t) for t in data or ())


# --- snapshots (history, held changes) -------------------------------------------------------


def to_snapshot(price: ModelPrice) -> dict[str, Any]:
    """The prices (not the descriptive fields) as JSON-safe decimal strings."""
    out: dict[str, Any] = {"status": price.status}
    for f in PRICE_FIELDS:
        out[f.name] = _text(getattr(price, f.name))
    out["tiers"] = [tier_to_snapshot(tier) for tier in price.tiers]
    out["units"] = units_to_json(price.units)
    pricing = pricing_to_json(price)
    if pricing:
        out["pricing"] = pricing
    return out


def from_snapshot(
    snapshot: Mapping[str, Any], source: str, model_id: str, like: Any = None
) -> ModelPrice:
    """Rebuild a ModelPrice from a history/held snapshot; descriptive fields come from `like`
    (anything with them as attributes: a ModelPrice, a `models` row)."""
    return ModelPrice(
        source=source,
        model_id=model_id,
        status=snapshot["status"],
        **{name: getattr(like, name) if like else None for name in DESCRIPTIVE_FIELDS},
        **_prices_from_json(snapshot),
        tiers=tiers_from_json(snapshot.get("tiers")),
        units=units_from_json(snapshot.get("units")),
        **pricing_from_json(snapshot.get("pricing")),
    )


# --- rows of `models` ------------------------------------------------------------------------


def to_row(price: ModelPrice) -> dict[str, Any]:
    """Return the `models` column values for a normalized price."""
    row: dict[str, Any] = {"source": price.source, "model_id": price.model_id}
    row.update(_descriptive(price))
    row.update({f.name: getattr(price, f.name) for f in PRICE_FIELDS})
    row["tiers"] = [tier_to_snapshot(tier) for tier in price.tiers]
    row["units"] = units_to_json(price.units)
    row["pricing"] = pricing_to_json(price)
    return row


def from_row(row: Any) -> ModelPrice:
    """Build a ModelPrice from a `models` row (Decimals exact, tiers and units from JSON).
    Each refresh reads every row of a source to compare the feed with (~3,000 for LiteLLM)."""
    values: dict[str, Any] = {
        "source": row.source,
        "model_id": row.model_id,
        "status": row.status,
    }
    for name in DESCRIPTIVE_FIELDS:
        values[name] = getattr(row, name)
    for f in PRICE_FIELDS:
        values[f.name] = getattr(row, f.name)
    return _assembled_price(
        values,
        json_value(row.tiers, ()),
        json_value(row.units, {}),
        json_value(row.pricing, {}),
    )


def _assembled_price(values: dict[str, Any], tiers: Any, units: Any, pricing: Any) -> ModelPrice:
    """The ModelPrice of `values` (its head, descriptive fields and prices) and the JSON of its
    tiers, units and pricing: what a row and an item hold alike. Every field is filled here,
    so it is `assembled` (each start's master builds ~3,000; each refresh, a source's rows)."""
    values["tiers"] = tiers_from_json(tiers)
    values["units"] = units_from_json(units)
    values.update(pricing_from_json(pricing))
    return assembled(ModelPrice, values)


def json_value(value: Any, empty: Any) -> Any:
    """Return a JSON column's value, parsing it if it was selected as text
    (schema.MODEL_ROW_COLUMNS)."""
    if value is None:
        return empty
    if isinstance(value, str):
        # Nearly every model has no tiers and no units: skip the parser for "[]" and "{}".
        if value in ("[]", "{}", "null"):
            return empty
        # orjson parses these ~5x faster than json, and a worker's catalog load parses three
        # per model. But it reads an integer beyond 64 bits as a float (1e+23) where json keeps
        # it exact: a text with such a run of digits (a tier threshold a feed gave) goes to
        # json, as does anything orjson refuses (NaN, a lone surrogate) that json reads.
        if _LONG_DIGITS.search(value) is None:
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
        return json.loads(value)
    return value


# 19 digits in a row: possibly an integer orjson cannot hold (2**63 has 19 digits).
_LONG_DIGITS = re.compile(r"[0-9]{19}")


# Status sits among the descriptive fields in rows and items (the key order they always had).
_ROW_HEAD = (*DESCRIPTIVE_FIELDS[:2], "status", *DESCRIPTIVE_FIELDS[2:])


def _descriptive(price: Any) -> dict[str, Any]:
    return {name: getattr(price, name) for name in _ROW_HEAD}


# --- catalog items (the cache's data and the Redis blob) -------------------------------------


def row_to_item(
    row: Any,
    last_observed_at: str | None,
    last_changed_at: str | None,
    *,
    rejected_reason: str | None = None,
    rejected_since: str | None = None,
) -> dict:
    """One catalog item straight from a `models` row (tiers and units are stored as JSON).

    `rejected_reason`/`rejected_since` (ISO) are set while the feed's entry is rejected and
    the row's prices are its last good ones (see `stale_to_api`).
    """
    item: dict[str, Any] = {"source": row.source, "model_id": row.model_id}
    item.update(_descriptive(row))
    item.update({f.name: _text(getattr(row, f.name)) for f in PRICE_FIELDS})
    item["tiers"] = json_value(row.tiers, [])
    item["units"] = json_value(row.units, {})
    item["pricing"] = json_value(row.pricing, {})
    item["rejected_reason"] = rejected_reason
    item["rejected_since"] = rejected_since
    item["last_observed_at"] = last_observed_at
    item["last_changed_at"] = last_changed_at
    return item


def to_item(price: ModelPrice) -> dict[str, Any]:
    """A catalog item of `price` alone (what `from_item` reads back to an equal ModelPrice):
    the copy of the catalog an in-process client prices from (GET /api/catalog/copy)."""
    item: dict[str, Any] = {"source": price.source, "model_id": price.model_id}
    item.update(_descriptive(price))
    item.update({f.name: _text(getattr(price, f.name)) for f in PRICE_FIELDS})
    item["tiers"] = [tier_to_snapshot(tier) for tier in price.tiers]
    item["units"] = units_to_json(price.units)
    item["pricing"] = pricing_to_json(price)
    return item


def from_item(item: Mapping[str, Any]) -> ModelPrice:
    """The ModelPrice of one catalog item (from load_catalog_data or a Redis blob)."""
    values: dict[str, Any] = {
        "source": item["source"],
        "model_id": item["model_id"],
        "status": item["status"],
    }
    for name in DESCRIPTIVE_FIELDS:
        values[name] = item.get(name)
    values.update(_prices_from_json(item))
    return _assembled_price(values, item.get("tiers"), item.get("units"), item.get("pricing"))


# --- API output ------------------------------------------------------------------------------


def api_tiers(tiers: tuple[Tier, ...]) -> list[dict[str, Any]]:
    """Tiers as the API shows them: threshold, token prices, other prices (`units`)."""
    return [
        {"above_tokens": t.above_tokens, "prices": api_prices(t), "units": units_to_json(t.units)}
        for t in tiers
    ]


def api_prices(holder: ModelPrice | Tier | PriceSet) -> dict[str, dict[str, str]]:
    """The prices a ModelPrice or Tier sets, by API name, per unit and per million units."""
    pairs = {}
    for f in PRICE_FIELDS:
        value = getattr(holder, f.name, None)
        if value is not None:
            pairs[f.api_name] = {
                f"per_{f.unit}": decimal_text(value),
                "per_million": per_million(value),
            }
    return pairs


def api_dated(dated: tuple[DatedPrices, ...]) -> list[dict[str, Any]]:
    """A dated price list as the API shows it: each entry's start and end (null: open), whether
    it was still ahead when the source was read, and its standard prices."""
    return [
        {
            "starts": instant_text(entry.starts),
            "ends": instant_text(dated[i + 1].starts) if i + 1 < len(dated) else None,
            "scheduled": entry.scheduled,
            "prices": api_prices(entry.prices),
            "tiers": api_tiers(entry.prices.tiers),
            "units": units_to_json(entry.prices.units),
        }
        for i, entry in enumerate(dated)
    ]


def stale_to_api(
    rejected_reason: str | None, rejected_since: str | None
) -> dict[str, str | None] | None:
    """The API's `stale` mark: why the served prices are the last good ones, and since when."""
    if rejected_reason is None:
        return None
    return {"reason": rejected_reason, "since": rejected_since}


def to_api(
    price: ModelPrice,
    last_observed_at: str | None,
    last_changed_at: str | None,
    *,
    rejected_reason: str | None = None,
    rejected_since: str | None = None,
) -> dict[str, Any]:
    """Return one served model as the API shows it (`stale` set while its entry is rejected)."""
    return {
        "id": price.model_id,
        "source": price.source,
        "provider": price.provider,
        "mode": price.mode,
        "status": price.status,
        "context_window": price.context_window,
        "max_output_tokens": price.max_output_tokens,
        "prices": api_prices(price),
        "tiers": api_tiers(price.tiers),
        "units": units_to_json(price.units),
        "variants": {
            name: {
                "prices": api_prices(v),
                "tiers": api_tiers(v.tiers),
                "units": units_to_json(v.units),
            }
            for name, v in sorted(price.variants.items())
        },
        "windows": [
            {
                "utc_start": f"{w.utc_start:04d}",
                "utc_end": f"{w.utc_end:04d}",
                "prices": api_prices(w.prices),
                "units": units_to_json(w.prices.units),
            }
            for w in price.windows
        ],
        "uplifts": units_to_json(price.uplifts),
        "rules": dict(sorted(price.rules.items())),
        "dated": api_dated(price.dated),
        "last_observed_at": last_observed_at,
        "last_changed_at": last_changed_at,
        "stale": stale_to_api(rejected_reason, rejected_since),
    }


# --- flat prices and moves (held changes) ----------------------------------------------------


def flat_prices(snapshot: Mapping[str, Any]) -> dict[str, Decimal]:
    """Return every price of a snapshot under one flat name each.

    `input_per_token`, `tiers[>200000].output_per_token`, `units.input_per_image`: the names
    held changes use to say which price moved.
    """
    out = flat_price_set(snapshot, "")
    pricing = snapshot.get("pricing") or {}
    for name, variant in (pricing.get("variants") or {}).items():
        out.update(flat_price_set(variant, f"variants.{name}."))
    for window in pricing.get("windows") or ():
        label = f"windows[{int(window['utc_start']):04d}-{int(window['utc_end']):04d}]."
        out.update(flat_price_set(window, label))
    for region, value in (pricing.get("uplifts") or {}).items():
        out[f"uplifts.{region}"] = Decimal(value)
    for entry in pricing.get("dated") or ():
        starts = entry.get("starts")
        out.update(flat_price_set(entry, f"dated[{starts[:10] if starts else 'initial'}]."))
    return out


def flat_price_set(data: Mapping[str, Any], prefix: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for f in PRICE_FIELDS:
        value = data.get(f.name)
        if value is not None:
            out[f"{prefix}{f.name}"] = Decimal(value)
    for tier in data.get("tiers") or ():
        for f in TIERED_FIELDS:
            value = tier.get(f.name)
            if value is not None:
                out[f"{prefix}tiers[>{tier['above_tokens']}].{f.name}"] = Decimal(value)
        for unit, value in (tier.get("units") or {}).items():
            out[f"{prefix}tiers[>{tier['above_tokens']}].units.{unit}"] = Decimal(value)
    for unit, value in (data.get("units") or {}).items():
        out[f"{prefix}units.{unit}"] = Decimal(value)
    return out


@dataclass(frozen=True)
class StatedPrice:
    """One price a model states, for people: its flat name, exact value text and unit."""

    name: str
    value: str
    unit: str


def stated_prices(price: ModelPrice) -> list[StatedPrice]:
    """Every price the model states, under the flat names held changes use (`variants.batch.
    input_per_token`, `tiers[>200000].units.cache_write_1h_per_token`, `uplifts.eu`): per-token
    prices per million tokens, the others per their own unit (the dashboard, `prices show`)."""
    rows = []
    for name, value in flat_prices(to_snapshot(price)).items():
        if name.endswith("_per_token"):
            rows.append(StatedPrice(name, per_million(value), "per M tokens"))
        elif name.startswith("uplifts."):
            rows.append(StatedPrice(name, decimal_text(value), "multiplier of the cost"))
        else:
            rows.append(StatedPrice(name, decimal_text(value), _unit_of(name)))
    return rows


def price_unit(name: str) -> str:
    """The unit a flat price name is stated per, as one word: `token`, `image`, `request`...
    (`multiplier` for a region's uplift): the dated price table's `unit` column."""
    if name.endswith("_per_token"):
        return "token"
    if name.startswith("uplifts."):
        return "multiplier"
    return _unit_of(name).removeprefix("per ")


def _unit_of(name: str) -> str:
    for suffix, unit in _UNIT_WORDS:
        if name.endswith(suffix):
            return unit
    return "per call" if "web_search" in name else "per unit"


_UNIT_WORDS = (
    ("_per_image", "per image"),
    ("_per_pixel", "per pixel"),
    ("_per_second", "per second"),
    ("_per_character", "per character"),
    ("per_page", "per page"),
    ("per_query", "per query"),
    ("per_request", "per request"),
    ("_per_session", "per session"),
)

# For showing a factor only (x42.5); decisions compare exact products, never this.
_DISPLAY = decimal.Context(prec=6)


def price_moves(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """List every stored price that differs between two snapshots: field, old, new, factor.

    `factor` is new/old (6 significant digits, for reading; decisions use exact products),
    None when either side is absent or the old price is zero.
    """
    before = flat_prices(old or {})
    after = flat_prices(new or {})
    moves = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        factor = None
        if was is not None and now is not None and was != 0:
            factor = f"{_DISPLAY.divide(now, was).normalize():f}"
        moves.append(
            {
                "field": name,
                "old": _text(was),
                "new": _text(now),
                "factor": factor,
            }
        )
    return moves

"""The genai-prices feed: pydantic's curated `prices/data.json`, a list of providers, each with
its models.

A model is served as `<provider id>/<model id>`, exactly as the file names them; its `match`
clause, with its provider's `model_match` and `fallback_model_providers`, is kept with it
(`AnswersTo`): the ids it answers to when a request names this source. Prices are USD per million
tokens (`*_mtok`) and per thousand requests (`requests_kcount`), divided exactly into ratecard's
per-token and per-request prices. A price may be tiered, `{"base": p, "tiers": [{"start": n,
"price": q}]}`: past `n` prompt tokens (the whole input, cached and audio tokens included, strictly
more than `n`) every token of that kind costs `q` (genai-prices' "cliff" rule, ratecard's default
tier rule); a kind without tiers keeps its base price in every tier.

`prices` may also be a list of conditional prices, tried last to first, the first entry when
none applies (genai-prices' own rule):
- `{"constraint": {"start_date": "YYYY-MM-DD"}}`: in force from that UTC date on. The entry in
  force at `now` is served; the whole list is kept as the model's `dated` prices (the first
  entry before every start, each dated one from its midnight, those still ahead marked
  scheduled), which a cost at another time prices from. `ParsedFeed.read_again_at` is the
  first start still ahead: the refresh reads the file again then, even unchanged.
- `{"constraint": {"start_time": "HH:MM:SSZ", "end_time": ...}}`: a daily UTC window (DeepSeek's
  off-peak prices), served as a time window whose prices replace the standard ones inside it.

A price kind ratecard does not price (video tokens, text-only splits) drops that price, named,
never silently: a request that needs it is refused as missing, never priced at 0.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from ratecard.catalog.match_clauses import AnswersTo, clause_problem
from ratecard.catalog.model import DatedPrices, ModelPrice, TimeWindow
from ratecard.catalog.money import EXACT
from ratecard.ingest.feed_errors import FeedError
from ratecard.ingest.feeds.parsing import (
    DroppedField,
    EntryRejected,
    ParsedFeed,
    PriceSetParts,
    Rejection,
    duplicate_keys,
    entry_problem,
    json_type,
    read_price,
    read_whole_number,
    status_of,
    words,
)

# Per million tokens: the stored name of each token price (a ModelPrice field or a unit).
GENAI_TOKEN_PRICES = {
    "input_mtok": "input_per_token",
    "output_mtok": "output_per_token",
    "cache_read_mtok": "cache_read_per_token",
    "cache_write_mtok": "cache_write_per_token",
    "input_audio_mtok": "input_audio_per_token",
    "output_audio_mtok": "output_audio_per_token",
    "cache_audio_read_mtok": "input_audio_cache_read_per_token",
    "input_image_mtok": "input_image_per_token",
    "output_image_mtok": "output_image_per_token",
}
# Per thousand: the stored name of each count price.
GENAI_COUNT_PRICES = {"requests_kcount": "per_request"}
GENAI_KNOWN_MODEL_KEYS = words(
    "id name description match context_window price_comments prices deprecated"
)
_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])(?::00(?:\.0+)?)?(?:Z|[+]00:00)?", re.ASCII)


def parse(source: str, document: Any, now: datetime | None = None) -> ParsedFeed:
    """Parse genai-prices' data file (already loaded as JSON with Decimals); `now` (default:
    the current time) picks the dated price in force."""
    if not isinstance(document, list):
        raise FeedError(source, f"expected a list of providers, got {json_type(document)}")
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    parsed = ParsedFeed(source=source, models={})
    # (served id, provider id, model entry, what the provider's models answer to, place)
    entries: list[tuple[str, str, Any, AnswersTo, tuple[int, int]]] = []
    for index, provider in enumerate(document):
        provider_id = provider.get("id") if isinstance(provider, dict) else None
        if not isinstance(provider_id, str) or not provider_id.strip() or "/" in provider_id:
            parsed.rejected.append(
                Rejection(f"providers[{index}]", "id: expected a provider id without '/'")
            )
            continue
        models = provider.get("models")
        if not isinstance(models, list):
            parsed.rejected.append(
                Rejection(provider_id, f"models: expected a list, got {json_type(models)}")
            )
            continue
        of_provider = _provider_answers(provider, provider_id, parsed.dropped)
        for position, entry in enumerate(models):
            model_id = entry.get("id") if isinstance(entry, dict) else None
            label = (
                f"{provider_id}/{model_id}"
                if isinstance(model_id, str) and model_id.strip()
                else f"{provider_id}/models[{position}]"
            )
            entries.append((label, provider_id, entry, of_provider, (index, position)))
    # An id listed twice: which entry is right is unknowable, so neither is applied and the
    # model keeps its last good prices (as for the other feeds).
    twice = {label for label, count in Counter(e[0] for e in entries).items() if count > 1}
    for label, provider_id, entry, of_provider, place in entries:
        try:
            if not isinstance(entry, dict):
                raise EntryRejected(f"expected an object, got {json_type(entry)}")
            if label.endswith("]") and "/models[" in label:
                raise EntryRejected("id: expected a non-empty string")
            if label in twice:
                raise EntryRejected("id listed more than once in the feed")
            if duplicate_keys(entry):
                raise EntryRejected(f"key {duplicate_keys(entry)[0]!r} given twice")
            problem = entry_problem(entry)
            if problem is not None:
                raise EntryRejected(problem)
            model = _model(source, label, provider_id, entry, today, parsed.dropped)
            model = _answering(model, entry.get("match"), of_provider, place, parsed.dropped)
        except EntryRejected as exc:
            parsed.rejected.append(Rejection(label, str(exc)))
            continue
        parsed.models[label] = model
        ahead = [d.starts for d in model.dated if d.scheduled and d.starts is not None]
        if parsed.read_again_at is not None:
            ahead.append(parsed.read_again_at)
        parsed.read_again_at = min(ahead, default=None)
        parsed.unknown_fields += sum(1 for key in entry if key not in GENAI_KNOWN_MODEL_KEYS)
    return parsed


def _provider_answers(
    provider: Mapping[str, Any], provider_id: str, dropped: list[DroppedField]
) -> AnswersTo:
    """The provider's part of what its models answer to (their own clause left empty): its
    `model_match` clause and `fallback_model_providers`; a bad one dropped, named."""
    clause = provider.get("model_match")
    if clause is not None and (problem := clause_problem(clause)) is not None:
        dropped.append(DroppedField(provider_id, "model_match", f"model_match: {problem}"))
        clause = None
    fallbacks = provider.get("fallback_model_providers") or []
    if not isinstance(fallbacks, list) or not all(isinstance(f, str) for f in fallbacks):
        dropped.append(
            DroppedField(provider_id, "fallback_model_providers", "expected a list of ids")
        )
        fallbacks = []
    return AnswersTo({}, clause, tuple(fallbacks))


def _answering(
    model: ModelPrice,
    clause: Any,
    of_provider: AnswersTo,
    place: tuple[int, int],
    dropped: list[DroppedField],
) -> ModelPrice:
    """`model` with the ids it answers to: its `match` clause (a bad or missing one: none, the
    model still served under its own id, a bad one named)."""
    if clause is None:
        return model
    problem = clause_problem(clause)
    if problem is not None:
        dropped.append(DroppedField(model.model_id, "match", f"match: {problem}"))
        return model
    answers = dataclasses.replace(of_provider, clause=clause, place=place)
    return dataclasses.replace(model, answers_to=answers)


def _model(
    source: str,
    model_id: str,
    provider_id: str,
    entry: Mapping[str, Any],
    today: date,
    dropped: list[DroppedField],
) -> ModelPrice:
    standard, windows, dated = _in_force(entry.get("prices"), today, model_id, dropped)
    return ModelPrice(
        source=source,
        model_id=model_id,
        status=status_of(standard.prices()),
        provider=provider_id,
        context_window=read_whole_number("context_window", entry.get("context_window")),
        **standard.model_fields(),
        windows=tuple(windows),
        dated=tuple(dated),
    )


def _in_force(
    prices: Any, today: date, model_id: str, dropped: list[DroppedField]
) -> tuple[PriceSetParts, list[TimeWindow], list[DatedPrices]]:
    """The standard prices in force on `today`, the daily windows and the dated list (empty
    when no entry has a start date), read from `prices`."""
    if isinstance(prices, dict):
        return _price_set(prices, "prices", model_id, dropped), [], []
    if not isinstance(prices, list) or not prices:
        raise EntryRejected(f"prices: expected an object or a list, got {json_type(prices)}")
    # The entry in force: tried last to first, the last started one; none started (or all
    # are windows): the first, as genai-prices falls back to it.
    chosen = 0
    windows: list[TimeWindow] = []
    starts: list[tuple[int, date]] = []
    for index, conditional in enumerate(prices):
        where = f"prices[{index}]"
        if not isinstance(conditional, dict) or not isinstance(conditional.get("prices"), dict):
            raise EntryRejected(f"{where}: expected an object with prices")
        constraint = conditional.get("constraint")
        if constraint is None:
            if index:
                raise EntryRejected(f"{where}: only the first price may have no constraint")
            continue
        if not isinstance(constraint, dict):
            raise EntryRejected(f"{where}.constraint: expected an object")
        if "start_date" in constraint:
            start = _date(f"{where}.constraint.start_date", constraint["start_date"])
            if starts and start <= starts[-1][1]:
                raise EntryRejected(f"{where}.constraint.start_date: dates must increase")
            starts.append((index, start))
            if start <= today:
                chosen = index
        elif "start_time" in constraint or "end_time" in constraint:
            begin = _hhmm(f"{where}.constraint.start_time", constraint.get("start_time"))
            end = _hhmm(f"{where}.constraint.end_time", constraint.get("end_time"))
            parts = _price_set(conditional["prices"], f"{where}.prices", model_id, dropped)
            windows.append(TimeWindow(begin, end, parts.price_set()))
        else:
            raise EntryRejected(f"{where}.constraint: expected start_date or start_time/end_time")
    parts = _price_set(prices[chosen]["prices"], f"prices[{chosen}].prices", model_id, dropped)
    dated: list[DatedPrices] = []
    if starts:
        # The list as history: the first entry stands before every start (as genai-prices
        # prices a date before them all), each dated one from its UTC midnight on.
        entries: list[tuple[int, datetime | None]] = [] if starts[0][0] == 0 else [(0, None)]
        entries += [(i, datetime.combine(d, time(), UTC)) for i, d in starts]
        for index, begins in entries:
            where = f"prices[{index}].prices"
            stated = (
                parts
                if index == chosen
                else _price_set(prices[index]["prices"], where, model_id, dropped)
            )
            ahead = begins is not None and begins.date() > today
            dated.append(DatedPrices(begins, stated.price_set(), ahead))
    return parts, windows, dated


def _price_set(
    prices: Mapping[str, Any], where: str, model_id: str, dropped: list[DroppedField]
) -> PriceSetParts:
    into = PriceSetParts()
    for key, value in prices.items():
        name = GENAI_TOKEN_PRICES.get(key) or GENAI_COUNT_PRICES.get(key)
        if name is None:
            dropped.append(
                DroppedField(model_id, key, f"{where}.{key}: not a price ratecard reads")
            )
            continue
        # Per million or per thousand: a shift of the exponent, exact whatever the digits.
        per = -6 if key in GENAI_TOKEN_PRICES else -3
        if isinstance(value, dict):
            _tiered(into, name, value, f"{where}.{key}", per)
        else:
            into.put(name, _per_unit(read_price(f"{where}.{key}", value), per))
    return into


def _per_unit(price: Decimal, exponent: int) -> Decimal:
    return price.scaleb(exponent, context=EXACT) if price else price


def _tiered(into: PriceSetParts, name: str, value: Mapping[str, Any], where: str, per: int) -> None:
    """A tiered price: the base, then each tier's price past its start (strictly more than
    `start` prompt tokens)."""
    tiers = value.get("tiers")
    if set(value) != {"base", "tiers"} or not isinstance(tiers, list):
        raise EntryRejected(f"{where}: expected a number or {{base, tiers}}")
    into.put(name, _per_unit(read_price(f"{where}.base", value["base"]), per))
    previous = -1
    for index, tier in enumerate(tiers):
        at = f"{where}.tiers[{index}]"
        if not isinstance(tier, dict) or set(tier) != {"start", "price"}:
            raise EntryRejected(f"{at}: expected {{start, price}}")
        start = read_whole_number(f"{at}.start", tier["start"])
        if start is None or start <= previous:
            raise EntryRejected(f"{at}.start: tiers must start in increasing order")
        previous = start
        into.put(name, _per_unit(read_price(f"{at}.price", tier["price"]), per), start)


def _date(key: str, value: Any) -> date:
    try:
        if not isinstance(value, str):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise EntryRejected(f"{key}: expected a date YYYY-MM-DD, got {value!r}") from None


def _hhmm(key: str, value: Any) -> int:
    """A UTC time of day as HHMM (TimeWindow's form); whole minutes only."""
    found = _TIME.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise EntryRejected(f"{key}: expected a UTC time HH:MM[:00][Z], got {value!r}")
    return int(found.group(1)) * 100 + int(found.group(2))

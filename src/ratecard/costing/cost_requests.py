"""Cost requests: parse one (any of its three forms), resolve its model, price it, answer.

The one path behind `POST /api/cost`, `POST /api/cost/batch` and `ratecard cost`. Plain Python:
the caller passes a `Resolver` (model, source, at -> ModelAt), so the API resolves against its
served catalog and history, and the CLI against the catalog it loaded.

A request is a JSON object in one of three forms, plus optional `at`, `source`, `service_tier`
and `region`:
- flat counts: `model` and any quantities of `Usage` (disjoint: `input_tokens` is uncached
  text input only); a quantity not given is 0;
- `{"model", "usage", "format"}`: a provider's usage block as returned (`format` detected when
  omitted);
- `{"response"}`: a provider's whole response body; the model is read from it unless `model`
  is given.

Service tier: a tier the usage or response states is what was billed, so it is used. An
explicit `service_tier` overrides a body that states `standard` (an OpenAI Batch API output
says `"default"`: only the caller knows it went through the batch API), and contradicting a
body that states another non-standard tier is a 422 naming `service_tier`. Multipliers a body
says it was billed with (Anthropic's `inference_geo`, `speed`) are priced or refused, never
dropped; a `region` contradicting the body's data residency is a 422 naming `region`.

What reading the body assumed (a stated total that is not its parts' sum, ...) comes first in
the answer's `notes`, then what pricing assumed (a modality at the text price, ...): the same
notes in the single and the batch answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from ratecard.catalog.identity import Resolution
from ratecard.catalog.model import ModelPrice
from ratecard.catalog.money import decimal_text, per_million
from ratecard.costing.cost import Cost, NotPriceable, price_usage
from ratecard.costing.formats import FORMATS as FORMAT_READERS
from ratecard.costing.formats import read_response, read_usage
from ratecard.costing.formats.counts import describe
from ratecard.costing.usage import (
    MAX_QUANTITY,
    QUANTITIES,
    ReadUsage,
    StatedUplift,
    Usage,
    UsageError,
    usage_from_counts,
)
from ratecard.errors import RatecardError, ValidationFailed
from ratecard.vocabulary import ServiceTier, UsageFormat

if TYPE_CHECKING:
    from ratecard.catalog.snapshot import CatalogSnapshot

__all__ = [
    "AT_PATTERN",
    "FORMATS",
    "MAX_MODEL",
    "MAX_QUANTITY",
    "REQUEST_KEYS",
    "SECONDS_PATTERN",
    "SERVICE_TIERS",
    "BookAnswer",
    "CostRequest",
    "ModelAt",
    "Resolver",
    "answer_cost",
    "catalog_resolver",
    "error_fields",
    "parse_cost_request",
    "per_million_of",
]

SERVICE_TIERS: tuple[str, ...] = tuple(ServiceTier)
FORMATS: tuple[str, ...] = tuple(UsageFormat)
# Per format: the token quantities its provider bills at the text input price where the model
# lists no price of their own (formats/*.py, TEXT_PRICED).
_TEXT_PRICED = {name: reader.text_priced for name, reader in FORMAT_READERS.items()}
_NOTHING: frozenset[str] = frozenset()
_OPTIONS = (
    "model",
    "usage",
    "format",
    "response",
    "at",
    "source",
    "service_tier",
    "region",
    "price_book",
    "price_book_version",
)
REQUEST_KEYS = frozenset((*_OPTIONS, *QUANTITIES))
_QUANTITY_SET = frozenset(QUANTITIES)
_FLAT_KEYS = frozenset(("model", *QUANTITIES))
# RFC 3339's date-time with its offset optional (naive means UTC): what `at` takes. Stricter
# than fromisoformat, which also reads a bare date or ISO's basic format ("20260101T10").
# [0-9], never \d: in Python's and pydantic's regexes \d is any Unicode digit (full-width 5 too).
AT_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)
_AT = re.compile(AT_PATTERN)
# `seconds` as text: an exact decimal, no exponent or sign (what the document promises).
SECONDS_PATTERN = r"^[0-9]{1,13}(\.[0-9]{1,30})?$"
_SECONDS = re.compile(SECONDS_PATTERN)
# The longest model id a request may give.
MAX_MODEL = 512
_TEXT_LIMITS = {"model": MAX_MODEL, "source": 64, "region": 64, "price_book": 64}


class CostRequest(NamedTuple):
    """One parsed cost request: what to price, with which model, when, at which tier.

    A NamedTuple, as Usage is: the batch path builds one per line, and a tuple is built in C.
    """

    model: str
    usage: Usage
    source: str | None = None
    at: datetime | None = None  # price with the prices in force then (None: now)
    service_tier: str = "standard"
    region: str | None = None
    format: str | None = None  # the provider format read, when a usage or response was given
    notes: tuple[str, ...] = ()  # what reading the body assumed (the answer's `notes`)
    # Multipliers the body says it was billed with (data residency, fast mode): each must be
    # priced, never dropped.
    uplifts: tuple[StatedUplift, ...] = ()
    # Price with this price book (at this version; None: its current one), not list prices.
    price_book: str | None = None
    price_book_version: int | None = None


@dataclass(frozen=True, slots=True)
class ModelAt:
    """A resolved model's prices and where they come from (the catalog version, since when)."""

    resolution: Resolution
    price: ModelPrice
    version: int | None
    priced_at: str | None
    # For prices from the history: they are the ones in force at every instant from
    # `valid_from` until (not at) `valid_until` (None: no later row yet). None for the served
    # catalog's prices, which answer for now only.
    valid_from: datetime | None = None
    valid_until: datetime | None = None


# (model as typed, source, at) -> ModelAt; raises RatecardError (404 unknown, 409 ambiguous).
Resolver = Callable[[str, str | None, datetime | None], ModelAt]
# (request with a price_book, its model, the instant a request without `at` is priced at) ->
# the answer under the book (costing.price_books.answer_with_books over the caller's store).
BookAnswer = Callable[["CostRequest", ModelAt, datetime], Any]


def catalog_resolver(
    snapshot: CatalogSnapshot,
    preferred: Sequence[str],
    then: Callable[[str, str | None, datetime], ModelAt],
) -> Resolver:
    """Resolve against the served `snapshot` (sources ranked by `preferred`); a request with
    `at` goes to `then`, which reads the price history (`serving.prices_at.history_resolver`
    builds one over the database)."""

    def resolve(model_id: str, source: str | None, at: datetime | None) -> ModelAt:
        if at is not None:
            return then(model_id, source, at)
        resolution = snapshot.identity.resolve(model_id, source, preferred)
        return ModelAt(resolution, resolution.price, snapshot.version, snapshot.updated_at)

    return resolve


# --- parsing ---------------------------------------------------------------------------------


def parse_cost_request(data: Any) -> CostRequest:
    """Parse a decoded JSON cost request; any bad value is a ValidationFailed naming its field."""
    # The common case first, in a few checks: `model` and whole, in-range counts (the batch
    # path parses a million of these). Anything else takes the path that names what is wrong.
    if type(data) is dict and data.keys() <= _FLAT_KEYS:
        model = data.get("model")
        if type(model) is str and 0 < len(model) <= _TEXT_LIMITS["model"] and model.isascii():
            quantities = dict(data)
            del quantities["model"]
            if all(type(v) is int and 0 <= v <= MAX_QUANTITY for v in quantities.values()):
                return CostRequest(model, Usage(**quantities))
    if not isinstance(data, dict):
        raise ValidationFailed("body: a cost request must be a JSON object", field="body")
    keys = data.keys()
    if not keys <= REQUEST_KEYS:
        # Named, not echoed: a line may hold thousands of keys, each most of a megabyte.
        unknown = sorted(str(k)[:100] for k in keys - REQUEST_KEYS)
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ValidationFailed(
            f"{unknown[0]}: Extra inputs are not permitted (unknown: "
            f"{', '.join(unknown[:5])}{more})",
            field=unknown[0],
        )
    model = _text(data, "model")
    stated_tier: str | None = None
    form: str | None = None
    notes: tuple[str, ...] = ()
    uplifts: tuple[StatedUplift, ...] = ()
    if data.get("usage") is not None or data.get("response") is not None:
        if not keys.isdisjoint(_QUANTITY_SET):
            first = next(q for q in QUANTITIES if q in keys)
            given = "usage" if data.get("usage") is not None else "response"
            raise ValidationFailed(
                f"{first}: flat counts cannot be combined with `{given}` (give one form)",
                field=first,
            )
        read = _read_provider_body(data)
        usage, form, notes, uplifts = read.usage, str(read.format), read.notes, read.uplifts
        stated_tier = None if read.service_tier is None else str(read.service_tier)
        model = model or read.model
        if model is None:
            raise ValidationFailed(
                "model: the response names no model (Bedrock's, Cohere's and OpenAI's image "
                "and audio responses do not): give `model`",
                field="model",
            )
    else:
        if data.get("format") is not None:
            raise ValidationFailed(
                "format: only with `usage` or `response` (flat counts have no format)",
                field="format",
            )
        if model is None:
            raise ValidationFailed("model: Field required", field="model")
        usage = _flat_usage(data, keys & _QUANTITY_SET)
    # The options most requests leave out are only parsed when given (the batch path parses
    # a million requests).
    asked = data.get("service_tier")
    region = None if data.get("region") is None else _text(data, "region")
    if region is not None and uplifts:
        _same_region(region, uplifts)
    book = None if data.get("price_book") is None else _text(data, "price_book")
    book_version = _book_version(data.get("price_book_version"), book)
    return CostRequest(
        model,
        usage,
        None if data.get("source") is None else _text(data, "source"),
        None if data.get("at") is None else parse_instant(data["at"]),
        "standard" if asked is None and stated_tier is None else _service_tier(asked, stated_tier),
        region,
        form,
        notes,
        uplifts,
        book,
        book_version,
    )


def _book_version(value: Any, book: str | None) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 1 <= value <= 2**31 - 1:
        raise ValidationFailed(
            "price_book_version: a whole number >= 1", field="price_book_version"
        )
    if book is None:
        raise ValidationFailed(
            "price_book_version: only with `price_book`", field="price_book_version"
        )
    return value


def _same_region(region: str, uplifts: tuple[StatedUplift, ...]) -> None:
    """Refuse a `region` that contradicts the data residency the body says it was billed at."""
    for stated in uplifts:
        if stated.kind == "region" and stated.name != region:
            raise ValidationFailed(
                f"region: {region!r} contradicts the body, which says {stated.field} "
                f"{stated.name!r}",
                field="region",
            )


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > _TEXT_LIMITS[key]:
        raise ValidationFailed(
            f"{key}: must be a string of 1 to {_TEXT_LIMITS[key]} characters", field=key
        )
    if not value.isascii() and not is_unicode_text(value):
        raise ValidationFailed(
            f"{key}: must be Unicode text (a lone surrogate such as \\ud800 is not)", field=key
        )
    return value


def is_unicode_text(value: str) -> bool:
    """Whether `value` is text UTF-8 can carry: JSON's \\ud800 escapes decode to lone
    surrogates, which no model id holds and no database driver can send."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _flat_usage(data: Mapping[str, Any], counts: Any) -> Usage:
    values = {name: data[name] for name in counts}
    seconds = values.get("seconds")
    if isinstance(seconds, str) and not _SECONDS.fullmatch(seconds):
        raise ValidationFailed(
            f"seconds: must be a number or decimal text like 12.5, got {seconds[:40]!r}",
            field="seconds",
        )
    try:
        usage = usage_from_counts(values)
    except UsageError as exc:
        raise ValidationFailed(f"{exc.field}: {exc.message}", field=exc.field) from None
    for name, value in usage.nonzero().items():
        if value > MAX_QUANTITY:
            raise ValidationFailed(
                f"{name}: must be at most {MAX_QUANTITY}, got {describe(value)}", field=name
            )
    return usage


def _read_provider_body(data: Mapping[str, Any]) -> ReadUsage:
    if data.get("usage") is not None and data.get("response") is not None:
        raise ValidationFailed(
            "response: give either `usage` (with `model`) or `response`, not both",
            field="response",
        )
    given = "usage" if data.get("usage") is not None else "response"
    body = data[given]
    if not isinstance(body, dict):
        raise ValidationFailed(f"{given}: must be a JSON object", field=given)
    form = data.get("format")
    if form is not None and form not in FORMATS:
        raise ValidationFailed(f"format: must be one of {', '.join(FORMATS)}", field="format")
    read = read_usage if given == "usage" else read_response
    try:
        return read(body, form, path=given)
    except UsageError as exc:
        # The readers name fields by their path in the request ("usage.prompt_tokens"), and
        # `format` as itself.
        field = exc.field if exc.field.split(".", 1)[0] in (given, "format") else given
        raise ValidationFailed(f"{field}: {exc.message}", field=field) from None


def parse_instant(value: Any) -> datetime | None:
    """A request's `at` as a UTC time (None stays None); anything else is a 422 naming it."""
    if value is None:
        return None
    try:
        if not isinstance(value, str) or not _AT.fullmatch(value):
            raise ValueError(value)
        when = datetime.fromisoformat(value.upper())
        # Naive means UTC; an offset time within a day of year 1 or 9999 has no UTC time.
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (TypeError, ValueError, OverflowError):
        raise ValidationFailed(
            "at: must be an ISO 8601 time with a UTC equivalent (naive means UTC)", field="at"
        ) from None


def _service_tier(asked: Any, stated: str | None) -> str:
    if asked is not None and asked not in SERVICE_TIERS:
        raise ValidationFailed(
            f"service_tier: must be one of {', '.join(SERVICE_TIERS)}", field="service_tier"
        )
    if stated is None or stated == "standard":
        return asked or stated or "standard"
    if asked is not None and asked != stated:
        raise ValidationFailed(
            f"service_tier: {asked!r} contradicts the body, which was billed as {stated!r}",
            field="service_tier",
        )
    return stated


# --- pricing and the answer ------------------------------------------------------------------


def answer_cost(request: CostRequest, model: ModelAt, *, now: datetime | None = None) -> Any:
    """Price `request` with `model`'s prices and return the answer as the API shows it.

    `now` prices a request without `at` (the batch path prices a whole body at one instant).
    A price the request needs and the model lacks is a ValidationFailed naming it, never a 0.
    """
    price = model.price
    try:
        cost = price_usage(
            price,
            request.usage,
            service_tier=request.service_tier,
            region=request.region,
            at=request.at or now,
            text_priced=_NOTHING if request.format is None else _TEXT_PRICED[request.format],
            uplifts=request.uplifts,
        )
    except NotPriceable as exc:
        # The quantity that needed the missing price, or `model` when no one quantity did (an
        # unpriced model).
        field = exc.quantity or "model"
        extra = {"price": exc.price} if exc.price else {}
        detail = exc.reason if exc.reason.startswith(field) else f"{field}: {exc.reason}"
        raise ValidationFailed(detail, field=field, **extra) from None
    return {
        "model": price.model_id,
        "source": price.source,
        "total": decimal_text(cost.total),
        "currency": "USD",
        "service_tier": cost.service_tier,
        "components": _components(cost),
        "tier_above_tokens": cost.tier_above_tokens,
        "window": cost.window,
        "region": cost.region,
        "format": request.format,
        "notes": [*request.notes, *cost.notes],
        "price_version": model.version,
        "priced_at": model.priced_at,
        "resolved": model.resolution.to_json(),
    }


def _components(cost: Cost) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            # Fractional seconds are exact decimal text; whole quantities stay numbers.
            "quantity": c.quantity if isinstance(c.quantity, int) else decimal_text(c.quantity),
            "unit": c.unit,
            "price": _price_text(c.price),
            "price_per_million": per_million_of(c.unit, c.price),
            "price_name": c.price_name,
            "cost": decimal_text(c.cost),
        }
        for c in cost.components
    ]


def per_million_of(unit: str, price: Decimal) -> str | None:
    """A per-token price per million tokens, as people compare prices; None for other units."""
    return per_million(price) if unit == "token" else None


# Prices repeat across a batch (a few thousand models): render each once.
_PRICE_TEXT: dict[Decimal, str] = {}


def _price_text(price: Decimal) -> str:
    text = _PRICE_TEXT.get(price)
    if text is None:
        text = decimal_text(price)
        if len(_PRICE_TEXT) < 100_000:
            _PRICE_TEXT[price] = text
    return text


def error_fields(exc: RatecardError) -> dict[str, Any]:
    """The JSON error of one request (as http_errors renders it), for batch lines."""
    return {"error": exc.error, "status": exc.status, "detail": exc.detail, **exc.extra}

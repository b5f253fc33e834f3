"""The JSON price API under /api, served from the in-process catalog (history and `at` pricing
read the database). Every route is declared once in ROUTES, which both registers the view and
generates /openapi.json; the pydantic models named there validate the request.

Module-level imports stay light (no pydantic, no SQLAlchemy, no parsers) so `create_app()`
stays fast; the heavy modules load on the first request that needs them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify, request

from ratecard.api.openapi import RouteSpec, schema_model
from ratecard.errors import NotFound, RatecardError, ServiceUnavailable, ValidationFailed
from ratecard.extension import get_state
from ratecard.prices import codec
from ratecard.prices.catalog import CatalogCache, CatalogSnapshot, ServedModel
from ratecard.prices.model import ModelPrice
from ratecard.prices.money import decimal_text

blueprint = Blueprint("api", __name__, url_prefix="/api")
ROUTES: list[RouteSpec] = []

_COMMON_ERRORS = {404: "ErrorOut", 422: "ErrorOut", 503: "ErrorOut"}
# The documented examples: a model the LiteLLM feed and the bundled snapshot both list.
EXAMPLE_MODEL = "gpt-4o"

View = TypeVar("View", bound=Callable[..., Any])


def route(spec: RouteSpec) -> Callable[[View], View]:
    """Register a view under `spec` and list it in the OpenAPI route table."""

    def register(view: View) -> View:
        ROUTES.append(spec)
        blueprint.add_url_rule(
            spec.rule.removeprefix("/api"), spec.endpoint, view, methods=[spec.method]
        )
        return view

    return register


# --- request parsing -------------------------------------------------------------------------


def parse_query(model_name: str) -> Any:
    """Validate the query string with a pydantic model; a bad value is a 422 naming it."""
    from pydantic import ValidationError

    try:
        if not request.args:
            # The common lookup has no query string: its defaults are validated once, not per
            # request (views never mutate a query; a model with a required field still fails).
            return _query_defaults(model_name)
        return schema_model(model_name).model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise _validation_failed(exc) from None


@functools.cache
def _query_defaults(model_name: str) -> Any:
    return schema_model(model_name).model_validate({})


def parse_body(model_name: str) -> Any:
    """Validate a JSON body strictly; malformed JSON is a 400, a wrong value a 422."""
    from pydantic import ValidationError

    raw = request.get_data(cache=False)
    try:
        return schema_model(model_name).model_validate_json(raw)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise RatecardError("the body is not valid JSON") from None
        raise _validation_failed(exc) from None


def _validation_failed(exc: Any) -> ValidationFailed:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    message = first["msg"]
    if first["type"] == "model_type":
        field, message = "body", "the body must be a JSON object"
    return ValidationFailed(f"{field}: {message}", field=field)


# --- presentation ----------------------------------------------------------------------------


def model_item(served: ServedModel) -> dict[str, Any]:
    """Return one served model as the API shows it."""
    return codec.to_api(served.price, served.last_observed_at, served.last_changed_at)


def catalog_cache() -> CatalogCache:
    """Return this app's catalog cache."""
    return get_state().need_catalog_cache()


def current_catalog() -> CatalogSnapshot:
    """Return the newest catalog snapshot (503 if it cannot be loaded at all)."""
    return catalog_cache().current()


def preferred_sources() -> list[str]:
    """Sources in configured order: the first one listing an id answers for it."""
    return [s.name for s in get_state().settings.sources]


def _database_call(call: Callable[[Any], Any]) -> Any:
    """Run `call(conn)` on a short connection; a database outage is a 503, not a 500."""
    from sqlalchemy.exc import DataError, SQLAlchemyError

    try:
        with get_state().engine.connect() as conn:
            return call(conn)
    except DataError:
        # The database refused a value we passed it (PostgreSQL text cannot hold NUL): the
        # request is at fault, not the database, so this is a 422 and not an outage.
        raise ValidationFailed(
            "a parameter holds characters a model id or source cannot contain (e.g. NUL)"
        ) from None
    except SQLAlchemyError:
        raise ServiceUnavailable("the price database is unreachable; try again shortly") from None


# --- GET /api/models -------------------------------------------------------------------------


@route(
    RouteSpec(
        "GET",
        "/api/models",
        "list_models",
        "List served models: filter, sort, paginate (cursor, page, or page N after a cursor).",
        query="ModelListQuery",
        responses={200: "ModelListOut", **_COMMON_ERRORS},
    )
)
def list_models() -> Response:
    query = parse_query("ModelListQuery")
    snapshot = current_catalog()
    items = sorted_models(_filtered(snapshot.models, query), query.sort)
    # `page` counts pages of `limit` from the start, or from the cursor when both are given
    # (the document allows both, so both have a meaning rather than a 422).
    start = 0
    if query.cursor is not None:
        start = _cursor_position(items, query.sort, query.cursor)
    if query.page is not None:
        start += (query.page - 1) * query.limit
    page = items[start : start + query.limit]
    more = start + query.limit < len(items)
    next_cursor = (
        encode_cursor(query.sort, sort_key(page[-1], query.sort)) if page and more else None
    )
    return jsonify(
        {
            "items": [model_item(m) for m in page],
            "total": len(items),
            "limit": query.limit,
            "page": query.page,
            "next_cursor": next_cursor,
            "catalog_version": snapshot.version,
        }
    )


def _filtered(models: Iterable[ServedModel], query: Any) -> list[ServedModel]:
    text = query.q.lower() if query.q else None
    provider = query.provider.lower() if query.provider else None
    out = []
    for served in models:
        price = served.price
        if provider is not None and (price.provider or "").lower() != provider:
            continue
        if query.mode is not None and price.mode != query.mode:
            continue
        if query.status is not None and price.status != query.status:
            continue
        if query.source is not None and price.source != query.source:
            continue
        if text is not None and text not in price.model_id.lower():
            continue
        out.append(served)
    return out


def sort_key(served: ServedModel, sort: str) -> tuple[Any, ...]:
    """Return the total-order key of `sort` (ties broken by id, then source)."""
    price = served.price
    field_name = sort.lstrip("-")
    tail = (price.model_id, price.source)
    if field_name == "id":
        return tail
    if field_name == "provider":
        return (price.provider or "", *tail)
    value = price.input_per_token if field_name == "input_price" else price.output_per_token
    # Unpriced last in both directions; descending negates the price, not the tie-breakers.
    if value is None:
        return (1, Decimal(0), *tail)
    return (0, -value if sort.startswith("-") else value, *tail)


def sorted_models(models: list[ServedModel], sort: str) -> list[ServedModel]:
    """Sort models for `sort`; text sorts descend by reversing the whole order."""
    reverse = sort.startswith("-") and sort.lstrip("-") in ("id", "provider")
    return sorted(models, key=lambda m: sort_key(m, sort), reverse=reverse)


def encode_cursor(sort: str, key: tuple[Any, ...]) -> str:
    """Return an opaque cursor: the sort and the last item's key (decimals as text)."""
    parts = [{"d": str(part)} if isinstance(part, Decimal) else part for part in key]
    raw = json.dumps({"s": sort, "k": parts}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, ...]:
    """Return the key a cursor carries; any tampering is a 422 naming `cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if data["s"] != sort:
            raise ValueError("sort changed")
        key = tuple(Decimal(p["d"]) if isinstance(p, dict) else p for p in data["k"])
        if not all(isinstance(p, str | int | Decimal) for p in key) or not key:
            raise ValueError("bad key")
        return key
    except (ValueError, KeyError, TypeError, binascii.Error, ArithmeticError):
        raise ValidationFailed(
            "cursor: not a cursor this listing issued (with this sort)", field="cursor"
        ) from None


def _cursor_position(items: list[ServedModel], sort: str, cursor: str) -> int:
    key = decode_cursor(cursor, sort)
    reverse = sort.startswith("-") and sort.lstrip("-") in ("id", "provider")
    try:
        for index, served in enumerate(items):
            item_key = sort_key(served, sort)
            if (item_key < key) if reverse else (item_key > key):
                return index
    except TypeError:
        raise ValidationFailed("cursor: does not match this sort", field="cursor") from None
    return len(items)


# --- GET /api/models/<id> --------------------------------------------------------------------


@route(
    RouteSpec(
        "GET",
        "/api/models/<path:model_id>",
        "get_model",
        "One model: prices per token and per million, status, source, held change.",
        query="ModelQuery",
        responses={200: "ModelDetailOut", **_COMMON_ERRORS},
        path_examples={"model_id": EXAMPLE_MODEL},
    )
)
def get_model(model_id: str) -> Response:
    query = parse_query("ModelQuery")
    snapshot = current_catalog()
    served = snapshot.find(model_id, query.source, preferred_sources())
    if served is None:
        raise _model_not_found(snapshot, model_id, query.source)
    body = model_item(served)
    body["held_change"] = snapshot.held_by_model.get((served.price.source, model_id))
    body["other_sources"] = [
        m.price.source for m in snapshot.by_id.get(model_id, ()) if m is not served
    ]
    body["catalog_version"] = snapshot.version
    return jsonify(body)


def _model_not_found(snapshot: CatalogSnapshot, model_id: str, source: str | None) -> NotFound:
    if source is not None and snapshot.by_id.get(model_id):
        others = ", ".join(m.price.source for m in snapshot.by_id[model_id])
        return NotFound(f"source {source!r} does not list {model_id!r} (listed by: {others})")
    return NotFound(f"no model {model_id!r} is served")


# --- GET /api/models/<id>/history ------------------------------------------------------------


@route(
    RouteSpec(
        "GET",
        "/api/models/<path:model_id>/history",
        "get_model_history",
        "A model's price changes, newest first.",
        query="HistoryQuery",
        responses={200: "HistoryOut", **_COMMON_ERRORS},
        path_examples={"model_id": EXAMPLE_MODEL},
    )
)
def get_model_history(model_id: str) -> Response:
    from ratecard.prices import queries

    query = parse_query("HistoryQuery")
    source = _resolve_source(model_id, query.source)
    rows = _database_call(lambda conn: queries.load_history(conn, source, model_id, query.limit))
    entries = [
        {
            "observed_at": queries.iso(row.observed_at),
            "change": row.change,
            "run_id": row.run_id,
            "old": row.old,
            "new": row.new,
        }
        for row in rows
    ]
    return jsonify({"id": model_id, "source": source, "entries": entries})


def _resolve_source(model_id: str, source: str | None) -> str:
    """Pick the source for an id: the one asked for, else the preferred one that has (had) it."""
    from ratecard.prices import queries

    known = _database_call(lambda conn: queries.model_sources(conn, model_id))
    if source is not None:
        if source not in known:
            raise NotFound(f"source {source!r} never listed {model_id!r}")
        return source
    if not known:
        raise NotFound(f"no model {model_id!r} was ever listed")
    rank = {name: i for i, name in enumerate(preferred_sources())}
    served = {m.price.source for m in current_catalog().by_id.get(model_id, ())}
    return min(known, key=lambda s: (s not in served, rank.get(s, len(rank)), s))


# --- POST /api/cost --------------------------------------------------------------------------


@route(
    RouteSpec(
        "POST",
        "/api/cost",
        "price_request",
        "The exact cost of a request, now or with the prices in force at `at`.",
        body="CostRequest",
        responses={200: "CostOut", 400: "ErrorOut", 413: "ErrorOut", **_COMMON_ERRORS},
        body_example={"model": EXAMPLE_MODEL, "input_tokens": 1000, "output_tokens": 500},
    )
)
def cost() -> Response:
    from ratecard.prices.cost import NotPriceable, price_request

    body = parse_body("CostRequest")
    price, version, priced_at = _price_for(body.model, body.source, body.at)
    counts = {
        "input": body.input_tokens,
        "output": body.output_tokens,
        "cache_read": body.cache_read_tokens,
        "cache_write": body.cache_write_tokens,
        "request": 1,
    }
    try:
        breakdown = price_request(
            price,
            input_tokens=body.input_tokens,
            output_tokens=body.output_tokens,
            cache_read_tokens=body.cache_read_tokens,
            cache_write_tokens=body.cache_write_tokens,
        )
    except NotPriceable as exc:
        raise ValidationFailed(f"model: {exc.reason}", field="model") from None
    components = {
        name: {
            "tokens": counts.get(name, 0),
            "price_per_token": decimal_text(breakdown.prices.get(name, Decimal(0))),
            "cost": decimal_text(amount),
        }
        for name, amount in breakdown.components.items()
    }
    return jsonify(
        {
            "model": price.model_id,
            "source": price.source,
            "total": decimal_text(breakdown.total),
            "currency": "USD",
            "components": components,
            "tier_above_tokens": breakdown.tier_above_tokens,
            "price_version": version,
            "priced_at": priced_at,
        }
    )


def _price_for(
    model_id: str, source: str | None, at: datetime | None
) -> tuple[ModelPrice, int | None, str | None]:
    """Return (prices, the version that set them, since when) now or at a past time."""
    from ratecard.prices import queries

    if at is None:
        snapshot = current_catalog()
        served = snapshot.find(model_id, source, preferred_sources())
        if served is None:
            raise _model_not_found(snapshot, model_id, source)
        return served.price, snapshot.version, snapshot.updated_at
    when = at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # naive means UTC
    chosen = _resolve_source(model_id, source)
    found = _database_call(lambda conn: queries.price_at(conn, chosen, model_id, when))
    if found is None:
        raise NotFound(
            f"no price for {model_id!r} of {chosen!r} was in force at {queries.iso(when)}"
        )
    return found.price, found.run_id, queries.iso(found.observed_at)


# --- GET /api/catalog ------------------------------------------------------------------------


@route(
    RouteSpec(
        "GET",
        "/api/catalog",
        "get_catalog",
        "Catalog version, counts by status, each source's last outcome, held changes.",
        responses={200: "CatalogOut", 503: "ErrorOut"},
    )
)
def get_catalog() -> Response:
    snapshot = current_catalog()
    return jsonify(
        {
            "version": snapshot.version,
            "updated_at": snapshot.updated_at,
            "models": len(snapshot.models),
            "counts": snapshot.counts_by_status,
            "sources": list(snapshot.sources),
            "held": list(snapshot.held),
        }
    )

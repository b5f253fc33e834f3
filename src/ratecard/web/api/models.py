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
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any, cast

from flask import Blueprint, Response, jsonify, request

from ratecard.catalog import codec
from ratecard.catalog.identity import Resolution
from ratecard.catalog.model import ModelPrice
from ratecard.errors import (
    RatecardError,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from ratecard.json_keys import first_key_twice
from ratecard.serving.catalog_cache import CatalogCache, CatalogSnapshot, ServedModel
from ratecard.web.openapi import RouteSpec, route_registrar, schema_model
from ratecard.web.state import get_state

if TYPE_CHECKING:
    from ratecard.costing.cost_requests import ModelAt, Resolver

blueprint = Blueprint("api", __name__, url_prefix="/api")
ROUTES: list[RouteSpec] = []

_COMMON_ERRORS = {404: "ErrorOut", 422: "ErrorOut", 503: "ErrorOut"}
# Every route that takes a model resolves it: several different models match -> 409.
_MODEL_ERRORS = {**_COMMON_ERRORS, 409: "AmbiguousOut"}
# The documented examples: a model the LiteLLM feed and the bundled snapshot both list.
EXAMPLE_MODEL = "gpt-4o"

route = route_registrar(blueprint, ROUTES)


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
    """Validate a JSON body strictly; malformed JSON is a 400, a wrong value a 422.

    The work spent on a bad body stays bounded by its size and stops at the first error: a
    1 MB body of ~90,000 unknown keys cost ~1.3 s of CPU when pydantic built (twice) an error
    per key. A plain parse (~30 ms per MB) and a look at the keys reject it first; pydantic
    then sees only bodies whose keys are all fields, so it has at most a few errors to build
    (bench/hostile.py measures it).
    """
    from pydantic import ValidationError

    model = schema_model(model_name)
    known = model.model_fields if model.model_config.get("extra") == "forbid" else None
    raw, _data = read_json_body(known)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise _validation_failed(exc) from None


def read_json_body(known: Collection[str] | None) -> tuple[bytes, Any]:
    """Return the raw body and its value once it is JSON with no key twice and (when `known`
    is given) an object's top-level keys all in `known`; else the 415, 400 or 422 naming the
    fault."""
    if request.mimetype != "application/json":
        # text/plain, form and multipart bodies are "simple" requests a browser sends cross-site
        # without a CORS preflight; insisting on JSON makes every such POST a preflighted one.
        raise UnsupportedMediaType(
            "the body must be sent as Content-Type: application/json", field="Content-Type"
        )
    raw = request.get_data(cache=False)
    data = _parse_json(raw)
    if isinstance(data, dict) and known is not None:
        unknown = next((key for key in data if key not in known), None)
        if unknown is not None:
            shown = _key_text(unknown)
            raise ValidationFailed(f"{shown}: Extra inputs are not permitted", field=shown)
    # Only now the slower parse that sees duplicate keys (a plain dict keeps the last one).
    _refuse_key_given_twice(raw)
    return raw, data


def _refuse_key_given_twice(raw: bytes) -> None:
    """A 422 naming a key some object of the (parsed) body gives twice."""
    twice = first_key_twice(raw)
    if twice is not None:
        shown = _key_text(twice)
        raise ValidationFailed(f"{shown}: given twice", field=shown)


def _parse_json(raw: bytes) -> Any:
    """Parse a body as JSON; anything else is a 400. NaN and Infinity parse: pydantic then
    refuses them with a 422 naming their field."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        # RecursionError: `[[[[...` nested deeper than the parser's stack, a 400 like any
        # other body that is not JSON we accept.
        raise RatecardError("the body is not valid JSON") from None


def _key_text(key: str) -> str:
    # A key may be most of a megabyte: name it, do not echo it.
    return key if len(key) <= 100 else key[:99] + "…"


def _validation_failed(exc: Any) -> RatecardError:
    # One call, without the inputs or URLs: errors() builds every error, and only the first
    # is reported.
    first = exc.errors(include_url=False, include_context=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        return RatecardError("the body is not valid JSON")
    field = ".".join(str(part) for part in first["loc"]) or "body"
    message = first["msg"]
    if first["type"] == "model_type":
        field, message = "body", "the body must be a JSON object"
    return ValidationFailed(f"{field}: {message}", field=field)


# --- presentation ----------------------------------------------------------------------------


def model_item(served: ServedModel) -> dict[str, Any]:
    """Return one served model as the API shows it."""
    return codec.to_api(
        served.price,
        served.last_observed_at,
        served.last_changed_at,
        rejected_reason=served.rejected_reason,
        rejected_since=served.rejected_since,
    )


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
        # Only finite decimals: NaN, sNaN and Infinity parse, but comparing a signalling NaN
        # raises InvalidOperation mid-listing (a 500), and no price we issue is ever one.
        if any(isinstance(p, Decimal) and not p.is_finite() for p in key):
            raise ValueError("not a finite decimal")
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
        "One model, resolved the way people type it (exact, case, provider prefix, another "
        "source's id): prices per token and per million, its entries in other sources and "
        "where they disagree; with ?at= the prices in force at that time.",
        query="ModelQuery",
        responses={200: "ModelDetailOut", **_MODEL_ERRORS},
        path_examples={"model_id": EXAMPLE_MODEL},
    )
)
def get_model(model_id: str) -> Response:
    query = parse_query("ModelQuery")
    snapshot = current_catalog()
    if query.at is not None:
        return jsonify(_model_at(snapshot, model_id, query.source, _as_utc(query.at)))
    resolution = resolve_model(snapshot, model_id, query.source)
    body = dict(_served_body(snapshot, resolution))
    body["resolved"] = resolution.to_json()
    return jsonify(body)


def _served_body(snapshot: CatalogSnapshot, resolution: Resolution) -> dict[str, Any]:
    """A served model's answer minus `resolved`: built once per catalog version, then reused
    (the linked entries' prices and disagreements would otherwise cost every request)."""
    price = resolution.price
    key = ("model", price.source, price.model_id)
    body: dict[str, Any] | None = snapshot.memo.get(key)
    if body is None:
        served = snapshot.find(price.model_id, price.source)
        assert served is not None  # the resolver answers with an entry of this snapshot
        body = model_item(served)
        body.update(identity_fields(snapshot, resolution))
        body["held_change"] = snapshot.held_by_model.get((price.source, price.model_id))
        body["catalog_version"] = snapshot.version
        body["at"] = None
        body["priced_since"] = None
        snapshot.memo[key] = body
    return body


def resolve_model(snapshot: CatalogSnapshot, model_id: str, source: str | None) -> Resolution:
    """Resolve a model as typed against the served catalog (404 unknown, 409 ambiguous)."""
    return snapshot.identity.resolve(model_id, source, preferred_sources())


def identity_fields(snapshot: CatalogSnapshot, resolution: Resolution) -> dict[str, Any]:
    """The resolution, the same model in other sources, and where their prices differ."""
    price = resolution.price
    return linked_fields(resolution, price, snapshot.identity.linked(price))


def linked_fields(
    resolution: Resolution, price: ModelPrice, linked: Iterable[ModelPrice]
) -> dict[str, Any]:
    """`resolved`, `other_sources`, `linked` and `disagreements` of `price` among `linked`."""
    from ratecard.catalog.identity import price_differences

    linked = list(linked)
    return {
        "resolved": resolution.to_json(),
        "other_sources": sorted({p.source for p in linked} - {price.source}),
        "linked": [linked_item(p) for p in linked],
        "disagreements": [
            {"other": {"id": p.model_id, "source": p.source}, "fields": difference_items(diffs)}
            for p in linked
            if p.source != price.source and (diffs := price_differences(price, p))
        ],
    }


def linked_item(price: ModelPrice) -> dict[str, Any]:
    """Return a linked entry as a model's answer lists it."""
    return {
        "id": price.model_id,
        "source": price.source,
        "provider": price.provider,
        "status": price.status,
        "prices": codec.api_prices(price),
    }


def difference_items(differences: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"field": d.field, "a": d.a, "b": d.b, "ratio": d.ratio} for d in differences]


def _as_utc(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)  # naive means UTC


def _model_at(
    snapshot: CatalogSnapshot, model_id: str, source: str | None, when: datetime
) -> dict[str, Any]:
    """A model's answer with the prices in force at `when` (its linked entries' too)."""
    from ratecard.costing.cost_requests import model_then
    from ratecard.serving import queries

    resolution = _resolve_recorded(snapshot, model_id, source)
    price = resolution.price
    linked = snapshot.identity.linked(price)

    def lookup(conn: Any) -> tuple[ModelAt, list[Any]]:
        found = model_then(conn, resolution, when)  # 404 if no price was in force then
        others = [queries.price_at(conn, p.source, p.model_id, when) for p in linked]
        return found, [o.price for o in others if o is not None]

    found, linked_then = _database_call(lookup)
    then = found.price
    body = model_item(ServedModel(then, found.priced_at, None))
    body.update(linked_fields(resolution, then, linked_then))
    body.update(
        {
            "held_change": None,
            "catalog_version": snapshot.version,
            "at": queries.iso(when),
            "priced_since": found.priced_at,
        }
    )
    return body


def _resolve_recorded(snapshot: CatalogSnapshot, model_id: str, source: str | None) -> Resolution:
    """Resolve against what is served; a removed model is still found by its exact id."""
    from ratecard.serving import queries
    from ratecard.serving.catalog_cache import resolve_recorded

    def sources_of(recorded: str) -> list[str]:
        return cast("list[str]", _database_call(lambda conn: queries.model_sources(conn, recorded)))

    return resolve_recorded(snapshot, model_id, source, preferred_sources(), sources_of)


# --- GET /api/models/<id>/history ------------------------------------------------------------


@route(
    RouteSpec(
        "GET",
        "/api/models/<path:model_id>/history",
        "get_model_history",
        "A model's price changes in time order (newest first; ?order=asc for oldest first), "
        "backfilled snapshots included.",
        query="HistoryQuery",
        responses={200: "HistoryOut", **_MODEL_ERRORS},
        path_examples={"model_id": EXAMPLE_MODEL},
    )
)
def get_model_history(model_id: str) -> Response:
    from ratecard.serving import queries

    query = parse_query("HistoryQuery")
    resolution = _resolve_recorded(current_catalog(), model_id, query.source)
    source, served_id = resolution.price.source, resolution.price.model_id
    rows = _database_call(
        lambda conn: queries.load_history(conn, source, served_id, query.limit, query.order)
    )
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
    return jsonify(
        {"id": served_id, "source": source, "resolved": resolution.to_json(), "entries": entries}
    )


# --- GET /api/disagreements ------------------------------------------------------------------


@route(
    RouteSpec(
        "GET",
        "/api/disagreements",
        "list_disagreements",
        "Linked models whose sources disagree: each pair of entries, the fields that differ, "
        "both values and the ratio b / a.",
        query="DisagreementQuery",
        responses={200: "DisagreementListOut", 422: "ErrorOut", 503: "ErrorOut"},
    )
)
def list_disagreements() -> Response:
    query = parse_query("DisagreementQuery")
    snapshot = current_catalog()
    items = []
    for found in snapshot.identity.disagreements():
        if query.source is not None and query.source not in (found.a.source, found.b.source):
            continue
        fields = [d for d in found.differences if query.field in (None, d.field)]
        if not fields:
            continue
        items.append(
            {
                "model": found.model,
                "a": {"id": found.a.model_id, "source": found.a.source},
                "b": {"id": found.b.model_id, "source": found.b.source},
                "fields": difference_items(fields),
            }
        )
    return jsonify(
        {
            "items": items,
            "total": len(items),
            "linked_models": len(snapshot.identity.linked_models()),
            "catalog_version": snapshot.version,
        }
    )


# --- POST /api/cost, POST /api/cost/batch ---------------------------------------------------

# One example per form: flat counts, an Anthropic usage block, a real OpenAI chat response.
COST_EXAMPLES: dict[str, dict[str, Any]] = {
    "flat counts": {
        "model": EXAMPLE_MODEL,
        "input_tokens": 1000,
        "cache_read_tokens": 200,
        "output_tokens": 500,
    },
    "usage block (Anthropic)": {
        "model": "claude-sonnet-4-5",
        "format": "anthropic",
        "usage": {
            "input_tokens": 2095,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 1800,
            "output_tokens": 503,
            "service_tier": "standard",
        },
    },
    "whole response (OpenAI chat)": {
        "response": {
            "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
            "object": "chat.completion",
            "created": 1741570283,
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello!", "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 1117,
                "completion_tokens": 46,
                "total_tokens": 1163,
                "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fc9f1d7035",
        }
    },
}


@route(
    RouteSpec(
        "POST",
        "/api/cost",
        "price_request",
        "The exact cost of a request, from flat counts, a provider's usage block or its whole "
        "response, now or with the prices in force at `at`: every component's quantity, unit, "
        "price and cost. `model` is resolved as GET /api/models/<id> resolves it; a price the "
        "request needs and the model lacks is a 422 naming it (`field`, `price`).",
        body="CostRequest",
        responses={
            200: "CostOut",
            400: "ErrorOut",
            413: "ErrorOut",
            415: "ErrorOut",
            **_MODEL_ERRORS,
        },
        body_examples=COST_EXAMPLES,
    )
)
def cost() -> Response:
    from ratecard.costing.cost_requests import REQUEST_KEYS, answer_cost, parse_cost_request

    request_ = parse_cost_request(read_json_body(REQUEST_KEYS)[1])
    model = model_resolver(current_catalog())(request_.model, request_.source, request_.at)
    return jsonify(answer_cost(request_, model))


@route(
    RouteSpec(
        "POST",
        "/api/cost/batch",
        "price_batch",
        "Many cost requests in one body: `application/x-ndjson` (one request a line; the "
        "answer is NDJSON, one result a non-blank line, in order) or a JSON array (the answer "
        "is an array). Each item is a POST /api/cost body; one that fails gets its own error "
        "object with its `line` (array item, from 1), `status` and `field`, and the others are "
        "priced. Bodies up to RATECARD_BATCH_MAX_BYTES (128 MiB by default).",
        body="CostBatchRequest",
        responses={
            200: "CostBatchOut",
            400: "ErrorOut",
            413: "ErrorOut",
            415: "ErrorOut",
            422: "ErrorOut",
            503: "ErrorOut",
        },
        body_example=list(COST_EXAMPLES.values()),
    )
)
def cost_batch() -> Response:
    from ratecard.costing.cost_batch import BatchPricer

    mimetype = request.mimetype
    if mimetype not in ("application/json", "application/x-ndjson"):
        raise UnsupportedMediaType(
            "the body must be application/x-ndjson (one request a line) or application/json "
            "(an array of requests)",
            field="Content-Type",
        )
    snapshot = current_catalog()
    pricer = BatchPricer(model_resolver(snapshot))
    if mimetype == "application/json":
        return _batch_array(pricer, request.get_data(cache=False))
    from ratecard.costing.cost_batch_child import ndjson_on_two_cores

    stream = request.stream
    chunks = iter(functools.partial(stream.read, _READ_CHUNK), b"")
    results: Iterator[bytes]
    if get_state().settings.batch_fork:
        # A large body is priced on two cores (a forked child, kept for the next batch of this
        # same catalog object); the model index is built here first, never in the child (see
        # ndjson_on_two_cores).
        results = ndjson_on_two_cores(
            pricer, chunks, prepare=lambda: snapshot.identity, catalog=snapshot
        )
    else:
        results = pricer.ndjson(chunks)
    spool = _spooled(results)
    from werkzeug.wsgi import wrap_file

    # The spool handed to the server whole: gunicorn sends it with sendfile(2) (no copy through
    # Python), its length known. Closed (its file removed) once sent, or when the client goes
    # away before the end: the server closes the wrapper, which closes the spool.
    response = Response(
        wrap_file(request.environ, spool, _READ_CHUNK),
        mimetype="application/x-ndjson",
        direct_passthrough=True,
    )
    response.content_length = spool.tell()
    spool.seek(0)
    return response


_READ_CHUNK = 1024 * 1024
# Results beyond this many bytes wait on disk, not in memory (see _spooled).
_SPOOL_IN_MEMORY = 8 * 1024 * 1024


def _batch_array(pricer: Any, raw: bytes) -> Response:
    import orjson

    # The standard parser, as for a single request: it sees a key given twice (a 422 for the
    # whole body: which item it was in is not known). NDJSON, the fast path, checks per line.
    items = _parse_json(raw)
    _refuse_key_given_twice(raw)
    if not isinstance(items, list):
        raise ValidationFailed(
            "body: must be a JSON array of cost requests (or NDJSON, one a line)", field="body"
        )
    return Response(orjson.dumps(pricer.array(items)), mimetype="application/json")


def _spooled(results: Iterable[bytes]) -> IO[bytes]:
    """Price the whole NDJSON body as it arrives; return the results written (at their end).

    Not line for line: a client that sends its whole body before reading (http.client,
    requests, most scripts) would deadlock against a server already writing results, once both
    directions' socket buffers are full (a few MB). So results go to a spooled file (memory up
    to _SPOOL_IN_MEMORY, then disk) while the body is read in chunks, and the answer streams
    from it once the body is read; memory stays flat for any body size, and a body over the
    limit is still a clean 413 (nothing was sent yet).
    """
    import tempfile

    # Closed by the response once sent, or here if pricing fails: not a `with` block.
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        for piece in results:
            spool.write(piece)
    except BaseException:
        spool.close()
        raise
    return spool


def model_resolver(snapshot: CatalogSnapshot) -> Resolver:
    """Resolve cost requests' models against `snapshot`, with `at` from the price history."""
    from ratecard.costing.cost_requests import catalog_resolver, model_then

    def then(model_id: str, source: str | None, at: datetime) -> ModelAt:
        resolution = _resolve_recorded(snapshot, model_id, source)
        return cast("ModelAt", _database_call(lambda conn: model_then(conn, resolution, at)))

    return catalog_resolver(snapshot, preferred_sources(), then)


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
            "sources": [_shown(s, "error") for s in snapshot.sources],
            "held": [_shown(h, "reason") for h in snapshot.held],
        }
    )


def _shown(item: dict[str, Any], field: str) -> dict[str, Any]:
    """Return `item` with its free text through the dashboard's public filter: a feed error
    may name a local path or a host (`file not found: /srv/...`); the admin token sees all."""
    import socket

    from ratecard.logs import secrets_of
    from ratecard.web.auth import is_admin
    from ratecard.web.dashboard.format import alias_key, public_text

    settings = get_state().settings
    text = public_text(
        item.get(field),
        secrets=secrets_of(settings),
        hosts=[socket.gethostname()],
        admin=is_admin(),
        key=alias_key(settings.admin_token),
    )
    return {**item, field: text}

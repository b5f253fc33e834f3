"""The JSON price API's reads of what is served now: the model listing, one model, the
disagreements between sources, and the catalog's summary. All of it comes from the in-process
catalog; `history` reads the past from the database.

Module-level imports stay light (no pydantic, no SQLAlchemy, no parsers) so `create_app()`
stays fast; the heavy modules load on the first request that needs them.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

from flask import Response, jsonify

from ratecard.catalog.identity import Resolution
from ratecard.catalog.snapshot import CatalogSnapshot, ServedModel
from ratecard.logs import secrets_of
from ratecard.web.api.blueprint import (
    COMMON_ERRORS,
    EXAMPLE_MODEL,
    MODEL_ERRORS,
    current_catalog,
    models_route,
    preferred_sources,
)
from ratecard.web.api.cursors import cursor_position, encode_cursor, sort_key, sorted_models
from ratecard.web.api.history import model_at
from ratecard.web.api.presentation import difference_items, identity_fields, model_item
from ratecard.web.auth import is_admin
from ratecard.web.cached_answers import CachedAnswer, cached_answer, conditional_response
from ratecard.web.empty_queries import empty_query
from ratecard.web.redaction import alias_key, public_text
from ratecard.web.request_parsing import parse_query
from ratecard.web.routes import RouteSpec
from ratecard.web.state import get_state


@models_route(
    RouteSpec(
        "GET",
        "/api/models",
        "list_models",
        "List the served models: filter, sort, paginate.",
        description="Pages by cursor, by page number, or page N after a cursor. The "
        "unfiltered first pages carry an ETag (304 on If-None-Match while unchanged).",
        query="ModelListQuery",
        responses={200: "ModelListOut", **COMMON_ERRORS},
        conditional=True,
    )
)
def list_models() -> Response:
    query = parse_query("ModelListQuery")
    snapshot = current_catalog()
    if _is_first_page(query):
        # At most (sorts x FIRST_PAGES) answers per version: the listing as a client opens it.
        key = ("list-answer", query.sort, query.page)
        return conditional_response(cached_answer(snapshot, key, lambda: _listing(snapshot, query)))
    return jsonify(_listing(snapshot, query))


# The unfiltered listing's first pages, at the default page size, are kept as bytes per
# catalog version (web/cached_answers.py): what every client's first screen asks for.
FIRST_PAGES = 5


def _is_first_page(query: Any) -> bool:
    unfiltered = all(
        value is None for value in (query.provider, query.mode, query.status, query.source, query.q)
    )
    default_limit = query.limit == empty_query("ModelListQuery").limit
    return (
        unfiltered and default_limit and query.cursor is None and (query.page or 1) <= FIRST_PAGES
    )


def _listing(snapshot: CatalogSnapshot, query: Any) -> dict[str, Any]:
    items = sorted_models(_filtered(snapshot.models, query), query.sort)
    # `page` counts pages of `limit` from the start, or from the cursor when both are given
    # (the document allows both, so both have a meaning rather than a 422).
    start = 0
    if query.cursor is not None:
        start = cursor_position(items, query.sort, query.cursor)
    if query.page is not None:
        start += (query.page - 1) * query.limit
    page = items[start : start + query.limit]
    more = start + query.limit < len(items)
    next_cursor = (
        encode_cursor(query.sort, sort_key(page[-1], query.sort)) if page and more else None
    )
    return {
        "items": [model_item(m) for m in page],
        "total": len(items),
        "limit": query.limit,
        "page": query.page,
        "next_cursor": next_cursor,
        "catalog_version": snapshot.version,
    }


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


# The one model's route (its metrics label too, for the reads web/api/kept_reads.py answers).
MODEL_RULE = "/api/models/<path:model_id>"


@models_route(
    RouteSpec(
        "GET",
        MODEL_RULE,
        "get_model",
        "One model's prices, its name resolved the way people type it.",
        description="Resolved exact, then by case, provider prefix or another source's id: "
        "prices per token and per million, its entries in other sources and where they "
        "disagree; with ?at= the prices in force at that time. Answers of now carry an ETag "
        "(304 on If-None-Match while unchanged).",
        query="ModelQuery",
        responses={200: "ModelDetailOut", **MODEL_ERRORS},
        path_examples={"model_id": EXAMPLE_MODEL},
        conditional=True,
    )
)
def get_model(model_id: str) -> Response:
    query = parse_query("ModelQuery")
    snapshot = current_catalog()
    if query.at is not None:
        return jsonify(model_at(snapshot, model_id, query.source, query.at))
    key = _answer_key(model_id, query.source)
    answer = snapshot.memo.get(key)
    if answer is None:
        resolution = resolve_model(snapshot, model_id, query.source)
        # Kept only for an id as the catalog spells it: at most one answer per entry and
        # source filter, however many spellings clients send (those resolve each time).
        answer = cached_answer(
            snapshot,
            key,
            lambda: {**_served_body(snapshot, resolution), "resolved": resolution.to_json()},
            keep=resolution.price.model_id == model_id,
        )
    return conditional_response(answer)


def _answer_key(model_id: str, source: str | None) -> tuple[str, str, str | None]:
    return ("model-answer", model_id, source)


def kept_model_answer(snapshot: CatalogSnapshot, model_id: str) -> CachedAnswer | None:
    """The answer of `GET /api/models/<model_id>` (no query) kept in `snapshot`, if any."""
    found: CachedAnswer | None = snapshot.memo.get(_answer_key(model_id, None))
    return found


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


@models_route(
    RouteSpec(
        "GET",
        "/api/disagreements",
        "list_disagreements",
        "Linked models whose sources disagree on a price, the most contested first.",
        description="Each pair of entries, the fields that differ, both values and the "
        "ratio b / a, and per field how many of the sources stating it agree with a and with "
        "b (`agreement`). Ordered by how far the best-supported side is from a consensus: a "
        "price no two sources agree on comes before one where a third source sides with a.",
        query="DisagreementQuery",
        responses={200: "DisagreementListOut", 422: "ErrorOut", 503: "ErrorOut"},
    )
)
def list_disagreements() -> Response:
    query = parse_query("DisagreementQuery")
    snapshot = current_catalog()
    items = []
    for found in snapshot.identity.disagreements():  # the most contested first
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
                "agreement": {
                    d.field: dict(zip(("a", "b", "of"), found.sides[d.field], strict=True))
                    for d in fields
                    if d.field in found.sides
                },
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


@models_route(
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
    settings = get_state().settings
    text = public_text(
        item.get(field),
        secrets=secrets_of(settings),
        hosts=[socket.gethostname()],
        admin=is_admin(),
        key=alias_key(settings.admin_token),
    )
    return {**item, field: text}

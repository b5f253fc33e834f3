"""The price API's reads of the past: a model's history, and its prices in force at a time.

Both read the database (the in-process catalog holds only what is served now).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Response, jsonify

from ratecard.catalog.snapshot import CatalogSnapshot, ServedModel
from ratecard.timetext import instant_text
from ratecard.web.api.blueprint import (
    EXAMPLE_MODEL,
    MODEL_ERRORS,
    current_catalog,
    models_route,
    preferred_sources,
)
from ratecard.web.api.presentation import linked_fields, model_item
from ratecard.web.request_parsing import parse_query
from ratecard.web.routes import RouteSpec
from ratecard.web.state import database_call

if TYPE_CHECKING:
    from sqlalchemy import Connection

# Deferred: the queries (SQLAlchemy, ~0.2 s) are imported by the first read of the past, not
# at start-up.


@models_route(
    RouteSpec(
        "GET",
        "/api/models/<path:model_id>/history",
        "get_model_history",
        "A model's price changes in time order.",
        description="Newest first (?order=asc for oldest first), backfilled snapshots included.",
        query="HistoryQuery",
        responses={200: "HistoryOut", **MODEL_ERRORS},
        path_examples={"model_id": EXAMPLE_MODEL},
    )
)
def get_model_history(model_id: str) -> Response:
    from ratecard.serving import queries
    from ratecard.serving.prices_at import resolve_then

    query = parse_query("HistoryQuery")
    snapshot = current_catalog()

    def read(conn: Connection) -> tuple[Any, list[Any]]:
        resolution = resolve_then(conn, snapshot, model_id, query.source, preferred_sources())
        price = resolution.price
        rows = queries.load_history(conn, price.source, price.model_id, query.limit, query.order)
        return resolution, rows

    resolution, rows = database_call(read)
    entries = [
        {
            "observed_at": instant_text(row.observed_at),
            "change": row.change,
            "run_id": row.run_id,
            "old": row.old,
            "new": row.new,
        }
        for row in rows
    ]
    price = resolution.price
    return jsonify(
        {
            "id": price.model_id,
            "source": price.source,
            "resolved": resolution.to_json(),
            "entries": entries,
        }
    )


def model_at(
    snapshot: CatalogSnapshot, model_id: str, source: str | None, when: datetime
) -> dict[str, Any]:
    """A model's answer with the prices in force at `when` (its linked entries' too)."""
    from ratecard.serving import queries
    from ratecard.serving.prices_at import model_then, resolve_then

    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)  # naive means UTC

    def lookup(conn: Connection) -> tuple[Any, Any, list[Any]]:
        resolution = resolve_then(conn, snapshot, model_id, source, preferred_sources())
        found = model_then(conn, resolution, when)  # 404 if no price was in force then
        linked = snapshot.identity.linked(resolution.price)
        others = [queries.price_at(conn, p.source, p.model_id, when) for p in linked]
        return resolution, found, [o.price for o in others if o is not None]

    resolution, found, linked_then = database_call(lookup)
    then = found.price
    body = model_item(ServedModel(then, found.priced_at, None))
    body.update(linked_fields(resolution, then, linked_then))
    body.update(
        {
            "held_change": None,
            "catalog_version": snapshot.version,
            "at": instant_text(when),
            "priced_since": found.priced_at,
        }
    )
    return body

"""Prices in force at a past time: a model resolved among all it ever recorded, and the resolver
cost requests with `at` use, built once for the API and `ratecard cost`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import TypeVar

from sqlalchemy import Connection

from ratecard.catalog.identity import Resolution
from ratecard.catalog.snapshot import CatalogSnapshot, resolve_recorded
from ratecard.costing.cost_requests import ModelAt, Resolver, catalog_resolver
from ratecard.errors import NotFound
from ratecard.serving import queries
from ratecard.timetext import instant_text

T = TypeVar("T")
# Runs a read on a connection: the API's short connection per call, or the CLI's open one.
WithConnection = Callable[[Callable[[Connection], T]], T]


def model_then(conn: Connection, resolution: Resolution, at: datetime) -> ModelAt:
    """The resolved model's prices in force at `at`, from the history (404 if none were)."""
    source, model_id = resolution.price.source, resolution.price.model_id
    found = queries.price_at(conn, source, model_id, at)
    if found is None:
        raise NotFound(
            f"no price for {model_id!r} of {source!r} was in force at {instant_text(at)}"
        )
    return ModelAt(resolution, found.price, found.run_id, instant_text(found.observed_at))


def resolve_then(
    conn: Connection,
    snapshot: CatalogSnapshot,
    model_id: str,
    source: str | None,
    preferred: Sequence[str],
) -> Resolution:
    """Resolve a model as typed against what is served, then among the ids ever recorded (a
    model no longer served still has its past prices)."""
    return resolve_recorded(
        snapshot, model_id, source, preferred, partial(queries.model_sources, conn)
    )


def history_resolver(
    snapshot: CatalogSnapshot, preferred: Sequence[str], with_connection: WithConnection[ModelAt]
) -> Resolver:
    """Resolve cost requests against `snapshot`; one with `at` reads the price history on a
    connection `with_connection` gives (one read per such request)."""

    def then(model_id: str, source: str | None, at: datetime) -> ModelAt:
        def lookup(conn: Connection) -> ModelAt:
            resolution = resolve_then(conn, snapshot, model_id, source, preferred)
            return model_then(conn, resolution, at)

        return with_connection(lookup)

    return catalog_resolver(snapshot, preferred, then)

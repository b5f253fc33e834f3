"""Reads for the API, the cache and the CLI: the catalog, history, prices in force at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from ratecard.catalog import codec
from ratecard.catalog.model import ModelPrice
from ratecard.schema import (
    MODEL_ROW_COLUMNS,
    held_changes,
    models,
    price_history,
    run_sources,
    runs,
    source_state,
)
from ratecard.timetext import instant_text
from ratecard.vocabulary import HeldKind, HeldStatus


def load_catalog_data(conn: Connection, version: int | None) -> dict[str, Any]:
    """Return the whole served catalog as JSON-ready data (what the cache and Redis hold)."""
    observed = {
        row.source: row.last_success_at
        for row in conn.execute(select(source_state.c.source, source_state.c.last_success_at))
    }
    snapshot_dates = {
        row.source: row.snapshot_date
        for row in conn.execute(select(source_state.c.source, source_state.c.snapshot_date))
    }
    items = []
    served = models.c.removed_at.is_(None)
    query = select(*MODEL_ROW_COLUMNS).where(served).order_by(models.c.model_id)
    for row in conn.execute(query):
        # Straight from the row: tiers and units are stored in their snapshot (JSON) form.
        item = codec.row_to_item(
            row,
            instant_text(observed.get(row.source) or row.last_seen_at),
            instant_text(row.last_changed_at),
            rejected_reason=row.rejected_reason,
            rejected_since=instant_text(row.rejected_since),
        )
        items.append(item)
    updated_at = None
    if version is not None:
        finished = conn.execute(select(runs.c.finished_at).where(runs.c.id == version)).scalar()
        updated_at = instant_text(finished)
    return {
        "version": version,
        "updated_at": updated_at,
        "models": items,
        "sources": _last_source_outcomes(conn, snapshot_dates),
        "held": [held_row_data(r) for r in _pending_held_rows(conn)],
    }


def _last_source_outcomes(
    conn: Connection, snapshot_dates: Mapping[str, str | None]
) -> list[dict[str, Any]]:
    latest = (
        select(func.max(run_sources.c.id).label("id"))
        .group_by(run_sources.c.source)
        .scalar_subquery()
    )
    query = select(run_sources).where(run_sources.c.id.in_(latest)).order_by(run_sources.c.source)
    return [
        {
            "source": r.source,
            "run_id": r.run_id,
            "outcome": r.outcome,
            "finished_at": instant_text(r.finished_at),
            "fetched": r.fetched,
            "added": r.added,
            "changed": r.changed,
            "removed": r.removed,
            "held": r.held,
            "rejected": r.rejected,
            "problems": r.problems or [],
            "error": r.error,
            "snapshot_date": snapshot_dates.get(r.source),
        }
        for r in conn.execute(query)
    ]


def _pending_held_rows(conn: Connection) -> list[Any]:
    query = select(held_changes).where(held_changes.c.status == HeldStatus.PENDING)
    return list(conn.execute(query.order_by(held_changes.c.id)))


def held_row_data(row: Any) -> dict[str, Any]:
    """Return a held_changes row as JSON-ready data."""
    return {
        "id": row.id,
        "kind": row.kind,
        "source": row.source,
        "model_id": row.model_id,
        "run_id": row.run_id,
        "detected_at": instant_text(row.detected_at),
        "reason": row.reason,
        "factor": row.factor,
        "old": row.old,
        "proposed": row.proposed,
        "moves": codec.price_moves(row.old, row.proposed) if row.kind == HeldKind.PRICE else [],
        "status": row.status,
    }


def load_history(
    conn: Connection, source: str, model_id: str, limit: int = 500, order: str = "desc"
) -> list[Any]:
    """Return the price history rows of one model in time order, newest first unless `asc`.

    Ordered by the observation time, not the row id: a backfilled snapshot's rows are inserted
    after newer ones but belong before them.
    """
    if order == "asc":
        by_time = (price_history.c.observed_at.asc(), price_history.c.id.asc())
    else:
        by_time = (price_history.c.observed_at.desc(), price_history.c.id.desc())
    query = (
        select(price_history)
        .join(models, models.c.id == price_history.c.model_pk)
        .where(models.c.source == source, models.c.model_id == model_id)
        .order_by(*by_time)
        .limit(limit)
    )
    return list(conn.execute(query))


def latest_catalog_version(conn: Connection) -> int | None:
    """Return the newest committed catalog version (a run id), or None before any run."""
    value = conn.execute(select(func.max(runs.c.catalog_version))).scalar_one()
    return None if value is None else int(value)


def model_sources(conn: Connection, model_id: str) -> list[str]:
    """Return the sources that have (or had) a row for `model_id`."""
    query = select(models.c.source).where(models.c.model_id == model_id)
    return sorted(conn.execute(query).scalars())


@dataclass(frozen=True)
class PriceInForce:
    """The prices of a model at some past time, from the history row that set them."""

    price: ModelPrice
    observed_at: datetime
    run_id: int | None


def price_at(conn: Connection, source: str, model_id: str, at: datetime) -> PriceInForce | None:
    """Return the prices of a model in force at `at`, or None (not yet listed, or removed)."""
    query = (
        select(price_history.c.new, price_history.c.observed_at, price_history.c.run_id)
        .join(models, models.c.id == price_history.c.model_pk)
        .where(models.c.source == source, models.c.model_id == model_id)
        .where(price_history.c.observed_at <= at.astimezone(UTC))
        .order_by(price_history.c.observed_at.desc(), price_history.c.id.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    if row is None or row.new is None:
        return None
    like = conn.execute(
        select(models).where(models.c.source == source, models.c.model_id == model_id)
    ).first()
    price = codec.from_snapshot(row.new, source, model_id, codec.from_row(like) if like else None)
    return PriceInForce(price, row.observed_at or at, row.run_id)


def get_model_row(conn: Connection, source: str, model_id: str) -> Any | None:
    """Return the `models` row of one model of one source, removed or not."""
    query = select(models).where(models.c.source == source, models.c.model_id == model_id)
    return conn.execute(query).first()

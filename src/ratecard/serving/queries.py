"""Reads for the API, the cache and the CLI: the catalog, history, prices in force at a time."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from ratecard.catalog import codec
from ratecard.catalog.model import DESCRIPTIVE_FIELDS, ModelPrice
from ratecard.schema import (
    MODEL_ROW_COLUMNS,
    held_changes,
    job_state,
    models,
    price_history,
    run_sources,
    runs,
    source_state,
)
from ratecard.timetext import instant_text
from ratecard.vocabulary import HeldKind, HeldStatus, JobName


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


def refresh_generation(conn: Connection) -> int:
    """The refresh job's commit generation: every committed refresh and import adds one, in
    the transaction that writes its prices and history (coordination.fence)."""
    value = conn.execute(
        select(job_state.c.generation).where(job_state.c.job == JobName.REFRESH)
    ).scalar()
    return int(value or 0)


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


@dataclass
class PriceTimeline:
    """Every price one model of one source was recorded at, oldest first: one read answers
    any number of instants (a batch of lines each with its own `at`)."""

    source: str
    model_id: str
    observed: list[datetime]  # ascending; ties in the order they were recorded
    # (the snapshot then, or None once removed; run id; the history row's id)
    rows: list[tuple[Any, int | None, int]]
    like: Any  # the model's row now (its descriptive columns): what a snapshot leaves out
    _decoded: dict[int, ModelPrice] = field(default_factory=dict)

    def at(self, at: datetime) -> PriceInForce | None:
        """The prices in force at `at`, or None (not yet listed, or removed by then)."""
        return self.entry(self.index_at(at))

    def index_at(self, at: datetime) -> int:
        """The place of the row in force at `at` (-1: none yet): the last row observed at or
        before `at`; of rows observed at the same instant, the one recorded last (the order
        price_timelines reads them in)."""
        when = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        return bisect_right(self.observed, when) - 1

    def periods(self) -> Iterator[tuple[Any, datetime, datetime | None]]:
        """Each span a row was in force, oldest first: (its snapshot, from, until; None while
        in force). Left out, as `index_at` never answers with them: rows that removed the
        model, and rows followed by another recorded at the same instant."""
        for index, (snapshot, _, _) in enumerate(self.rows):
            start = self.observed[index]
            end = self.observed[index + 1] if index + 1 < len(self.observed) else None
            if snapshot is not None and end != start:
                yield snapshot, start, end

    def entry(self, index: int) -> PriceInForce | None:
        """The prices row `index` set (None: no row, or the model removed by it)."""
        if index < 0:
            return None
        snapshot, run_id, row_id = self.rows[index]
        if snapshot is None:
            return None
        price = self._decoded.get(index)
        if price is None:
            price = self._decoded[index] = _decoded(self, snapshot, row_id)
        return PriceInForce(price, self.observed[index], run_id)


def _decoded(timeline: PriceTimeline, snapshot: Any, row_id: int) -> ModelPrice:
    """The prices of history row `row_id` (its `snapshot`), the same object for every read of
    the row while this process keeps it.

    Each batch (each request) reads the history anew; decoded anew each time, the prices of
    ~2,000 models would be new objects for every batch, and what a batch keeps per price
    object across batches (cost_batch's fixed answer text, the costliest part of a batch over
    many models) would be rebuilt every time. Kept by row id and the descriptive columns the
    model's row gives it; the snapshot is compared on a hit, so a row id a database reuses
    after a delete never answers with another row's prices.
    """
    like = timeline.like
    descriptive = tuple(getattr(like, name) for name in DESCRIPTIVE_FIELDS) if like else None
    key = (timeline.source, timeline.model_id, row_id, descriptive)
    kept = _DECODED.get(key)
    if kept is not None and kept[0] == snapshot:
        return kept[1]
    price = codec.from_snapshot(snapshot, timeline.source, timeline.model_id, like)
    if len(_DECODED) >= DECODED_KEPT:
        _DECODED.clear()  # a new catalog's rows replace the old ones
    _DECODED[key] = (snapshot, price)
    return price


# Decoded history rows kept across reads (see _decoded): (source, model id, row id, the
# descriptive columns) -> (the snapshot, its prices). Bounded: cleared when full (a source's
# whole history is a few thousand rows).
_DECODED: dict[tuple[Any, ...], tuple[Any, ModelPrice]] = {}
DECODED_KEPT = 50_000


def price_timeline(conn: Connection, source: str, model_id: str) -> PriceTimeline:
    """Read a model's whole price history (usually a few rows) for `PriceTimeline.at`."""
    found = price_timelines(conn, source, model_id)
    return found.get(model_id) or PriceTimeline(source, model_id, [], [], None)


def price_timelines(
    conn: Connection, source: str, model_id: str | None = None
) -> dict[str, PriceTimeline]:
    """Every model's timeline of `source` (or just `model_id`'s), in two reads."""
    history = (
        select(
            models.c.model_id,
            price_history.c.new,
            price_history.c.observed_at,
            price_history.c.run_id,
            price_history.c.id,
        )
        .join(models, models.c.id == price_history.c.model_pk)
        .where(models.c.source == source, price_history.c.observed_at.is_not(None))
        .order_by(models.c.model_id, price_history.c.observed_at.asc(), price_history.c.id.asc())
    )
    # Only what from_snapshot takes from the row (decoding every price of every row of a
    # source cost more than the rest of a bulk read together).
    rows_now = select(models.c.model_id, *(models.c[name] for name in DESCRIPTIVE_FIELDS)).where(
        models.c.source == source
    )
    if model_id is not None:
        history = history.where(models.c.model_id == model_id)
        rows_now = rows_now.where(models.c.model_id == model_id)
    found = {
        row.model_id: PriceTimeline(source, row.model_id, [], [], row)
        for row in conn.execute(rows_now)
    }
    for row in conn.execute(history):
        timeline = found.get(row.model_id)
        if timeline is not None:  # a history row always has its model's row (foreign key)
            timeline.observed.append(row.observed_at)
            timeline.rows.append((row.new, row.run_id, row.id))
    return found


def price_at(conn: Connection, source: str, model_id: str, at: datetime) -> PriceInForce | None:
    """Return the prices of a model in force at `at`, or None (not yet listed, or removed)."""
    return price_timeline(conn, source, model_id).at(at)


def get_model_row(conn: Connection, source: str, model_id: str) -> Any | None:
    """Return the `models` row of one model of one source, removed or not."""
    query = select(models).where(models.c.source == source, models.c.model_id == model_id)
    return conn.execute(query).first()

"""The catalog's writes: load what is served, apply a guard decision, keep source state.

Runs are recorded by `run_records`, admin decisions on held changes by `held_review`, and
reads for the API and the cache live in `queries`.

Writes go through `apply_decision` inside the caller's transaction and touch only rows whose
values differ from what is stored: an unchanged feed of 3,000 models costs one SELECT and no
write. Every change to what is served leaves a `price_history` row (old -> new snapshot).

A served model's "last observed" time is its source's `source_state.last_success_at` (every
successful fetch re-observes every model it lists); `models.last_seen_at` is only moved when
the row itself is written, so that an unchanged refresh writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    bindparam,
    func,
    insert,
    select,
    update,
)

from ratecard.catalog import codec
from ratecard.catalog.model import ModelPrice
from ratecard.db import bulk_insert
from ratecard.ingest.guard import GuardDecision, guard_feed
from ratecard.schema import MODEL_ROW_COLUMNS, held_changes, models, price_history, source_state
from ratecard.vocabulary import ChangeKind, HeldKind, HeldStatus

if TYPE_CHECKING:
    from ratecard.ingest.feeds import ParsedFeed
    from ratecard.settings import Settings

# The source name versions before the stand-in (see `bundled`) served the bundled snapshot
# under; a refresh retires its rows.
LEGACY_BUNDLED_SOURCE = "bundled"


def utcnow() -> datetime:
    """Return the current time, timezone-aware UTC (the only kind this module stores)."""
    return datetime.now(UTC)


# --- loading what is served ------------------------------------------------------------------


@dataclass(frozen=True)
class StoredModel:
    """A `models` row: its primary key, its prices, whether it is removed, why it is stale."""

    pk: int
    price: ModelPrice
    removed_at: datetime | None
    rejected_reason: str | None = None


def load_source_rows(conn: Connection, source: str) -> dict[str, StoredModel]:
    """Return every row of `source` (served and removed) by model id."""
    result = conn.execute(select(*MODEL_ROW_COLUMNS).where(models.c.source == source))
    return {
        row.model_id: StoredModel(row.id, codec.from_row(row), row.removed_at, row.rejected_reason)
        for row in result
    }


def served_prices(rows: Mapping[str, StoredModel]) -> dict[str, ModelPrice]:
    """Return the served (not removed) prices among `rows`."""
    return {mid: r.price for mid, r in rows.items() if r.removed_at is None}


def load_served(conn: Connection, source: str) -> dict[str, ModelPrice]:
    """Return the models `source` serves now, by model id."""
    return served_prices(load_source_rows(conn, source))


def load_pending_held(
    conn: Connection, source: str, current: Mapping[str, ModelPrice] | None = None
) -> dict[str, ModelPrice]:
    """Return the pending held price changes of `source` as proposed prices, by model id."""
    query = (
        select(held_changes.c.model_id, held_changes.c.proposed)
        .where(held_changes.c.source == source)
        .where(held_changes.c.kind == HeldKind.PRICE)
        .where(held_changes.c.status == HeldStatus.PENDING)
        .order_by(held_changes.c.id)
    )
    current = current or {}
    return {
        row.model_id: codec.from_snapshot(
            row.proposed, source, row.model_id, current.get(row.model_id)
        )
        for row in conn.execute(query)
        if row.proposed is not None
    }


def count_served(conn: Connection) -> int:
    """Return how many models are served across all sources."""
    query = select(func.count()).select_from(models).where(models.c.removed_at.is_(None))
    return int(conn.execute(query).scalar_one())


def has_pending_held(conn: Connection, source: str) -> bool:
    """Return whether `source` has held changes awaiting confirmation."""
    query = (
        select(held_changes.c.id)
        .where(held_changes.c.source == source, held_changes.c.status == HeldStatus.PENDING)
        .limit(1)
    )
    return conn.execute(query).first() is not None


# --- applying a refresh ----------------------------------------------------------------------


@dataclass
class SourceCounts:
    """What one source's refresh changed (counts recorded in `run_sources`)."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    held: int = 0
    confirmed: int = 0
    touched: int = 0  # rows written for descriptive changes only (no price history)
    stale: int = 0  # served models kept at their last good prices (entry rejected)
    marked: int = 0  # rows whose stale mark was set, changed or lifted

    @property
    def any_change(self) -> bool:
        return bool(
            self.added or self.changed or self.removed or self.held or self.touched or self.marked
        )


@dataclass(frozen=True)
class FeedMeta:
    """What the fetch learned about a source, kept for the next conditional request."""

    url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_sha256: str | None = None
    snapshot_date: str | None = None
    # When the body must be parsed again, unchanged or not (ParsedFeed.read_again_at).
    read_again_at: datetime | None = None


def guard_and_apply(
    conn: Connection,
    source: str,
    parsed: ParsedFeed,
    settings: Settings,
    *,
    run_id: int | None,
    now: datetime,
) -> tuple[GuardDecision, SourceCounts]:
    """Judge a parsed feed against what `source` serves now and write what the guard lets
    through (holds and a quarantine included): the one way a feed's prices become served, for
    a refresh and an import alike, so neither can serve what the other would hold."""
    rows = load_source_rows(conn, source)
    current = served_prices(rows)
    decision = guard_feed(
        current,
        parsed,
        load_pending_held(conn, source, current),
        max_removed_fraction=settings.quarantine_removed_fraction,
        hold_factor=Decimal(str(settings.hold_factor)),
    )
    counts = apply_decision(conn, source, decision, rows=rows, run_id=run_id, now=now)
    return decision, counts


def apply_decision(
    conn: Connection,
    source: str,
    decision: GuardDecision,
    *,
    rows: Mapping[str, StoredModel],
    run_id: int | None,
    now: datetime,
) -> SourceCounts:
    """Write a guard decision for `source`: only rows that differ, with history; no commit."""
    counts = SourceCounts()
    if decision.quarantined:
        _supersede_pending(conn, source, kind=HeldKind.FEED, now=now)
        _insert_held_feed(conn, source, decision.quarantine_reason or "quarantined", run_id, now)
        counts.held = 1
        return counts

    inserts: list[ModelPrice] = []
    updates: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for model_id, price in decision.upserts.items():
        stored = rows.get(model_id)
        if stored is None:
            inserts.append(price)
            continue
        if stored.removed_at is None and stored.price == price:
            continue  # the common case: nothing to write
        values = codec.to_row(price)
        values.update(b_pk=stored.pk, removed_at=None, last_seen_at=now, last_run_id=run_id)
        prices_moved = stored.removed_at is not None or not stored.price.same_prices(price)
        values["last_changed_at"] = now if prices_moved else None
        updates.append(values)
        if stored.removed_at is not None:
            counts.added += 1
            history.append(history_row(stored.pk, run_id, now, ChangeKind.RESTORED, None, price))
        elif prices_moved:
            counts.changed += 1
            history.append(
                history_row(stored.pk, run_id, now, ChangeKind.CHANGED, stored.price, price)
            )
        else:
            counts.touched += 1

    removals = []
    for model_id in decision.removals:
        stored = rows.get(model_id)
        if stored is None or stored.removed_at is not None:
            continue
        removals.append({"b_pk": stored.pk, "removed_at": now, "last_run_id": run_id})
        history.append(history_row(stored.pk, run_id, now, ChangeKind.REMOVED, stored.price, None))
    counts.removed = len(removals)

    if inserts:
        counts.added += len(inserts)
        history.extend(_insert_models(conn, inserts, run_id, now))
    _update_models(conn, updates)
    if removals:
        conn.execute(_UPDATE_BY_PK, removals)
    bulk_insert(conn, price_history, history)
    counts.stale = len(decision.stale)
    counts.marked = _mark_stale(conn, decision, rows, now)

    counts.held, counts.confirmed = _resolve_and_hold(conn, source, decision, run_id, now)
    return counts


def _mark_stale(
    conn: Connection, decision: GuardDecision, rows: Mapping[str, StoredModel], now: datetime
) -> int:
    """Mark models whose entry was rejected; lift the mark from those read cleanly again.

    Only rows whose mark changes are written, so a feed with the same typo every hour writes
    nothing after the first time, and `rejected_since` keeps the time the typo appeared.
    """
    marks = []
    for model_id, reason in decision.stale.items():
        stored = rows.get(model_id)
        if stored is None or stored.removed_at is not None or stored.rejected_reason == reason:
            continue
        values: dict[str, Any] = {"b_pk": stored.pk, "rejected_reason": reason}
        if stored.rejected_reason is None:
            values["rejected_since"] = now
        marks.append(values)
    lifts = [
        {"b_pk": stored.pk, "rejected_reason": None, "rejected_since": None}
        for model_id in decision.listed
        if (stored := rows.get(model_id)) is not None and stored.rejected_reason is not None
    ]
    # One executemany per shape: a changed reason keeps its original rejected_since.
    for batch in (
        [m for m in marks if "rejected_since" in m],
        [m for m in marks if "rejected_since" not in m],
        lifts,
    ):
        if batch:
            conn.execute(_UPDATE_BY_PK, batch)
    return len(marks) + len(lifts)


def history_row(
    pk: int, run_id: int | None, now: datetime, change: str, old: ModelPrice | None, new: Any
) -> dict[str, Any]:
    return {
        "model_pk": pk,
        "run_id": run_id,
        "observed_at": now,
        "change": change,
        "old": codec.to_snapshot(old) if old is not None else None,
        "new": codec.to_snapshot(new) if new is not None else None,
    }


def _insert_models(
    conn: Connection, prices: Sequence[ModelPrice], run_id: int | None, now: datetime
) -> list[dict[str, Any]]:
    ids = insert_model_rows(conn, prices, run_id, now)
    return [history_row(ids[p.model_id], run_id, now, ChangeKind.ADDED, None, p) for p in prices]


def insert_model_rows(
    conn: Connection,
    prices: Sequence[ModelPrice],
    run_id: int | None,
    seen_at: datetime,
    **extra: Any,
) -> dict[str, int]:
    """Insert new `models` rows of one source, first seen at `seen_at`; their pks by model id.

    `extra` sets more columns on every row (a backfill inserts models already removed).
    """
    if not prices:
        return {}
    params = []
    for price in prices:
        values = codec.to_row(price)
        values.update(
            first_seen_at=seen_at,
            last_seen_at=seen_at,
            last_changed_at=seen_at,
            last_run_id=run_id,
            **extra,
        )
        params.append(values)
    bulk_insert(conn, models, params)
    # The whole source's ids, not `model_id IN (...)`: a first refresh inserts thousands.
    query = select(models.c.model_id, models.c.id).where(models.c.source == prices[0].source)
    ids = dict(conn.execute(query).all())
    return {p.model_id: ids[p.model_id] for p in prices}


def _update_models(conn: Connection, updates: list[dict[str, Any]]) -> None:
    # One executemany per shape (SET columns come from the parameter keys): rows whose
    # prices moved also move last_changed_at, the others keep it.
    moved = [u for u in updates if u["last_changed_at"] is not None]
    kept = [{k: v for k, v in u.items() if k != "last_changed_at"} for u in updates]
    kept = [k for k, u in zip(kept, updates, strict=True) if u["last_changed_at"] is None]
    for batch in (moved, kept):
        if batch:
            conn.execute(_UPDATE_BY_PK, [_without_keys(b) for b in batch])


def _without_keys(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in ("source", "model_id")}


# UPDATE models SET <the parameter keys> WHERE id = :b_pk, for executemany.
_UPDATE_BY_PK = update(models).where(models.c.id == bindparam("b_pk"))


def _resolve_and_hold(
    conn: Connection, source: str, decision: GuardDecision, run_id: int | None, now: datetime
) -> tuple[int, int]:
    """Resolve pending held rows of `source` and record the new ones; return (held, confirmed).

    A fetch that was not quarantined settles every pending row of the source: the change the
    feed now confirms becomes `confirmed`; any other pending row is `superseded` (the feed moved
    on, or the same suspicious change is held again as a new row with this run's id).
    """
    confirmed = set(decision.confirmed)
    pending = conn.execute(
        select(held_changes.c.id, held_changes.c.model_id, held_changes.c.kind).where(
            held_changes.c.source == source, held_changes.c.status == HeldStatus.PENDING
        )
    ).all()
    by_status: dict[HeldStatus, list[int]] = {HeldStatus.CONFIRMED: [], HeldStatus.SUPERSEDED: []}
    for row in pending:
        status = (
            HeldStatus.CONFIRMED
            if row.kind == HeldKind.PRICE and row.model_id in confirmed
            else HeldStatus.SUPERSEDED
        )
        by_status[status].append(row.id)
    for status, ids in by_status.items():
        if ids:
            conn.execute(
                update(held_changes)
                .where(held_changes.c.id.in_(ids))
                .values(status=status, resolved_at=now, resolved_by=f"run:{run_id}")
            )
    if decision.held:
        conn.execute(
            insert(held_changes),
            [
                {
                    "kind": HeldKind.PRICE,
                    "source": source,
                    "model_id": h.model_id,
                    "run_id": run_id,
                    "detected_at": now,
                    "reason": h.reason,
                    "factor": None if h.factor is None else str(h.factor),
                    "old": codec.to_snapshot(h.old) if h.old is not None else None,
                    "proposed": codec.to_snapshot(h.proposed),
                    "status": HeldStatus.PENDING,
                }
                for h in decision.held
            ],
        )
    return len(decision.held), len(by_status[HeldStatus.CONFIRMED])


def _supersede_pending(conn: Connection, source: str, *, kind: str, now: datetime) -> None:
    conn.execute(
        update(held_changes)
        .where(
            held_changes.c.source == source,
            held_changes.c.kind == kind,
            held_changes.c.status == HeldStatus.PENDING,
        )
        .values(status=HeldStatus.SUPERSEDED, resolved_at=now, resolved_by="quarantine")
    )


def _insert_held_feed(
    conn: Connection, source: str, reason: str, run_id: int | None, now: datetime
) -> None:
    conn.execute(
        insert(held_changes).values(
            kind=HeldKind.FEED,
            source=source,
            run_id=run_id,
            detected_at=now,
            reason=reason,
            status=HeldStatus.PENDING,
        )
    )


def retire_source(conn: Connection, source: str, run_id: int | None, now: datetime) -> int:
    """Mark every served model of `source` removed (with history); return how many."""
    rows = load_source_rows(conn, source)
    removals = [r for r in rows.values() if r.removed_at is None]
    if not removals:
        return 0
    conn.execute(
        _UPDATE_BY_PK,
        [{"b_pk": r.pk, "removed_at": now, "last_run_id": run_id} for r in removals],
    )
    conn.execute(
        insert(price_history),
        [history_row(r.pk, run_id, now, ChangeKind.REMOVED, r.price, None) for r in removals],
    )
    return len(removals)


# --- source state (conditional requests) -----------------------------------------------------


def load_source_state(conn: Connection, source: str) -> FeedMeta | None:
    """Return what the last successful fetch of `source` recorded, or None."""
    row = conn.execute(select(source_state).where(source_state.c.source == source)).first()
    if row is None:
        return None
    return FeedMeta(
        url=row.url,
        etag=row.etag,
        last_modified=row.last_modified,
        content_sha256=row.content_sha256,
        snapshot_date=row.snapshot_date,
        read_again_at=row.read_again_at,
    )


def save_source_state(
    conn: Connection, source: str, meta: FeedMeta | None, *, now: datetime, success: bool
) -> None:
    """Record a fetch of `source`: validators and date on success, the fetch time always."""
    values: dict[str, Any] = {"last_fetched_at": now}
    if success:
        values["last_success_at"] = now
    if meta is not None:
        values.update(
            url=meta.url,
            etag=meta.etag,
            last_modified=meta.last_modified,
            content_sha256=meta.content_sha256,
            read_again_at=meta.read_again_at,
        )
        if meta.snapshot_date is not None:
            values["snapshot_date"] = meta.snapshot_date
    done = conn.execute(update(source_state).where(source_state.c.source == source).values(values))
    if done.rowcount == 0:
        conn.execute(insert(source_state).values(source=source, **values))

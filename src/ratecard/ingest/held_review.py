"""Admin decisions on held changes: accept (apply the held price) or reject, each as its own run.

Each decision commits as a run of its own, tells the change log hook what it released in that
same transaction, then publishes the catalog version it produced, as a refresh does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from ratecard.catalog import codec
from ratecard.errors import Conflict, NotFound, RatecardError
from ratecard.ingest.refresh import ChangeRecorder, RefreshDeps, publish_committed
from ratecard.ingest.run_records import RunInfo, abandon_run, finish_run, start_run
from ratecard.ingest.store import history_row, load_source_rows, utcnow
from ratecard.schema import held_changes, models, price_history
from ratecard.serving import queries
from ratecard.vocabulary import ChangeKind, HeldKind, HeldStatus, JobName, RunOutcome, Trigger

# held_changes.id is a 32-bit INTEGER on PostgreSQL; SQLite's is 64-bit. An id beyond the
# column cannot exist, and passing it anyway fails in the driver (SQLite: OverflowError, a
# 500; PostgreSQL: NumericValueOutOfRange, a 503): range-check first, answer 404.
MAX_HELD_ID = 2**31 - 1


@dataclass(frozen=True)
class HeldResolution:
    """The result of an admin decision: the held row and the catalog version it produced."""

    held_id: int
    status: str
    catalog_version: int | None
    published: bool = False


def review_held(deps: RefreshDeps, held_id: int, decision: str, by: str) -> HeldResolution:
    """Accept or reject pending held change `held_id`, then publish the catalog it produced.

    Publishing at once: without it, other instances would learn of the review only at their
    cache's next reconcile with the database (seconds later), and this one's page would lag.
    """
    ensure_pending(deps.engine, held_id)
    resolve = accept_held if decision == "accept" else reject_held
    result = resolve(deps.engine, held_id, by, deps.record_changes)
    if result.catalog_version is None:
        return result
    with deps.engine.connect() as conn:
        data = queries.load_catalog_data(conn, result.catalog_version)
    return replace(result, published=publish_committed(deps, result.catalog_version, data))


def ensure_pending(engine: Engine, held_id: int) -> None:
    """Raise NotFound / Conflict unless `held_id` is a pending held change.

    The decision checks this too, but only after it has opened a review run: checking first
    keeps a mistyped id from leaving a run row behind.
    """
    if not 0 < held_id <= MAX_HELD_ID:
        raise NotFound(f"no held change {held_id}", field="held_id")
    with engine.connect() as conn:
        _pending_held_row(conn, held_id)


def accept_held(
    engine: Engine, held_id: int, by: str, record_changes: ChangeRecorder
) -> HeldResolution:
    """Apply a pending held price change now (history row included) and mark it accepted.

    The change is committed as its own run (job `held-review`), whose id is the new catalog
    version to publish, so every instance's cache picks the accepted price up.
    """
    now = utcnow()
    with _review_run(engine, by) as run_id, engine.begin() as conn:
        held = _pending_held_row(conn, held_id)
        if held.kind != HeldKind.PRICE or held.proposed is None:
            raise Conflict(
                f"held change {held_id} is a quarantined feed; it cannot be accepted as a "
                "whole, only rejected (the next fetch re-evaluates the feed)",
                field="held_id",
            )
        rows = load_source_rows(conn, held.source)
        stored = rows.get(held.model_id)
        if stored is None:
            raise NotFound(f"model {held.model_id!r} of {held.source!r} no longer exists")
        proposed = codec.from_snapshot(held.proposed, held.source, held.model_id, stored.price)
        change = ChangeKind.RESTORED if stored.removed_at is not None else ChangeKind.CHANGED
        old = None if stored.removed_at is not None else stored.price
        row = codec.to_row(proposed)
        row.update(removed_at=None, last_seen_at=now, last_changed_at=now, last_run_id=run_id)
        conn.execute(update(models).where(models.c.id == stored.pk).values(row))
        conn.execute(
            insert(price_history).values(history_row(stored.pk, run_id, now, change, old, proposed))
        )
        _resolve_held(conn, held_id, HeldStatus.ACCEPTED, by, now)
        finish_run(conn, run_id, RunOutcome.SUCCESS, catalog_version=run_id, now=now)
        record_changes(conn, run_id, now, released=[held_id])
    return HeldResolution(held_id, "accepted", run_id)


def reject_held(
    engine: Engine, held_id: int, by: str, record_changes: ChangeRecorder
) -> HeldResolution:
    """Dismiss a pending held change (price or quarantined feed); served prices stay as they are.

    Committed as its own run so the catalog's held list (published with the version) updates.
    """
    now = utcnow()
    with _review_run(engine, by) as run_id, engine.begin() as conn:
        _pending_held_row(conn, held_id)
        _resolve_held(conn, held_id, HeldStatus.REJECTED, by, now)
        finish_run(conn, run_id, RunOutcome.SUCCESS, catalog_version=run_id, now=now)
        record_changes(conn, run_id, now, released=[held_id])
    return HeldResolution(held_id, HeldStatus.REJECTED, run_id)


@contextmanager
def _review_run(engine: Engine, by: str) -> Iterator[int]:
    """Open the `held-review` run an admin decision commits as; close it if the decision fails.

    Without this, an unknown or already-resolved id (or a lost race between two admins)
    would leave a run stuck at `running` forever.
    """
    run_id = start_run(
        engine, RunInfo(job=JobName.HELD_REVIEW, instance_id=by, trigger=Trigger.ADMIN)
    )
    try:
        yield run_id
    except RatecardError as exc:
        abandon_run(engine, run_id, RunOutcome.REJECTED, exc.detail)
        raise
    except Exception as exc:
        abandon_run(engine, run_id, RunOutcome.FAILED, type(exc).__name__)
        raise


def _pending_held_row(conn: Connection, held_id: int) -> Any:
    row = conn.execute(select(held_changes).where(held_changes.c.id == held_id)).first()
    if row is None:
        raise NotFound(f"no held change {held_id}", field="held_id")
    if row.status != HeldStatus.PENDING:
        raise Conflict(f"held change {held_id} is already {row.status}", field="held_id")
    return row


def _resolve_held(conn: Connection, held_id: int, status: str, by: str, now: datetime) -> None:
    conn.execute(
        update(held_changes)
        .where(held_changes.c.id == held_id)
        .values(status=status, resolved_at=now, resolved_by=by)
    )

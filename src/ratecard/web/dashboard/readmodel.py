"""What the dashboard reads from the database that no other module serves: recent refresh
runs with their per-source rows, and pending held changes (read-only, plain SQL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from ratecard.schema import held_changes, run_sources, runs
from ratecard.vocabulary import HeldStatus, JobName


def recent_runs(
    conn: Connection, job: str = JobName.REFRESH, limit: int = 12
) -> list[dict[str, Any]]:
    """Return the job's latest runs, newest first, each with its per-source outcomes."""
    rows = conn.execute(
        select(runs).where(runs.c.job == job).order_by(runs.c.id.desc()).limit(limit)
    ).all()
    by_run: dict[int, list[dict[str, Any]]] = {row.id: [] for row in rows}
    if by_run:
        sources = conn.execute(
            select(run_sources)
            .where(run_sources.c.run_id.in_(list(by_run)))
            .order_by(run_sources.c.source)
        )
        for s in sources:
            by_run[s.run_id].append(
                {
                    "source": s.source,
                    "outcome": s.outcome,
                    "duration": _seconds_between(s.started_at, s.finished_at),
                    "fetched": s.fetched,
                    "added": s.added,
                    "changed": s.changed,
                    "removed": s.removed,
                    "held": s.held,
                    "rejected": s.rejected,
                    "problems": s.problems or [],
                    "error": s.error,
                }
            )
    return [
        {
            "id": row.id,
            "trigger": row.trigger,
            "instance_id": row.instance_id,
            "slot": row.slot,
            "fence": row.fence,
            "outcome": row.outcome,
            "started_at": row.started_at,
            "finished_at": row.finished_at,
            "duration": _seconds_between(row.started_at, row.finished_at),
            "error": row.error,
            "catalog_version": row.catalog_version,
            "sources": by_run[row.id],
        }
        for row in rows
    ]


def pending_held(conn: Connection, limit: int = 200) -> list[Any]:
    """Return the pending held changes (price and whole-feed), oldest first."""
    query = (
        select(held_changes)
        .where(held_changes.c.status == HeldStatus.PENDING)
        .order_by(held_changes.c.id)
        .limit(limit)
    )
    return list(conn.execute(query))


def _seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)

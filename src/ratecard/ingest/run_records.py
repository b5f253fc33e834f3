"""Run records: a `running` row at the start, per-source outcomes, the committed outcome."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, update

from ratecard.ingest.store import SourceCounts, utcnow
from ratecard.schema import run_sources, runs
from ratecard.vocabulary import JobName, RunOutcome


@dataclass(frozen=True)
class RunInfo:
    """Who runs a job: what `runs` records besides times and outcome."""

    job: str = JobName.REFRESH
    slot: int | None = None
    fence: int | None = None
    instance_id: str | None = None
    trigger: str | None = None


def start_run(engine: Engine, info: RunInfo, now: datetime | None = None) -> int:
    """Insert a `running` row in its own transaction; return the run id.

    A run under the job's lease (with a fence) also closes the job's older fenced runs still
    `running`. Timeline this prevents: the instance running refresh 41 is SIGKILLed mid-run;
    nothing is left to finish its row, which says `running` forever on the dashboard, in
    worker status and in the run history. Run 42 holds the lease with a greater fence, so no
    runner of 41 can still commit (its fence is refused): 41 is recorded as cancelled. Were
    41's process only paused, it would be fenced at its commit and record that itself.
    """
    when = now or utcnow()
    with engine.begin() as conn:
        if info.fence is not None:
            conn.execute(
                update(runs)
                .where(
                    runs.c.job == info.job,
                    runs.c.outcome == RunOutcome.RUNNING,
                    runs.c.fence < info.fence,
                )
                .values(
                    outcome=RunOutcome.CANCELLED,
                    finished_at=when,
                    error=f"never finished: its process ended mid-run (closed by the run "
                    f"with fence {info.fence})",
                )
            )
        result = conn.execute(
            insert(runs)
            .values(
                job=info.job,
                slot=info.slot,
                fence=info.fence,
                instance_id=info.instance_id,
                trigger=info.trigger,
                started_at=when,
                outcome=RunOutcome.RUNNING,
            )
            .returning(runs.c.id)
        )
        return int(result.scalar_one())


@dataclass
class SourceRecord:
    """One `run_sources` row."""

    source: str
    started_at: datetime
    outcome: str
    finished_at: datetime | None = None
    fetched: int = 0
    rejected: int = 0
    unknown_fields: int = 0
    error: str | None = None
    counts: SourceCounts = field(default_factory=SourceCounts)
    # What the feed got wrong: [{"model_id", "field" (None: whole entry), "reason"}].
    problems: list[dict[str, Any]] = field(default_factory=list)


# A feed broken in every entry would otherwise write thousands of reasons into one run row;
# the count (`rejected`) stays exact, the list keeps the first ones.
PROBLEMS_RECORDED = 200


def record_sources(conn: Connection, run_id: int, records: Iterable[SourceRecord]) -> None:
    """Insert the per-source outcomes of a run."""
    params = [
        {
            "run_id": run_id,
            "source": r.source,
            "started_at": r.started_at,
            "finished_at": r.finished_at,
            "outcome": r.outcome,
            "fetched": r.fetched,
            "added": r.counts.added,
            "changed": r.counts.changed,
            "removed": r.counts.removed,
            "held": r.counts.held,
            "rejected": r.rejected,
            "unknown_fields": r.unknown_fields,
            "error": r.error,
            "problems": r.problems[:PROBLEMS_RECORDED] or None,
        }
        for r in records
    ]
    if params:
        conn.execute(insert(run_sources), params)


def finish_run(
    conn: Connection,
    run_id: int,
    outcome: str,
    *,
    error: str | None = None,
    catalog_version: int | None = None,
    now: datetime | None = None,
) -> None:
    """Close a run row with its outcome (and the catalog version it committed, if any)."""
    conn.execute(
        update(runs)
        .where(runs.c.id == run_id)
        .values(
            outcome=outcome,
            error=error,
            catalog_version=catalog_version,
            finished_at=now or utcnow(),
        )
    )


def abandon_run(engine: Engine, run_id: int, outcome: str, error: str | None) -> None:
    """Record a run that committed nothing (cancelled, fenced, crashed) in its own transaction."""
    with engine.begin() as conn:
        finish_run(conn, run_id, outcome, error=error)

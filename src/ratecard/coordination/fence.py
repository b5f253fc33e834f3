"""The slot fence: a run commits only if its slot (or the state it started from) is still open.

Kleppmann's fencing token, kept by the store that holds the results: the UPDATE runs inside
the job's committing transaction, so "advance the slot" and "write the prices" commit or roll
back together. Timeline it prevents:

    t=0   A runs slot 41 under the lease; t=2 A is paused (or partitioned)
    t=12  the lease expires; B runs slot 41 and commits: last_slot = 41
    t=20  A resumes and commits: `... WHERE last_slot < 41` matches no row -> RunFenced,
          A's transaction rolls back, nothing of A's is visible.

Manual runs (`--run-once`, the admin trigger) happen when the current slot may already be
complete, so the slot alone cannot fence them. They are fenced by `generation`, which every
commit increments: a manual run reads it under the lease when it starts and commits only if it
is unchanged. So of two runs started from the same state only the first to commit wins, and a
stale manual runner can never commit after a newer run of either kind. A manual run also
completes the current slot if it was open (no second refresh right after it).

Why not the lease's fence number: Redis restarted empty restarts INCR at 1, and the database
lease counts separately, so those numbers are only monotonic per backend epoch; `generation`
lives next to the data and only ever grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ratecard.runcontrol import RunFenced

if TYPE_CHECKING:
    from sqlalchemy import Connection

# Deferred: SQLAlchemy and the schema are imported inside the functions: the coordinator is
# built by create_app(), and the ORM must not be on the path to a worker's first ready answer.


@dataclass(frozen=True)
class JobState:
    """A job's row: its last completed slot, commit generation and retry back-off."""

    job: str
    last_slot: int
    generation: int
    last_run_id: int | None
    updated_at: datetime | None
    retry_not_before: datetime | None

    @property
    def retry_epoch(self) -> float | None:
        return None if self.retry_not_before is None else self.retry_not_before.timestamp()


def ensure_job_state(conn: Connection, job: str) -> None:
    """Create the job's row with last_slot = -1 if missing (safe when instances race)."""
    from ratecard.coordination.upsert import insert_or_ignore
    from ratecard.schema import job_state

    insert_or_ignore(conn, job_state, {"job": job, "last_slot": -1, "generation": 0})


def read_job_state(conn: Connection, job: str) -> JobState:
    """Return the job's row, or a never-run state when there is none (nothing is written)."""
    from sqlalchemy import select

    from ratecard.schema import job_state

    row = conn.execute(select(job_state).where(job_state.c.job == job)).mappings().first()
    if row is None:
        return JobState(job, -1, 0, None, None, None)
    return JobState(
        job=job,
        last_slot=int(row["last_slot"]),
        generation=int(row["generation"]),
        last_run_id=row["last_run_id"],
        updated_at=row["updated_at"],
        retry_not_before=row["retry_not_before"],
    )


def advance_slot(conn: Connection, job: str, slot: int, run_id: int | None) -> None:
    """Mark `slot` completed by `run_id` in this transaction, or raise RunFenced."""
    from sqlalchemy import update

    from ratecard.schema import job_state

    ensure_job_state(conn, job)
    result = conn.execute(
        update(job_state)
        .where(job_state.c.job == job, job_state.c.last_slot < slot)
        .values(
            last_slot=slot,
            generation=job_state.c.generation + 1,
            last_run_id=run_id,
            updated_at=_now(),
            retry_not_before=None,
        )
    )
    if result.rowcount != 1:
        raise RunFenced(f"{job}: slot {slot} is already completed (or a newer one is)")


def commit_manual(
    conn: Connection, job: str, generation: int, slot: int, run_id: int | None
) -> None:
    """Commit a manual run started at `generation`, completing `slot` if open; or RunFenced."""
    from sqlalchemy import case, update

    from ratecard.schema import job_state

    ensure_job_state(conn, job)
    result = conn.execute(
        update(job_state)
        .where(job_state.c.job == job, job_state.c.generation == generation)
        .values(
            last_slot=case((job_state.c.last_slot < slot, slot), else_=job_state.c.last_slot),
            generation=job_state.c.generation + 1,
            last_run_id=run_id,
            updated_at=_now(),
            retry_not_before=None,
        )
    )
    if result.rowcount != 1:
        raise RunFenced(f"{job}: another run committed since this manual run started")


def defer_retry(conn: Connection, job: str, slot: int, not_before: datetime) -> None:
    """Ask the fleet not to retry the still-open `slot` before `not_before` (a failed run)."""
    from sqlalchemy import update

    from ratecard.schema import job_state

    ensure_job_state(conn, job)
    conn.execute(
        update(job_state)
        .where(job_state.c.job == job, job_state.c.last_slot < slot)
        .values(retry_not_before=not_before)
    )


def _now() -> datetime:
    return datetime.now(UTC)

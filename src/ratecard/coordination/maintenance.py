"""The daily maintenance job: prune old run records, heartbeats and expired lease rows."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ratecard.coordination.context import JobContext
from ratecard.coordination.jobs import JobCallable
from ratecard.vocabulary import JobName, RunOutcome

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

# Deferred: SQLAlchemy and the schema load with the first maintenance run.

# SQLAlchemy, the schema and the SQL lease are imported inside the functions: the job is built
# by create_app(), and the ORM must stay off the path to a worker's first ready answer.

JOB_NAME = JobName.MAINTENANCE

log = logging.getLogger(__name__)

# A pruner of another package's tables (e.g. the change log): called with the job's connection
# and the cutoff, inside the job's fenced transaction; returns {table: rows deleted}. Passed in
# so that coordination/ keeps knowing nothing of prices or changes.
Pruner = Callable[["Connection", datetime], dict[str, int]]


def prune(conn: Connection, cutoff: datetime, retention_seconds: float) -> dict[str, int]:
    """Delete what is older than `cutoff`; return how many rows of each kind went."""
    from sqlalchemy import delete, select

    from ratecard.coordination.sql_lease import prune_expired
    from ratecard.schema import instances, run_sources, runs

    old_runs = select(runs.c.id).where(runs.c.started_at < cutoff)
    counts = {
        "run_sources": conn.execute(
            delete(run_sources).where(run_sources.c.run_id.in_(old_runs))
        ).rowcount,
        "runs": conn.execute(delete(runs).where(runs.c.started_at < cutoff)).rowcount,
        "instances": conn.execute(
            delete(instances).where(instances.c.last_seen_at < cutoff)
        ).rowcount,
        # Lease expiry is judged by the database clock, like the leases themselves.
        "leases": prune_expired(conn, retention_seconds),
    }
    return {name: int(count or 0) for name, count in counts.items()}


def maintenance_job(
    engine: Callable[[], Engine],
    retention_days: float,
    clock: Callable[[], float] = time.time,
    pruners: Sequence[Pruner] = (),
) -> JobCallable:
    """Return the job: one transaction that prunes, records its run and claims its slot.

    `pruners` run in the same transaction after the job's own pruning, so a fenced claim rolls
    their deletions back too.
    """

    def run(ctx: JobContext) -> str:
        from sqlalchemy import update

        from ratecard.schema import runs

        ctx.checkpoint()
        started = datetime.fromtimestamp(clock(), UTC)
        retention = retention_days * 86400.0
        # One transaction: if the claim is fenced (another instance did this slot), the
        # deletions and the run record roll back with it.
        with engine().begin() as conn:
            run_id = conn.execute(
                runs.insert()
                .values(
                    job=ctx.job,
                    slot=ctx.slot,
                    fence=ctx.fence,
                    instance_id=ctx.instance_id,
                    trigger=ctx.trigger,
                    started_at=started,
                    outcome=RunOutcome.RUNNING,
                )
                .returning(runs.c.id)
            ).scalar_one()
            cutoff = started - timedelta(seconds=retention)
            counts = prune(conn, cutoff, retention)
            for pruner in pruners:
                counts.update(pruner(conn, cutoff))
            ctx.claim(conn, run_id)
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(
                    outcome=RunOutcome.SUCCESS,
                    finished_at=datetime.fromtimestamp(clock(), UTC),
                )
            )
        log.info("maintenance pruned %s", ", ".join(f"{n} {k}" for k, n in counts.items()))
        return RunOutcome.SUCCESS

    return run

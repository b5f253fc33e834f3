"""A manual run now (`worker --run-once`), under the lease, never duplicating a run in progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from ratecard.coordination import job_runner
from ratecard.coordination.backends import LeaseBackends
from ratecard.coordination.fence import read_job_state
from ratecard.coordination.jobs import Job, JobRegistry
from ratecard.coordination.schedule import jittered
from ratecard.schema import runs
from ratecard.vocabulary import RunOutcome, Trigger

JITTER = 0.25


class Coordinator(Protocol):
    """What a manual run needs of the coordinator it runs beside (its jobs, leases, clocks)."""

    jobs: JobRegistry
    backends: LeaseBackends
    poll_interval: float
    clock: Callable[[], float]
    rand: Callable[[], float]

    @property
    def instance_id(self) -> str: ...

    def engine(self) -> Engine: ...


def run_once(
    coordinator: Coordinator, job_name: str, trigger: str = Trigger.CLI, wait: float = 600.0
) -> job_runner.RunResult:
    """Run the job now in this thread; if it runs elsewhere, wait for it and report it instead.

    "It ran while we waited" is read from job_state.generation, which only a committed run
    increments: a run elsewhere that was cancelled or fenced does not count, and we run.
    """
    job = coordinator.jobs.get(job_name)
    began = coordinator.clock()
    try:
        return _run_once(coordinator, job, trigger, wait, began)
    except SQLAlchemyError as exc:
        # Nothing can run without the database (the job's results and its fence live there).
        why = f"database unavailable: {type(exc).__name__}"
        return _unrun(job.name, trigger, began, RunOutcome.UNAVAILABLE, why)


def _run_once(
    coordinator: Coordinator, job: Job, trigger: str, wait: float, began: float
) -> job_runner.RunResult:
    engine = coordinator.engine()
    with engine.connect() as conn:
        generation = read_job_state(conn, job.name).generation
    deadline = time.monotonic() + wait
    backends = coordinator.backends
    while True:
        acquired = backends.acquire(job.name, coordinator.instance_id)
        if acquired is not None:
            other = _committed_since(engine, job.name, generation, began)
            if other is not None:
                job_runner.release_quietly(acquired)
                return other
            ctx = job_runner.prepare_context(
                job, acquired, engine, coordinator.instance_id, trigger, coordinator.clock
            )
            assert ctx is not None  # manual triggers are never skipped
            return job_runner.execute(job, acquired, ctx, coordinator.clock)
        if backends.in_use is None and backends.problem:
            return _unrun(job.name, trigger, began, RunOutcome.UNAVAILABLE, backends.problem)
        if time.monotonic() >= deadline:
            return _unrun(job.name, trigger, began, RunOutcome.TIMEOUT, "the lease stayed held")
        time.sleep(jittered(coordinator.poll_interval, JITTER, coordinator.rand()))


def _committed_since(
    engine: Engine, job: str, generation: int, began: float
) -> job_runner.RunResult | None:
    """Return the run that committed `job` after we read `generation`, if any did."""
    with engine.connect() as conn:
        state = read_job_state(conn, job)
        if state.generation == generation:
            return None
        row = None
        if state.last_run_id is not None:
            row = (
                conn.execute(select(runs).where(runs.c.id == state.last_run_id)).mappings().first()
            )
    result = job_runner.RunResult(
        job, "?", state.last_slot, None, None, RunOutcome.SUCCESS, began, committed=False
    )
    if row is not None:
        result.trigger = row["trigger"] or "?"
        result.fence = row["fence"]
        result.outcome = row["outcome"]
        result.error = row["error"]
        if row["finished_at"] is not None and row["started_at"] is not None:
            result.duration = (row["finished_at"] - row["started_at"]).total_seconds()
    return result


def _unrun(job: str, trigger: str, began: float, outcome: str, why: str) -> job_runner.RunResult:
    return job_runner.RunResult(job, trigger, None, None, None, outcome, began, error=why)

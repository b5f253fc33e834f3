"""Run one job under a held lease: renew it every TTL/3, stop the job if it is lost, release it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ratecard.coordination.backends import Acquired
from ratecard.coordination.context import JobContext
from ratecard.coordination.fence import read_job_state
from ratecard.coordination.jobs import Job
from ratecard.coordination.lease import CoordinationUnavailable
from ratecard.coordination.schedule import slot_of, trigger_for
from ratecard.runcontrol import RunCancelled, RunFenced
from ratecard.vocabulary import (
    FAILED_OUTCOMES,
    NOT_RUN_OUTCOMES,
    SCHEDULED_TRIGGERS,
    STOOD_DOWN_OUTCOMES,
    RunOutcome,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """How one run ended, as this instance saw it."""

    job: str
    trigger: str
    slot: int | None
    fence: int | None
    backend: str | None
    outcome: str  # the job's, or failed | cancelled | fenced | skipped | unavailable | timeout
    started_at: float
    duration: float = 0.0
    committed: bool = False
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome in FAILED_OUTCOMES or self.outcome in NOT_RUN_OUTCOMES

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Renewer:
    """A thread renewing one grant every TTL/3; on the first failure it cancels the run.

    Any failure cancels, including "Redis did not answer": we can no longer prove we hold
    the lease, and another instance may already fall back to the database lease and start.
    """

    def __init__(self, acquired: Acquired, ctx: JobContext) -> None:
        self.acquired = acquired
        self.ctx = ctx
        self.period = acquired.lease.ttl / 3
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"ratecard-renew-{ctx.job}", daemon=True
        )

    def start(self) -> Renewer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            try:
                ok = self.acquired.lease.renew(self.acquired.grant.token)
                reason = "renewal refused: the lease expired or was taken over"
            except CoordinationUnavailable as exc:
                ok, reason = False, f"renewal failed: {exc}"
            if not ok:
                log.warning("%s: %s; cancelling the run", self.ctx.job, reason)
                self.ctx.cancel(reason)
                return


def confirm_lease(acquired: Acquired) -> Callable[[Connection], bool]:
    """Return claim()'s check: renew the grant now (inside `conn` for the database lease)."""

    def confirm(conn: Connection) -> bool:
        try:
            return acquired.lease.renew(acquired.grant.token, conn)
        except CoordinationUnavailable:
            return False

    return confirm


def prepare_context(
    job: Job,
    acquired: Acquired,
    engine: Engine,
    instance_id: str,
    trigger: str,
    clock: Callable[[], float],
) -> JobContext | None:
    """Read the job's state under the lease; None if a scheduled slot is already completed.

    Re-reading after acquiring matters: the previous holder may have committed the slot (or
    failed and set a retry back-off) and released the lease between our last look and our
    acquire.

    The run's slot is the one open now, read after the lease and the state, never a time the
    caller read before them. Timeline this prevents: a starting worker reads the clock in slot
    66, then its first database connection and the acquire take 1.6 s under load; the run
    starts in slot 67 but claims 66, and the next run, a moment later, claims 68: slot 67 is
    never refreshed though a run was in it the whole time.

    A scheduled run's trigger (the caller passes either scheduled one) is named from the same
    reading, for the same reason. Timeline it prevents: a poller reads last slot 522 at 523's
    end and calls its run "schedule"; the acquire lands in slot 524, so the run claims 524 and
    523 is coalesced, yet the run log says "schedule" where it caught up on a missed slot.
    """
    with engine.connect() as conn:
        state = read_job_state(conn, job.name)
    now = clock()
    slot = slot_of(now, job.interval)
    if trigger in SCHEDULED_TRIGGERS:
        retry = state.retry_epoch
        if state.last_slot >= slot or (retry is not None and retry > now):
            return None
        trigger = trigger_for(state.last_slot, now, job.interval)
    return JobContext(
        job=job.name,
        slot=slot,
        fence=acquired.grant.fence,
        instance_id=instance_id,
        trigger=trigger,
        generation=state.generation,
        confirm_lease=confirm_lease(acquired),
    )


def execute(
    job: Job,
    acquired: Acquired,
    ctx: JobContext,
    clock: Callable[[], float] = time.time,
    before_release: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Run `job` with `ctx` while renewing the lease; always release the lease after.

    `before_release` sees the result while the lease is still held: whatever it records
    (a retry back-off) is visible before any contender can acquire.
    """
    result = RunResult(
        job=job.name,
        trigger=ctx.trigger,
        slot=ctx.slot,
        fence=ctx.fence,
        backend=acquired.grant.backend,
        outcome=RunOutcome.FAILED,
        started_at=clock(),
    )
    started = time.monotonic()
    committed_by_report = False
    renewer = Renewer(acquired, ctx).start()
    try:
        report = job.run(ctx)
        result.outcome = (
            report if isinstance(report, str) else report.outcome
        ) or RunOutcome.SUCCESS
        # A job may claim and still roll back afterwards; its report knows.
        committed_by_report = bool(getattr(report, "committed", True))
    except RunFenced as exc:
        result.outcome, result.error = RunOutcome.FENCED, str(exc)
    except RunCancelled as exc:
        result.outcome, result.error = RunOutcome.CANCELLED, str(exc)
    except Exception as exc:
        log.exception("%s: run failed", job.name)
        result.outcome, result.error = RunOutcome.FAILED, f"{type(exc).__name__}: {exc}"
    finally:
        renewer.stop()
        result.duration = time.monotonic() - started
        result.committed = ctx.claimed and committed_by_report
        if ctx.cancelled and result.outcome not in STOOD_DOWN_OUTCOMES and not ctx.claimed:
            result.outcome, result.error = RunOutcome.CANCELLED, ctx.cancel_reason
        try:
            if before_release is not None:
                before_release(result)
        finally:
            release_quietly(acquired)
    return result


def release_quietly(acquired: Acquired) -> None:
    """Release the grant; an unreachable store just lets the lease expire by itself."""
    try:
        acquired.lease.release(acquired.grant.token)
    except CoordinationUnavailable as exc:
        log.warning(
            "%s: could not release the lease (%s); it expires by itself", acquired.grant.name, exc
        )

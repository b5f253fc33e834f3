"""The coordinator: a daemon thread that runs each registered job once per slot, fleet-wide.

Per job, the loop is:
- between slots: nothing but this instance's heartbeat (every `heartbeat_interval`);
- at a boundary, or at start when a slot is open (catch-up; missed slots coalesce into the
  current one): read job_state; if the slot is open, try the lease once;
- lease held elsewhere: poll every `poll_interval` (with jitter, so a fleet does not poll in
  lock-step) until the slot is completed or the lease is free;
- lease won: re-check the slot, run the job in its own thread while a renewer extends the
  lease every TTL/3; release after.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ratecard.coordination import job_runner
from ratecard.coordination.backends import Acquired, LeaseBackends
from ratecard.coordination.context import JobContext
from ratecard.coordination.fence import defer_retry, read_job_state
from ratecard.coordination.instance_registry import InstanceRegistry
from ratecard.coordination.jobs import Job, JobRegistry
from ratecard.coordination.lease import CoordinationUnavailable
from ratecard.coordination.schedule import (
    jittered,
    next_boundary,
    retry_delay,
    slot_of,
)
from ratecard.vocabulary import STOOD_DOWN_OUTCOMES, Trigger

if TYPE_CHECKING:
    from sqlalchemy import Engine

# Deferred: the status reader and the manual run need SQLAlchemy, which the coordinator's
# start-up does not.

log = logging.getLogger(__name__)

JITTER = 0.25  # polls spread over ±25 % of the poll interval
STOP_GRACE = 0.5  # seconds a stopping run gets to reach a checkpoint before we release anyway


@dataclass
class JobTrack:
    """What this instance knows about one job right now."""

    next_check: float = 0.0
    last_slot: int | None = None
    running: tuple[JobContext, Acquired, threading.Thread] | None = None
    last_result: job_runner.RunResult | None = None
    problem: str | None = None


class Coordinator:
    """Run `jobs` once per slot across the fleet; start() after fork, stop() on exit."""

    def __init__(
        self,
        jobs: JobRegistry,
        backends: LeaseBackends,
        registry: InstanceRegistry,
        engine: Callable[[], Engine],
        identity: Callable[[], Mapping[str, Any]],
        *,
        heartbeat_interval: float = 10.0,
        poll_interval: float = 2.0,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        on_lease: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.jobs = jobs
        self.backends = backends
        self.registry = registry
        self._engine = engine
        self._identity = identity
        self.heartbeat_interval = heartbeat_interval
        self.poll_interval = poll_interval
        self.clock = clock
        self.rand = rand
        self.on_lease = on_lease
        self.tracks = {job.name: JobTrack() for job in jobs}
        self.heartbeat_store: str | None = None
        self.heartbeat_problem: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    @property
    def instance_id(self) -> str:
        return str(self._identity()["id"])

    def start(self) -> bool:
        """Start the loop thread; False if it already runs in this process (pid-guarded)."""
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return False
            self._stop.clear()
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._loop, name="ratecard-coordinator", daemon=True
            )
            self._thread.start()
            return True

    def is_alive(self) -> bool:
        """Whether the loop thread runs in this process."""
        thread = self._thread
        return thread is not None and self._pid == os.getpid() and thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop, cancel runs, release their leases (a standby takes over next poll)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout)
        runs = [t.running for t in self.tracks.values() if t.running is not None]
        for ctx, _acquired, _thread in runs:
            ctx.cancel("this instance is stopping")
        deadline = time.monotonic() + min(timeout, STOP_GRACE)
        for _ctx, acquired, thread in runs:
            thread.join(max(0.0, deadline - time.monotonic()))
            # A job stuck in I/O past the grace period keeps running until the process exits,
            # but it cannot commit (cancelled, then fenced); releasing now lets a standby start.
            job_runner.release_quietly(acquired)
        self.registry.remove(self.instance_id)

    def trigger_now(self, job_name: str, trigger: str = Trigger.ADMIN) -> bool:
        """Start a manual run of `job_name` under the lease; False if one is already running."""
        job = self.jobs.get(job_name)
        with self._lock:
            if self.tracks[job.name].running is not None:
                return False
            acquired = self.backends.acquire(job.name, self.instance_id)
            if acquired is None:
                return False
            return self._start(job, acquired, trigger)

    def run_once(
        self, job_name: str, trigger: str = Trigger.CLI, wait: float = 600.0
    ) -> job_runner.RunResult:
        """Run `job_name` now in this thread; if it runs elsewhere, wait and report that run."""
        # Deferred: a manual run needs SQLAlchemy, which the coordinator's start-up does not.
        from ratecard.coordination.manual import run_once

        return run_once(self, job_name, trigger, wait)

    def engine(self) -> Engine:
        """Return the database engine (created on first use)."""
        return self._engine()

    def status(self) -> dict[str, Any]:
        """Return this process's view: thread, backend, per-job state and runs in progress."""
        from ratecard.coordination.worker_status import collect_status

        data = collect_status(self.jobs, self.backends, self.registry, self._engine, self.clock)
        data["coordinator"] = {
            "alive": self.is_alive(),
            "instance_id": self.instance_id,
            "heartbeat_store": self.heartbeat_store,
            "problem": self.heartbeat_problem or self.backends.problem,
        }
        for name, track in self.tracks.items():
            entry = data["jobs"].setdefault(name, {})
            entry["running_here"] = track.running[0].trigger if track.running else None
            entry["last_result_here"] = track.last_result.as_dict() if track.last_result else None
            entry["problem"] = track.problem
        return data

    def _loop(self) -> None:
        next_heartbeat = 0.0
        while not self._stop.is_set():
            now = self.clock()
            if now >= next_heartbeat:
                self._heartbeat()
                next_heartbeat = now + self.heartbeat_interval
            for job in self.jobs:
                track = self.tracks[job.name]
                if track.running is None and now >= track.next_check and not self._stop.is_set():
                    self._check(job, track, now)
            waits = [t.next_check for t in self.tracks.values() if t.running is None]
            wake_at = min([next_heartbeat, *waits])
            self._wake.wait(max(0.005, wake_at - self.clock()))
            self._wake.clear()

    def _heartbeat(self) -> None:
        try:
            self.heartbeat_store = self.registry.heartbeat(dict(self._identity()))
            self.heartbeat_problem = None
        except CoordinationUnavailable as exc:
            self.heartbeat_store, self.heartbeat_problem = None, str(exc)

    def _check(self, job: Job, track: JobTrack, now: float) -> None:
        # Imported here, in the coordinator's thread: create_app() builds the coordinator and
        # the ORM must stay off the path to a worker's first ready answer.
        from sqlalchemy.exc import SQLAlchemyError

        poll = jittered(self.poll_interval, JITTER, self.rand())
        try:
            with self._engine().connect() as conn:
                state = read_job_state(conn, job.name)
        except SQLAlchemyError as exc:
            track.problem = f"database unavailable: {type(exc).__name__}"
            track.next_check = now + poll
            return
        track.last_slot, track.problem = state.last_slot, None
        if state.last_slot >= slot_of(now, job.interval):
            track.next_check = next_boundary(now, job.interval)  # quiet until the next slot
            return
        retry = state.retry_epoch
        if retry is not None and retry > now:
            track.next_check = retry
            return
        with self._lock:
            acquired = None if track.running else self.backends.acquire(job.name, self.instance_id)
            if acquired is not None:
                # A scheduled run: prepare_context names it (schedule or catch-up) from the
                # slot it claims under the lease, not from this poll's reading.
                self._start(job, acquired, Trigger.SCHEDULE)
        if acquired is None and self.backends.in_use is None:
            track.problem = self.backends.problem
        track.next_check = now + poll

    def _start(self, job: Job, acquired: Acquired, trigger: str) -> bool:
        """Start a run thread for a won lease (caller holds self._lock)."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            ctx = job_runner.prepare_context(
                job, acquired, self._engine(), self.instance_id, trigger, self.clock
            )
        except SQLAlchemyError as exc:
            self.tracks[job.name].problem = f"database unavailable: {type(exc).__name__}"
            ctx = None
        if ctx is None:
            job_runner.release_quietly(acquired)
            return False
        thread = threading.Thread(
            target=self._run,
            args=(job, acquired, ctx),
            name=f"ratecard-run-{job.name}",
            daemon=True,
        )
        self.tracks[job.name].running = (ctx, acquired, thread)
        thread.start()
        return True

    def _run(self, job: Job, acquired: Acquired, ctx: JobContext) -> None:
        track = self.tracks[job.name]
        if self.on_lease:
            self.on_lease(job.name, True)
        try:
            result = job_runner.execute(job, acquired, ctx, self.clock, self._after_run(job, ctx))
            track.last_result = result
        finally:
            if self.on_lease:
                self.on_lease(job.name, False)
            track.running = None
            track.next_check = 0.0  # look again at once: the slot may still be open
            self._wake.set()

    def _after_run(self, job: Job, ctx: JobContext) -> Callable[[job_runner.RunResult], None]:
        def after(result: job_runner.RunResult) -> None:
            log.info(
                "%s: slot %s %s (%s, %.2f s)",
                job.name,
                ctx.slot,
                result.outcome,
                ctx.trigger,
                result.duration,
            )
            failed = not result.committed and result.outcome not in STOOD_DOWN_OUTCOMES
            if ctx.scheduled and failed:
                self._defer_retry(job, ctx)

        return after

    def _defer_retry(self, job: Job, ctx: JobContext) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        # Without this, a run failing for a fleet-wide reason (the feed is down) would be
        # retried by the next poller within seconds, by every instance in turn.
        not_before = datetime.fromtimestamp(self.clock() + retry_delay(job.interval), UTC)
        try:
            with self._engine().begin() as conn:
                assert ctx.slot is not None
                defer_retry(conn, job.name, ctx.slot, not_before)
        except SQLAlchemyError:
            log.warning("%s: could not record the retry back-off", job.name)

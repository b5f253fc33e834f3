"""Test jobs and a coordinator builder for in-process coordination tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from sqlalchemy import Engine, text

from ratecard.coordination.backends import LeaseBackends
from ratecard.coordination.context import JobContext
from ratecard.coordination.coordinator import Coordinator
from ratecard.coordination.instance_registry import InstanceRegistry
from ratecard.coordination.jobs import Job, JobRegistry
from ratecard.redis_keys import RedisKeys


def create_effects_table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE effects (slot BIGINT, who TEXT, trigger TEXT, backend TEXT)")
        )


def effects(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT slot, who, trigger, backend FROM effects")).mappings()
        return [dict(row) for row in rows]


def effect_job(
    engine: Engine, seconds: float = 0.1, backend: Callable[[], str | None] = lambda: None
) -> Callable[[JobContext], str]:
    """A job that works `seconds` (checkpointing), then inserts a row and claims, atomically."""

    def run(ctx: JobContext) -> str:
        used = backend()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ctx.checkpoint()
            time.sleep(0.02)
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO effects VALUES (:slot, :who, :trigger, :backend)"),
                {"slot": ctx.slot, "who": ctx.instance_id, "trigger": ctx.trigger, "backend": used},
            )
            ctx.claim(conn, None)
        return "success"

    return run


def build(
    engine: Engine,
    run: Callable[[JobContext], Any],
    interval: float,
    *,
    redis_client: redis.Redis | None = None,
    prefix: str = "rctest:",
    instance: str = "c1",
    ttl: float = 1.0,
    poll: float = 0.2,
    heartbeat: float = 0.5,
    job: str = "tick",
    clock: Callable[[], float] = time.time,
) -> Coordinator:
    keys = RedisKeys(prefix)
    backends = LeaseBackends(lambda: redis_client, lambda: engine, keys, ttl)
    registry = InstanceRegistry(lambda: redis_client, lambda: engine, keys, heartbeat)
    identity = {"id": instance, "host": "test", "pid": 0, "role": "test"}
    return Coordinator(
        JobRegistry([Job(job, interval, run)]),
        backends,
        registry,
        lambda: engine,
        lambda: identity,
        heartbeat_interval=heartbeat,
        poll_interval=poll,
        clock=clock,
    )


def fail_fast_redis(url: str) -> redis.Redis:
    """A client like the coordinator's: one try per command, so a dead Redis costs no retries."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )


def wait_until(predicate: Callable[[], object], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


class ManualClock:
    """The coordinators' wall clock, moved only by the test: slots, polls and back-offs pass
    in milliseconds, and a slot boundary falls exactly where the test puts it.

    Leases, renewals and the jobs' own work stay on real time (they are Redis TTLs and
    threads); only what the coordinator reads from its injected clock is simulated.
    """

    def __init__(self, interval: float, margin: float = 0.05) -> None:
        now = time.time()
        # Just after a slot boundary near the real time, so stored timestamps look sane.
        self.now = now - now % interval + margin

    def __call__(self) -> float:
        return self.now

    def advance(self, coordinators: list[Coordinator], seconds: float, step: float = 0.25) -> None:
        """Move time on by `seconds` in `step`s, waking every coordinator at each step.

        A coordinator waits on a real Event for (its next deadline - clock()): with a manual
        clock that wait would last real seconds, so each step wakes the loop to look at the
        new time (it reads the clock after waking, so no step is missed).
        """
        remaining = seconds
        while remaining > 1e-9:
            self.now += min(step, remaining)
            remaining -= step
            for coordinator in coordinators:
                # The loop's own wake-up event (what a finished run sets): no public hook exists.
                coordinator._wake.set()
            time.sleep(0.02)  # let the loops run their checks at this instant

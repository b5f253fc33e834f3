"""The coordinator in-process: one run per slot, catch-up, cancellation, fallback, stop."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine, text

from ratecard.coordination import job_runner
from ratecard.coordination.backends import LeaseBackends
from ratecard.coordination.coordinator import Coordinator
from ratecard.coordination.jobs import Job
from ratecard.coordination.schedule import slot_of
from ratecard.db import build_engine
from ratecard.redis_keys import RedisKeys
from ratecard.vocabulary import Trigger
from tests.coordination.helpers import (
    ManualClock,
    build,
    create_effects_table,
    effect_job,
    effects,
    fail_fast_redis,
    wait_until,
)
from tests.support.services import RedisServer, free_port


@pytest.fixture
def engine(pg_engine: Engine) -> Engine:
    create_effects_table(pg_engine)
    return pg_engine


@pytest.fixture
def coordinators() -> Iterator[list[Coordinator]]:
    """Coordinators a test starts; all stopped at the end, whatever happened."""
    started: list[Coordinator] = []
    yield started
    for coordinator in started:
        coordinator.stop(timeout=5)


def test_exactly_one_run_per_slot_across_instances(
    engine: Engine, redis_client: redis.Redis, redis_prefix: str, coordinators: list[Coordinator]
) -> None:
    interval = 1.0
    clock = ManualClock(interval)
    for i in range(4):
        c = build(
            engine,
            effect_job(engine, 0.1),
            interval,
            redis_client=redis_client,
            prefix=redis_prefix,
            instance=f"c{i}",
            clock=clock,
        )
        coordinators.append(c)
        c.start()
    # Five slots; in quarter-slot steps, so the losers' polls (0.2 s +-25 %) come due
    # between boundaries while the winner's run is in progress or just committed.
    for _ in range(5):
        slot = slot_of(clock(), interval)
        assert wait_until(lambda: slot in {r["slot"] for r in effects(engine)}, 5.0)  # noqa: B023 - runs now
        clock.advance(coordinators, interval)
    for c in coordinators:
        c.stop(timeout=5)
    rows = effects(engine)
    slots = [row["slot"] for row in rows]
    assert len(slots) == len(set(slots)), f"a slot committed twice: {sorted(slots)}"
    assert len(slots) >= 4
    assert sorted(slots) == list(range(min(slots), max(slots) + 1)), "a slot was lost"


def test_a_fresh_deploy_runs_at_once_and_missed_slots_coalesce(
    engine: Engine, redis_client: redis.Redis, redis_prefix: str, coordinators: list[Coordinator]
) -> None:
    interval = 5.0
    clock = ManualClock(interval)
    current = slot_of(clock(), interval)
    with engine.begin() as conn:  # the fleet was down for 4 slots
        conn.execute(
            text("INSERT INTO job_state (job, last_slot) VALUES ('tick', :s)"), {"s": current - 5}
        )
    c = build(
        engine,
        effect_job(engine, 0.0),
        interval,
        redis_client=redis_client,
        prefix=redis_prefix,
        clock=clock,
    )
    coordinators.append(c)
    began = time.monotonic()
    c.start()
    assert wait_until(lambda: effects(engine), 2.0), "a missed slot must run within seconds"
    took = time.monotonic() - began
    clock.advance(coordinators, interval - 0.5)  # the rest of the slot: no second run
    rows = effects(engine)
    assert [(r["slot"], r["trigger"]) for r in rows] == [(current, "catch-up")], rows
    assert took < 1.0
    status = c.status()["jobs"]["tick"]
    assert status["last_completed_slot"] == current
    assert status["next_due_in"] > 0


@pytest.mark.parametrize(
    ("slots_later", "expected"), [(0, Trigger.SCHEDULE), (1, Trigger.CATCH_UP)]
)
def test_a_run_names_its_trigger_from_the_slot_it_claims_not_the_one_it_was_polled_in(
    engine: Engine, redis_prefix: str, slots_later: int, expected: str
) -> None:
    # A poller saw the slot after the last completed one and called its run "schedule"; by the
    # time it holds the lease the clock may be in the next slot: that run claims it and skips one.
    interval = 10.0
    clock = ManualClock(interval)
    polled_in = slot_of(clock(), interval)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO job_state (job, last_slot) VALUES ('tick', :s)"), {"s": polled_in - 1}
        )
    backends = LeaseBackends(lambda: None, lambda: engine, RedisKeys(redis_prefix), 5.0)
    acquired = backends.acquire("tick", "c1")
    assert acquired is not None
    try:
        clock.now += slots_later * interval
        job = Job("tick", interval, lambda ctx: "success")
        ctx = job_runner.prepare_context(job, acquired, engine, "c1", Trigger.SCHEDULE, clock)
    finally:
        job_runner.release_quietly(acquired)
    assert ctx is not None
    assert (ctx.slot, ctx.trigger) == (polled_in + slots_later, expected)


def test_renewal_failure_cancels_the_run(
    engine: Engine, redis_client: redis.Redis, redis_prefix: str, coordinators: list[Coordinator]
) -> None:
    c = build(
        engine,
        effect_job(engine, 30.0),
        60.0,
        redis_client=redis_client,
        prefix=redis_prefix,
        ttl=0.6,
    )
    coordinators.append(c)
    c.start()
    lease_key = RedisKeys(redis_prefix).lease("tick")
    assert wait_until(lambda: redis_client.get(lease_key), 2.0)
    # The lease vanishes (expired during a pause, or Redis lost it): the renewer finds out
    # within TTL/3 and the run must stop at its next checkpoint, committing nothing.
    redis_client.delete(lease_key)
    assert wait_until(lambda: c.tracks["tick"].last_result is not None, 2.0)
    result = c.tracks["tick"].last_result
    assert result is not None and result.outcome == "cancelled" and not result.committed
    assert "renewal" in (result.error or "")
    assert effects(engine) == []


def test_redis_down_falls_back_to_the_database_and_back(
    engine: Engine, redis_server: RedisServer, coordinators: list[Coordinator]
) -> None:
    client = fail_fast_redis(redis_server.url)
    interval = 1.0
    holder: list[Coordinator] = []
    job = effect_job(engine, 0.05, backend=lambda: holder[0].backends.in_use)
    c = build(engine, job, interval, redis_client=client)
    holder.append(c)
    coordinators.append(c)
    c.start()
    assert wait_until(lambda: any(r["backend"] == "redis" for r in effects(engine)), 3.0)
    redis_server.stop()
    assert wait_until(lambda: any(r["backend"] == "database" for r in effects(engine)), 4.0)
    assert c.status()["backend"] == "database"
    redis_server.start()
    seen = len(effects(engine))
    assert wait_until(
        lambda: effects(engine)[seen:] and effects(engine)[-1]["backend"] == "redis", 4.0
    ), "Redis coming back must be noticed and used again"
    slots = [r["slot"] for r in effects(engine)]
    assert len(slots) == len(set(slots))
    c.stop(timeout=5)  # before its client closes: a run thread releasing on it would crash
    client.close()


def test_with_neither_store_nothing_runs_and_status_says_why(
    coordinators: list[Coordinator],
) -> None:
    dead_engine = build_engine(f"postgresql+psycopg://postgres:pw@127.0.0.1:{free_port()}/x")
    dead_redis = fail_fast_redis(f"redis://127.0.0.1:{free_port()}/0")
    ran: list[int] = []

    def job(ctx):
        ran.append(1)
        return "success"

    clock = ManualClock(0.5)
    c = build(dead_engine, job, 0.5, redis_client=dead_redis, clock=clock)
    coordinators.append(c)
    c.start()
    clock.advance(coordinators, 1.0, step=0.1)  # two slots' worth of polls
    status = c.status()
    assert ran == []
    assert status["backend"] is None
    assert "redis unavailable" in status["backend_problem"]
    assert "database unavailable" in status["backend_problem"]
    assert "database unavailable" in (status["jobs"]["tick"]["problem"] or "")
    assert c.is_alive()
    assert "pw" not in str(status)
    dead_engine.dispose()


def test_stop_releases_the_lease_and_a_standby_takes_over(
    engine: Engine, redis_client: redis.Redis, redis_prefix: str, coordinators: list[Coordinator]
) -> None:
    started: list[tuple[str, float]] = []

    def slow(ctx):
        started.append((ctx.instance_id, time.monotonic()))
        return effect_job(engine, 3.0)(ctx)

    a = build(
        engine, slow, 60.0, redis_client=redis_client, prefix=redis_prefix, instance="a", ttl=10.0
    )
    b = build(
        engine, slow, 60.0, redis_client=redis_client, prefix=redis_prefix, instance="b", ttl=10.0
    )
    coordinators.extend([a, b])
    a.start()
    assert wait_until(lambda: started, 2.0)
    b.start()
    time.sleep(0.3)
    assert b.trigger_now("tick") is False, "a run is in progress elsewhere"
    stopped_at = time.monotonic()
    a.stop()
    assert wait_until(lambda: len(started) == 2, 3.0), "the standby must take over within a poll"
    assert started[1][0] == "b"
    takeover = started[1][1] - stopped_at
    assert takeover < 1.5  # poll 0.2 s with jitter (+ slack), far below the 10 s TTL
    assert wait_until(lambda: effects(engine), 5.0)
    assert [r["who"] for r in effects(engine)] == ["b"]


def test_trigger_now_runs_a_manual_run_under_the_lease(
    engine: Engine, redis_client: redis.Redis, redis_prefix: str, coordinators: list[Coordinator]
) -> None:
    # A manual clock just after a slot boundary: on the real clock, a minute boundary falling
    # inside the test made the scheduled run of the next slot take the admin run's place.
    clock = ManualClock(60.0)
    c = build(
        engine,
        effect_job(engine, 0.3),
        60.0,
        redis_client=redis_client,
        prefix=redis_prefix,
        clock=clock,
    )
    coordinators.append(c)
    c.start()
    assert wait_until(lambda: effects(engine), 2.0)  # the catch-up run completes the slot
    assert wait_until(lambda: c.tracks["tick"].running is None, 2.0)
    assert c.trigger_now("tick") is True
    assert c.trigger_now("tick") is False, "one manual run at a time"
    assert wait_until(lambda: len(effects(engine)) == 2, 2.0)
    assert [r["trigger"] for r in effects(engine)] == ["catch-up", "admin"]


def test_a_failed_run_is_retried_after_a_back_off_not_at_once(
    engine: Engine, redis_client: redis.Redis, redis_prefix: str, coordinators: list[Coordinator]
) -> None:
    attempts: list[float] = []
    interval = 24.0  # retry delay: interval / 12 = 2 s
    clock = ManualClock(interval)

    def failing(ctx):
        attempts.append(clock())
        raise RuntimeError("feed down")

    for name in ("a", "b"):
        c = build(
            engine,
            failing,
            interval,
            redis_client=redis_client,
            prefix=redis_prefix,
            instance=name,
            clock=clock,
        )
        coordinators.append(c)
        c.start()
    assert wait_until(lambda: attempts, 2.0)
    clock.advance(coordinators, 1.0, step=0.1)
    assert len(attempts) == 1, "the whole fleet waits for the back-off"
    clock.advance(coordinators, 1.2, step=0.1)  # past the 2 s back-off
    assert wait_until(lambda: len(attempts) == 2, 3.0)
    assert 1.8 < attempts[1] - attempts[0] < 3.0

"""Real processes: several `ratecard worker run` against PostgreSQL and a redis-server of our own.

These are the guarantees of the issue, tested the way production breaks them: SIGKILL,
SIGSTOP/SIGCONT, Redis killed (all keys lost) and restarted, a manual run racing the schedule.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.coordination.fleet import (
    Fleet,
    all_runs,
    committed_runs,
    lease_holder,
    wait_for,
)
from tests.support.feeds import FeedServer
from tests.support.processes import RATECARD
from tests.support.services import REPO, RedisServer

pytestmark = pytest.mark.slow

FEED = "openrouter_models_edge_cases.json"


@pytest.fixture
def feeds(feed_data: Path) -> Iterator[FeedServer]:
    with FeedServer(feed_data) as server:
        yield server


@pytest.fixture
def fleet_factory(
    tmp_path: Path, migrated_pg_url: str, redis_server: RedisServer, feeds: FeedServer
) -> Iterator:
    made: list[Fleet] = []

    def make(interval: float, ttl: float) -> Fleet:
        fleet = Fleet.configure(
            tmp_path,
            migrated_pg_url,
            redis_server.url,
            f"openrouter={feeds.url(FEED)}",
            interval,
            ttl,
        )
        made.append(fleet)
        return fleet

    yield make
    for fleet in made:
        fleet.close()


def assert_each_slot_committed_once(engine: Engine, fleet: Fleet) -> list[int]:
    slots = [run["slot"] for run in committed_runs(engine)]
    twice = [slot for slot, n in Counter(slots).items() if n > 1]
    assert not twice, f"slots committed twice: {twice}\n{fleet.logs()}"
    assert slots, fleet.logs()
    assert sorted(slots) == list(range(min(slots), max(slots) + 1)), (
        f"a slot was lost: {slots}\n{all_runs(engine)}\n{fleet.logs()}"
    )
    return slots


def test_several_processes_commit_each_slot_exactly_once(fleet_factory, pg_engine: Engine) -> None:
    fleet = fleet_factory(interval=1.5, ttl=1.0)
    for i in range(3):
        fleet.spawn(f"w{i}")
    time.sleep(9)
    assert all(code == 0 for code in fleet.terminate_all().values()), fleet.logs()
    slots = assert_each_slot_committed_once(pg_engine, fleet)
    assert len(slots) >= 4
    assert {run["instance_id"] for run in committed_runs(pg_engine)} <= {"w0", "w1", "w2"}


def test_redis_killed_and_restarted_loses_no_slot_and_doubles_none(
    fleet_factory, pg_engine: Engine, redis_server: RedisServer
) -> None:
    fleet = fleet_factory(interval=1.5, ttl=1.0)
    for i in range(3):
        fleet.spawn(f"w{i}")
    time.sleep(4)
    redis_server.stop()  # SIGKILL: every lease, fence counter and heartbeat is gone
    time.sleep(4)
    redis_server.start()
    time.sleep(4)
    fleet.terminate_all()
    slots = assert_each_slot_committed_once(pg_engine, fleet)
    assert len(slots) >= 6


def test_sigkilled_runner_is_taken_over(
    fleet_factory, pg_engine: Engine, redis_server: RedisServer, feeds: FeedServer
) -> None:
    feeds.delay(FEED, 3.0, times=1)  # the first fetch stalls: the runner dies mid-fetch
    fleet = fleet_factory(interval=3600, ttl=2.0)
    for name in ("w0", "w1"):
        fleet.spawn(name)
    client = redis_server.client()
    victim = wait_for(lambda: lease_holder(client), 15)
    assert victim, fleet.logs()
    # Killed once its run row exists: mid-fetch, the row says `running`.
    assert wait_for(lambda: [r for r in all_runs(pg_engine) if r["outcome"] == "running"], 15)
    killed_at = time.time()
    fleet.signal(victim, signal.SIGKILL)
    done = wait_for(lambda: committed_runs(pg_engine), 20)
    assert done, fleet.logs()
    [run] = committed_runs(pg_engine)
    assert run["instance_id"] != victim
    takeover = run["started_at"].timestamp() - killed_at
    print(f"\ntakeover after SIGKILL: {takeover:.2f} s (TTL 2 s, poll 0.4 s)")
    assert takeover <= 2.0 + 0.5 + 1.5  # TTL + one jittered poll + slack for a busy machine
    # The killed runner's row is closed by its successor, not left `running` forever.
    assert [r["outcome"] for r in all_runs(pg_engine) if r["instance_id"] == victim] == [
        "cancelled"
    ], all_runs(pg_engine)


def test_runner_paused_past_its_lease_cannot_commit(
    fleet_factory, pg_engine: Engine, redis_server: RedisServer, feeds: FeedServer
) -> None:
    feeds.delay(FEED, 2.0, after_bytes=100)  # every fetch stalls mid-body for 2 s
    fleet = fleet_factory(interval=3600, ttl=1.0)
    for name in ("w0", "w1"):
        fleet.spawn(name)
    fetching = wait_for(lambda: [r for r in all_runs(pg_engine) if r["outcome"] == "running"], 15)
    assert fetching, fleet.logs()
    paused = fetching[0]["instance_id"]
    assert lease_holder(redis_server.client()) == paused
    fleet.signal(paused, signal.SIGSTOP)
    try:
        assert wait_for(lambda: committed_runs(pg_engine), 20), fleet.logs()
    finally:
        fleet.signal(paused, signal.SIGCONT)
    # The resumed runner finishes its fetch, then finds its lease gone (or its slot fenced).
    assert wait_for(lambda: all(r["outcome"] != "running" for r in all_runs(pg_engine)), 15), (
        all_runs(pg_engine)
    )
    runs = all_runs(pg_engine)
    committed = [r for r in runs if r["catalog_version"] is not None]
    assert len(committed) == 1 and committed[0]["instance_id"] != paused, runs
    stale = [r for r in runs if r["instance_id"] == paused]
    assert stale and all(r["outcome"] in ("cancelled", "fenced") for r in stale), runs


def test_run_once_waits_for_a_run_in_progress_instead_of_running_twice(
    fleet_factory, pg_engine: Engine, redis_server: RedisServer, feeds: FeedServer
) -> None:
    feeds.delay(FEED, 3.0, times=1)
    fleet = fleet_factory(interval=3600, ttl=2.0)
    fleet.spawn("w0")
    assert wait_for(lambda: lease_holder(redis_server.client()), 15), fleet.logs()
    result = subprocess.run(
        [RATECARD, "worker", "--run-once"],
        cwd=REPO,
        env=fleet.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    runs = all_runs(pg_engine)
    assert len(runs) == 1, f"--run-once ran a second refresh: {runs}"
    assert runs[0]["instance_id"] == "w0" and runs[0]["catalog_version"] is not None
    assert "catch-up" in result.stdout  # it reports the run it waited for

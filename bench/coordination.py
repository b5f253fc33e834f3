"""Coordination cost: Redis commands per instance per minute, idle and around a boundary,
for 1, 10 and 100 simulated instances (Coordinator objects in threads, one Redis client each).

    .venv/bin/python bench/coordination.py

Runs against a redis-server of its own on a free port (commands counted from INFO
commandstats deltas) and a throwaway PostgreSQL database. Time is scaled 10x down so the whole
run takes about a minute: heartbeat 1 s, standby poll 0.2 s, lease TTL 1 s, a 1 s job, a 10 s
period stand for the defaults 10 s / 2 s / 10 s / ~10 s refresh / any period. Figures are
printed per instance per *default-scale* minute (a 6 s scaled window = 1 minute).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

import redis  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402

from bench.support import RedisServer, ScratchDatabases  # noqa: E402
from ratecard.coordination.backends import LeaseBackends  # noqa: E402
from ratecard.coordination.context import JobContext  # noqa: E402
from ratecard.coordination.coordinator import Coordinator  # noqa: E402
from ratecard.coordination.instance_registry import InstanceRegistry  # noqa: E402
from ratecard.coordination.jobs import Job, JobRegistry  # noqa: E402
from ratecard.coordination.schedule import slot_of  # noqa: E402
from ratecard.db import build_engine  # noqa: E402
from ratecard.redis_keys import RedisKeys  # noqa: E402

SCALE = 10.0  # scaled seconds x SCALE = default-scale seconds
INTERVAL = 10.0
JOB_SECONDS = 1.0


def commandstats(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    out = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return {k: v for k, v in out.items() if v > 0 and k != "info"}


def build(
    engine: Engine, job: Callable[[JobContext], str], client: redis.Redis, i: int
) -> Coordinator:
    """One simulated instance: the job 'tick' every INTERVAL, TTL 1 s, heartbeat 1 s, poll 0.2 s."""
    keys = RedisKeys("bench:")
    backends = LeaseBackends(lambda: client, lambda: engine, keys, 1.0)
    registry = InstanceRegistry(lambda: client, lambda: engine, keys, 1.0)
    identity = {"id": f"i{i}", "host": "bench", "pid": 0, "role": "bench"}
    return Coordinator(
        JobRegistry([Job("tick", INTERVAL, job)]),
        backends,
        registry,
        lambda: engine,
        lambda: identity,
        heartbeat_interval=1.0,
        poll_interval=0.2,
    )


def measure(
    n: int, server: RedisServer, database_url: str
) -> tuple[float, float, dict[str, int], int]:
    engine = build_engine(database_url, pool_size=20, max_overflow=20, pool_timeout=30)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM job_state"))
        conn.execute(text("DELETE FROM leases"))
    runs: list[int] = []

    def job(ctx: JobContext) -> str:
        time.sleep(JOB_SECONDS)
        with engine.begin() as conn:
            ctx.claim(conn, None)
        assert ctx.slot is not None
        runs.append(ctx.slot)
        return "success"

    # Start just after a boundary with the current slot completed: the fleet is idle.
    time.sleep(INTERVAL - time.time() % INTERVAL + 0.2)
    now = time.time()
    boundary0 = now - now % INTERVAL
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO job_state (job, last_slot) VALUES ('tick', :s)"),
            {"s": slot_of(boundary0, INTERVAL)},
        )
    meter = server.client()
    clients = [redis.Redis.from_url(server.url, socket_timeout=2) for _ in range(n)]
    coordinators = [build(engine, job, clients[i], i) for i in range(n)]
    try:
        for c in coordinators:
            c.start()
        time.sleep(boundary0 + 2.0 - time.time())
        idle_before = commandstats(meter)
        time.sleep(boundary0 + 8.0 - time.time())  # 6 s, no boundary inside
        idle = delta(idle_before, commandstats(meter))
        boundary_before = commandstats(meter)  # 2 s before the boundary to 4 s after
        time.sleep(boundary0 + 14.0 - time.time())
        around = delta(boundary_before, commandstats(meter))
    finally:
        for c in coordinators:
            c.stop(timeout=5)
        for client in clients:
            client.close()
        meter.close()
        engine.dispose()
    minutes = 6.0 * SCALE / 60.0  # each window is 6 scaled seconds = 1 default-scale minute
    return sum(idle.values()) / n / minutes, sum(around.values()) / n / minutes, around, len(runs)


def main() -> None:
    databases = ScratchDatabases()
    server = RedisServer().start()
    try:
        url = databases.create()
        print(
            "Redis commands per instance per minute (defaults: heartbeat 10 s, poll 2 s, TTL 10 s)"
        )
        print(
            f"{'instances':>9} {'idle':>8} {'boundary':>9}  runs  commands around the boundary (all instances)"
        )
        for n in (1, 10, 100):
            idle, around, by_command, runs = measure(n, server, url)
            top = ", ".join(
                f"{k} {v}" for k, v in sorted(by_command.items(), key=lambda kv: -kv[1])
            )
            print(f"{n:>9} {idle:>8.1f} {around:>9.1f}  {runs:>4}  {top}")
    finally:
        server.stop()
        databases.drop_all()


if __name__ == "__main__":
    main()

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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

import redis  # noqa: E402
from sqlalchemy import text  # noqa: E402
from tests.coordination.helpers import build  # noqa: E402
from tests.support.services import PostgresDatabases, RedisServer  # noqa: E402

from ratecard.coordination.context import JobContext  # noqa: E402
from ratecard.coordination.schedule import slot_of  # noqa: E402
from ratecard.db import build_engine  # noqa: E402
from ratecard.migrations.upgrade import Migrator  # noqa: E402

SCALE = 10.0  # scaled seconds x SCALE = default-scale seconds
INTERVAL = 10.0
JOB_SECONDS = 1.0


def commandstats(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    out = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return {k: v for k, v in out.items() if v > 0 and k != "info"}


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
    coordinators = [
        build(
            engine,
            job,
            INTERVAL,
            redis_client=clients[i],
            prefix="bench:",
            instance=f"i{i}",
            ttl=1.0,
            poll=0.2,
            heartbeat=1.0,
        )
        for i in range(n)
    ]
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
    databases = PostgresDatabases()
    server = RedisServer().start()
    try:
        url = databases.create()
        Migrator(url, echo=lambda _l: None).upgrade(wait=30)
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

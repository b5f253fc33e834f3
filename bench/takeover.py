"""Takeover time: how long a slot waits when its runner dies (SIGKILL) or is stopped (SIGTERM).

    .venv/bin/python bench/takeover.py

Two real `ratecard worker run` processes with the default lease settings (TTL 10 s, renewals
every TTL/3, standby poll 2 s with jitter), a throwaway PostgreSQL database per scenario, a
redis-server of its own, and a local feed server whose first fetch stalls, so the runner is
killed mid-fetch. Takeover = the survivor's run start - the signal. Expected: SIGKILL <= 12 s
(TTL + one poll), SIGTERM <= one poll (the lease is released on the way out).
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from bench.support import (  # noqa: E402
    EDGE_FEED,
    RedisServer,
    ScratchDatabases,
    Workers,
    runs,
    stalling_feed,
    wait_for,
)
from ratecard.db import build_engine  # noqa: E402


def takeover(signum: int, databases: ScratchDatabases, redis_server: RedisServer) -> float:
    url = databases.create()
    engine = build_engine(url)
    with stalling_feed(EDGE_FEED, 5.0) as feed, tempfile.TemporaryDirectory() as logs:
        fleet = Workers(
            {
                "DATABASE_URL": url,
                "REDIS_URL": redis_server.url,
                "RATECARD_SOURCES": f"openrouter={feed}",
                "RATECARD_REFRESH_INTERVAL": "3600",
                "RATECARD_LEASE_TTL": "10.0",
                "RATECARD_HEARTBEAT_INTERVAL": "0.5",
                "RATECARD_LOG_FORMAT": "text",
                "RATECARD_REDIS_PREFIX": "fleet:",
            },
            Path(logs),
        )
        try:
            for name in ("a", "b"):
                fleet.spawn(name)
            running = wait_for(lambda: [r for r in runs(engine) if r["outcome"] == "running"], 30)
            if not running:
                raise RuntimeError(f"no run started\n{fleet.logs()}")
            victim = running[0]["instance_id"]
            signalled = time.time()
            fleet.signal(victim, signum)
            done = wait_for(
                lambda: [r for r in runs(engine, committed=True) if r["instance_id"] != victim], 40
            )
            if not done:
                raise RuntimeError(f"no takeover\n{fleet.logs()}")
            return float(done[0]["started_at"].timestamp() - signalled)
        finally:
            fleet.close()
            engine.dispose()


def main() -> None:
    databases = ScratchDatabases()
    redis_server = RedisServer().start()
    try:
        print("takeover time with defaults (TTL 10 s, renew every 3.3 s, standby poll 2 s +-25 %)")
        for label, signum in (("SIGKILL", signal.SIGKILL), ("SIGTERM", signal.SIGTERM)):
            seconds = takeover(signum, databases, redis_server)
            print(f"  after {label}: {seconds:5.2f} s")
    finally:
        redis_server.stop()
        databases.drop_all()


if __name__ == "__main__":
    main()

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

from tests.coordination.fleet import Fleet, all_runs, committed_runs, wait_for  # noqa: E402
from tests.support.feeds import FeedServer  # noqa: E402
from tests.support.services import SHARED_DATA, PostgresDatabases, RedisServer  # noqa: E402

from ratecard.db import build_engine  # noqa: E402
from ratecard.migrations.upgrade import Migrator  # noqa: E402

FEED = "openrouter_models_edge_cases.json"


def takeover(signum: int, databases: PostgresDatabases, redis_server: RedisServer) -> float:
    url = databases.create()
    Migrator(url, echo=lambda _l: None).upgrade(wait=30)
    engine = build_engine(url)
    with FeedServer(SHARED_DATA) as feeds, tempfile.TemporaryDirectory() as logs:
        feeds.delay(FEED, 5.0, times=1)
        fleet = Fleet.configure(
            Path(logs),
            url,
            redis_server.url,
            f"openrouter={feeds.url(FEED)}",
            interval=3600,
            ttl=10.0,
        )
        try:
            for name in ("a", "b"):
                fleet.spawn(name)
            running = wait_for(
                lambda: [r for r in all_runs(engine) if r["outcome"] == "running"], 30
            )
            if not running:
                raise RuntimeError(f"no run started\n{fleet.logs()}")
            victim = running[0]["instance_id"]
            signalled = time.time()
            fleet.signal(victim, signum)
            done = wait_for(
                lambda: [r for r in committed_runs(engine) if r["instance_id"] != victim], 40
            )
            if not done:
                raise RuntimeError(f"no takeover\n{fleet.logs()}")
            return float(done[0]["started_at"].timestamp() - signalled)
        finally:
            fleet.close()
            engine.dispose()


def main() -> None:
    databases = PostgresDatabases()
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

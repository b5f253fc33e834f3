"""Does a worker's memory level off under catalog churn? RSS of one gunicorn worker, sampled
while the catalog gets a new version every refresh and clients read models and costs.

    .venv/bin/python bench/memory.py [--seconds 180] [--every 15]

One `ratecard serve` (1 worker) on a scratch PostgreSQL database and Redis prefix; this
process refreshes the catalog back and forth between the two real LiteLLM snapshots of
tests/data (March and July 2026: ~150 prices move, ~400 models come and go each time), so every
refresh commits and publishes a new version, which the worker loads on its next request. Four
client threads read models (cached answers per version included) and price requests. Prints
the worker's RSS at each sample, then its growth over the first and the second half: a leak
grows in both, a warm-up only in the first.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import (
    RATECARD,
    REDIS_URL,
    REPO,
    answers_200,
    free_port,
    scratch_catalog,
    wait_for,
)

SNAPSHOTS = [REPO / "tests" / "data" / "litellm_2026-03-14.json"]
SNAPSHOTS.append(REPO / "tests" / "data" / "litellm_2026-07-24.json")
MODEL_IDS = ["gpt-4o", "claude-sonnet-4-5", "gemini/gemini-2.5-pro", "gpt-4o-mini", "o3"]
COST = json.dumps({"model": "gpt-4o", "input_tokens": 1200, "output_tokens": 300})


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def worker_pid(master: int) -> int | None:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0]) if children else None


def clients(port: int, stop: threading.Event) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    n = 0
    while not stop.is_set():
        n += 1
        try:
            if n % 3 == 0:
                conn.request("POST", "/api/cost", COST, {"Content-Type": "application/json"})
            else:
                conn.request("GET", f"/api/models/{MODEL_IDS[n % len(MODEL_IDS)]}")
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--every", type=float, default=15.0)
    args = parser.parse_args()
    from ratecard.background import refresh_deps
    from ratecard.db import build_engine
    from ratecard.ingest.refresh import refresh_catalog
    from ratecard.settings import Settings, parse_sources

    with scratch_catalog() as env, tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "feed.json"
        feed.write_bytes(SNAPSHOTS[0].read_bytes())
        port = free_port()
        log = (Path(tmp) / "serve.log").open("wb")
        server = subprocess.Popen(
            [RATECARD, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        engine = build_engine(env["DATABASE_URL"])
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        settings = Settings(
            database_url=env["DATABASE_URL"],
            sources=parse_sources(f"litellm=file://{feed}"),
            redis_key_prefix=env["RATECARD_REDIS_PREFIX"],
            start_coordinator=False,
        )
        deps = refresh_deps(settings, engine, client)
        stop = threading.Event()
        threads = [threading.Thread(target=clients, args=(port, stop)) for _ in range(4)]
        try:
            # Ready first: until then a child may be the master's readiness helper.
            assert wait_for(lambda: answers_200(port), 60), "not ready"
            pid = worker_pid(server.pid)
            assert pid is not None
            time.sleep(3)
            for thread in threads:
                thread.start()
            started = time.monotonic()
            samples: list[tuple[float, int, float]] = []
            versions = 0
            next_sample = started
            while (now := time.monotonic()) - started <= args.seconds:
                if now >= next_sample:
                    samples.append((now - started, versions, rss_mb(pid)))
                    print(
                        f"  t={now - started:5.0f} s  versions={versions:4d}  rss={samples[-1][2]:.1f} MB"
                    )
                    next_sample += args.every
                feed.write_bytes(SNAPSHOTS[(versions + 1) % 2].read_bytes())
                if refresh_catalog(deps).committed:
                    versions += 1
        finally:
            stop.set()
            for thread in threads:
                thread.join(10)
            server.terminate()
            server.wait(30)
            client.close()
            engine.dispose()
    # The first sample is the worker before its clients' first reads (catalog decoded, no
    # answer built yet): the halves start at the second one, warm.
    warm = samples[1:]
    half = len(warm) // 2
    first = warm[half][2] - warm[0][2]
    second = warm[-1][2] - warm[half][2]
    peak = max(s[2] for s in warm)
    print(
        f"worker rss: {samples[0][2]:.1f} MB before its first reads, {warm[0][2]:.1f} MB at "
        f"t={warm[0][0]:.0f} s, {warm[-1][2]:.1f} MB after {versions} catalog versions in "
        f"{warm[-1][0]:.0f} s (peak {peak:.1f} MB)"
    )
    print(f"growth, first half: {first:+.1f} MB; second half: {second:+.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Time from exec to the first 200 from /health/ready: `ratecard serve` vs a bare Flask app.

Both run under the same gunicorn settings (bench/bare_gunicorn_conf.py copies ratecard's,
without its hooks), alternating, on fresh free ports; ratecard against its own PostgreSQL
database (created, migrated, refreshed from the real LiteLLM file, dropped at the end) and its
own Redis key prefix. Then /health/ready requests per second against the bare app's.

    .venv/bin/python bench/startup.py [--runs 5] [--seconds 3]

Targets: start-up ≤ 1.5x the bare app and < 1 s; throughput ≥ 0.8x the bare app's.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import redis

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from bench.support import BUNDLED_FEED, compile_sources  # noqa: E402

BIN = Path(sys.executable).parent
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
# The real LiteLLM snapshot of 2026-07-24, as bundled in the package.
FEED = f"litellm=file://{BUNDLED_FEED}"
POLL_INTERVAL = 0.005
START_DEADLINE = 20.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def probe(port: int, path: str = "/health/ready") -> int | None:
    """Return the status of one GET on a new connection, or None when nothing answers yet."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def time_to_ready(
    argv_for_port: list[str], env: dict[str, str], port: int
) -> tuple[float, subprocess.Popen[bytes]]:
    """Exec the server and poll until /health/ready answers 200; return seconds and process."""
    started = time.perf_counter()
    process = start(argv_for_port, env)
    while True:
        if probe(port) == 200:
            return time.perf_counter() - started, process
        if process.poll() is not None or time.perf_counter() - started > START_DEADLINE:
            stop(process)
            raise RuntimeError(f"{argv_for_port[0]} never became ready on port {port}")
        time.sleep(POLL_INTERVAL)


def throughput(port: int, seconds: float, clients: int = 4) -> float:
    """Requests/s of /health/ready over keep-alive connections from `clients` threads."""
    counts = [0] * clients
    errors = [0] * clients
    deadline = time.perf_counter() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        while time.perf_counter() < deadline:
            try:
                conn.request("GET", "/health/ready")
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    counts[i] += 1
                else:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if sum(errors):
        print(f"  ({sum(errors)} non-200 or failed requests on port {port})")
    return sum(counts) / (time.perf_counter() - began)


def prepare_database(env: dict[str, str]) -> str:
    """Migrate and load the catalog; return a note on how (or whether) it got loaded.

    `ratecard worker --run-once` is preferred: it completes the current period's slot, so the
    instances under test find nothing to catch up and no refresh competes with the probes.
    """
    subprocess.run(
        [str(BIN / "ratecard"), "migrate"],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=60,
    )
    failures = []
    for command in (["worker", "--run-once"], ["prices", "refresh"]):
        done = subprocess.run(
            [str(BIN / "ratecard"), *command],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode == 0:
            return f"catalog loaded by `ratecard {' '.join(command)}`"
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        failures.append(f"`ratecard {' '.join(command)}` exit {done.returncode}: {last[0]}")
    return "catalog NOT loaded (" + "; ".join(failures) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()

    compile_sources()  # as installed in the image: see bench/support.py
    name = f"rc_bench_startup_{uuid.uuid4().hex[:10]}"
    prefix = f"rcbench-startup:{uuid.uuid4().hex[:8]}:"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
        "REDIS_URL": REDIS_URL,
        "RATECARD_REDIS_PREFIX": prefix,
        "RATECARD_SOURCES": FEED,
        "RATECARD_LOG_FORMAT": "json",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    try:
        note = prepare_database(env)
        ours: list[float] = []
        bare: list[float] = []
        ours_rps: list[float] = []
        bare_rps: list[float] = []
        for run in range(args.runs):
            for label, samples, rps in (("ratecard", ours, ours_rps), ("bare", bare, bare_rps)):
                port = free_port()
                if label == "ratecard":
                    argv = [str(BIN / "ratecard"), "serve", "--port", str(port)]
                else:
                    argv = [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "--config",
                        "python:bench.bare_gunicorn_conf",
                        "--bind",
                        f"127.0.0.1:{port}",
                        "bench.bare_app:app",
                    ]
                seconds, process = time_to_ready(argv, env, port)
                samples.append(seconds)
                try:
                    if run < 2:  # throughput twice each: enough for a stable ratio, bounded time
                        time.sleep(0.5)  # let the other worker finish booting
                        rps.append(throughput(port, args.seconds))
                finally:
                    stop(process)
        ours_median, bare_median = statistics.median(ours), statistics.median(bare)
        ours_r, bare_r = statistics.median(ours_rps), statistics.median(bare_rps)
        print(f"database: PostgreSQL {name} (migrated; {note}); Redis prefix {prefix}")
        print(
            "load average (1, 5, 15 min) at the end: "
            + ", ".join(f"{x:.2f}" for x in os.getloadavg())
            + f" on {os.cpu_count()} CPUs"
        )
        print(f"start-up to first 200 from /health/ready, median of {args.runs} (alternating):")
        print(
            f"  ratecard serve : {ours_median * 1000:7.0f} ms   runs: "
            + ", ".join(f"{s * 1000:.0f}" for s in ours)
        )
        print(
            f"  bare Flask app : {bare_median * 1000:7.0f} ms   runs: "
            + ", ".join(f"{s * 1000:.0f}" for s in bare)
        )
        print(
            f"  ratio          : {ours_median / bare_median:7.2f}x  (target ≤ 1.5x and < 1000 ms)"
        )
        print(f"/health/ready throughput, {args.seconds:g} s x 4 keep-alive clients, median of 2:")
        print(f"  ratecard serve : {ours_r:7.0f} req/s")
        print(f"  bare Flask app : {bare_r:7.0f} req/s")
        print(f"  ratio          : {ours_r / bare_r:7.2f}x  (target ≥ 0.8x)")
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


if __name__ == "__main__":
    main()

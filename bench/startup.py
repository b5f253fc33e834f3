"""Time from exec to both /health/startup and /health/ready answering 200, and the first
request after: `ratecard serve` vs a bare Flask app.

Both run under the same gunicorn settings (bench/bare_gunicorn_conf.py copies ratecard's,
without its hooks), alternating, on fresh free ports; ratecard against its own PostgreSQL
database (created, migrated, refreshed from the real LiteLLM file, dropped at the end) and its
own Redis key prefix. Each run polls both probes (as Kubernetes' startup, then readiness,
probes do) until both answer 200, noting when each first did, then times one GET of
/api/models/gpt-4o (the bare app answers it from a dict), the first request a balancer would
send. Then /health/ready requests per second against the bare app's, in every run, and the
first read of another model after that (the warm-up long over).

"Startup failed after ready passed" counts the runs in which any /health/startup probe, the
one right after both passed included, answered other than 200 once /health/ready had answered
200: the probes' contract. The two first-200 times alone cannot show it: the probes go one
after the other, so when the listening socket opens between the two probes of a round, ready
answers first and startup a round later, with the server holding nothing back.

    .venv/bin/python bench/startup.py [--runs 5] [--seconds 3]

Targets: exec -> both 200 ≤ 1.5x the bare app and < 1 s, /health/startup never failing after
/health/ready passed; throughput ≥ 0.8x the bare app's.
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
from dataclasses import dataclass
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


@dataclass
class Start:
    """One start: seconds from exec to each probe's first 200, and the first request's time."""

    startup: float
    ready: float
    first_request: float
    # Whether /health/startup answered anything but 200 after /health/ready had answered 200.
    startup_behind: bool

    @property
    def both(self) -> float:
        return max(self.startup, self.ready)


def time_to_ready(
    argv_for_port: list[str], env: dict[str, str], port: int
) -> tuple[Start, subprocess.Popen[bytes]]:
    """Exec the server and poll both probes until each has answered 200; then time the first
    GET /api/models/gpt-4o on a new connection."""
    started = time.perf_counter()
    process = start(argv_for_port, env)
    seen: dict[str, float] = {}
    behind = False
    while len(seen) < 2:
        for path in ("/health/startup", "/health/ready"):
            status = probe(port, path)
            if status == 200 and path not in seen:
                seen[path] = time.perf_counter() - started
            elif status != 200 and path == "/health/startup" and "/health/ready" in seen:
                behind = True
        if process.poll() is not None or time.perf_counter() - started > START_DEADLINE:
            stop(process)
            raise RuntimeError(f"{argv_for_port[0]} never became ready on port {port}")
        if len(seen) < 2:
            time.sleep(POLL_INTERVAL)
    began = time.perf_counter()
    status = probe(port, "/api/models/gpt-4o")
    first = time.perf_counter() - began
    if status != 200:
        print(f"  (first request answered {status})")
    # One more startup probe: the first after the last ready 200.
    behind = behind or probe(port, "/health/startup") != 200
    return Start(seen["/health/startup"], seen["/health/ready"], first, behind), process


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


def rps_runs(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


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
        ours: list[Start] = []
        bare: list[Start] = []
        ours_rps: list[float] = []
        bare_rps: list[float] = []
        # The first read of another model once the warm-up is long over (after the
        # throughput run): what a balancer's first real request meets in a started worker.
        ours_later: list[float] = []
        bare_later: list[float] = []
        for _run in range(args.runs):
            for label, samples, rps, later in (
                ("ratecard", ours, ours_rps, ours_later),
                ("bare", bare, bare_rps, bare_later),
            ):
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
                sample, process = time_to_ready(argv, env, port)
                samples.append(sample)
                try:
                    # Throughput in every run: two runs each gave ratios from 0.71x to 1.10x
                    # for the same code within minutes (the load generator, both servers'
                    # workers and whatever else runs share the two cores).
                    time.sleep(0.5)  # let the other worker finish booting
                    rps.append(throughput(port, args.seconds))
                    began = time.perf_counter()
                    probe(port, "/api/models/gpt-4o-mini")
                    later.append(time.perf_counter() - began)
                finally:
                    stop(process)

        def ms(values: list[float]) -> str:
            return f"{statistics.median(values) * 1000:7.0f} ms   runs: " + ", ".join(
                f"{v * 1000:.0f}" for v in values
            )

        ours_both = statistics.median(s.both for s in ours)
        bare_both = statistics.median(s.both for s in bare)
        ours_r, bare_r = statistics.median(ours_rps), statistics.median(bare_rps)
        late = sum(1 for s in ours if s.startup_behind)
        print(f"database: PostgreSQL {name} (migrated; {note}); Redis prefix {prefix}")
        print(
            "load average (1, 5, 15 min) at the end: "
            + ", ".join(f"{x:.2f}" for x in os.getloadavg())
            + f" on {os.cpu_count()} CPUs"
        )
        print(f"exec -> /health/startup and /health/ready both 200, median of {args.runs}:")
        print(f"  ratecard serve : {ms([s.both for s in ours])}")
        print(f"  bare Flask app : {ms([s.both for s in bare])}")
        print(f"  ratio          : {ours_both / bare_both:7.2f}x  (target ≤ 1.5x and < 1000 ms)")
        print(f"  ratecard /health/startup 200 : {ms([s.startup for s in ours])}")
        print(f"  ratecard /health/ready 200   : {ms([s.ready for s in ours])}")
        print(f"  runs where startup failed after ready passed: {late} of {args.runs} (target 0)")
        print("first request after both, GET /api/models/gpt-4o on a new connection:")
        print(f"  ratecard serve : {ms([s.first_request for s in ours])}")
        print(f"  bare Flask app : {ms([s.first_request for s in bare])}")
        print("first read of another model, after the throughput run (warm-up long over):")
        print(f"  ratecard serve : {ms(ours_later)}")
        print(f"  bare Flask app : {ms(bare_later)}")
        print(
            f"/health/ready throughput, {args.seconds:g} s x 4 keep-alive clients, "
            f"median of {args.runs}:"
        )
        print(f"  ratecard serve : {ours_r:7.0f} req/s   runs: " + rps_runs(ours_rps))
        print(f"  bare Flask app : {bare_r:7.0f} req/s   runs: " + rps_runs(bare_rps))
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

"""Client errors through a real HAProxy in front of three instances, during a rolling restart
and during a 5 s database outage (goal: 0 and 0).

    .venv/bin/python bench/faults.py [--clients 8] [--outage 5]

Three `ratecard serve` instances (2 workers each) share one scratch PostgreSQL database holding
the bundled LiteLLM snapshot and one Redis key prefix; HAProxy (Debian's package: `make bench`
installs it) balances them round-robin, checks `/health/ready` every 300 ms, and retries a
request whose connection failed on another server (`retries`, `option redispatch`). Eight
keep-alive clients send `GET /api/models/<id>` and `POST /api/cost` through it. A client error
is a connection error or a 5xx answer. Phases, one after the other:

- rolling restart: each instance in turn gets SIGTERM, exits, starts again on its port, and
  waits until HAProxy sees it ready, as an orchestrator's rolling update does;
- database outage: for `--outage` seconds the database refuses every connection
  (`ALTER DATABASE ... ALLOW_CONNECTIONS false` and its backends terminated), then returns.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import (
    PG_ADMIN_DSN,
    RATECARD,
    REPO,
    answers_200,
    free_port,
    scratch_catalog,
    wait_for,
)

MODEL_IDS = ["gpt-4o", "claude-sonnet-4-5", "gemini/gemini-2.5-pro"]
COST = json.dumps({"model": "gpt-4o", "input_tokens": 1200, "output_tokens": 300})

HAPROXY_CONFIG = """
global
    maxconn 512
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    # HAProxy's own retry rule (a refused connection is tried again, on another server with
    # redispatch); not `empty-response`, which would hide a reset of a connection the server
    # had accepted: an instance must not drop what it took.
    retries 3
    option redispatch 1
    retry-on conn-failure
frontend ratecard
    bind 127.0.0.1:{port}
    default_backend instances
backend instances
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    default-server inter 300ms fall 2 rise 2
{servers}
"""


class Instance:
    """One `ratecard serve` on a fixed port."""

    def __init__(self, name: str, port: int, env: dict[str, str], log_dir: Path) -> None:
        self.name, self.port, self.env, self.log_dir = name, port, env, log_dir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [RATECARD, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with (self.log_dir / f"{self.name}.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*args, "--workers", "2"],
                cwd=REPO,
                env=self.env | {"RATECARD_INSTANCE_ID": self.name},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def ready(self) -> bool:
        return answers_200(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)


class Clients:
    """Keep-alive clients through the balancer; errors and requests counted per phase."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.phase = "warm-up"
        self.requests: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.samples: dict[str, list[str]] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(count)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self, index: int) -> None:
        conn: http.client.HTTPConnection | None = None
        n = index
        while not self._stop.is_set():
            n += 1
            phase = self.phase
            error: str | None = None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                if n % 4 == 0:
                    conn.request("POST", "/api/cost", COST, {"Content-Type": "application/json"})
                else:
                    conn.request("GET", f"/api/models/{MODEL_IDS[n % len(MODEL_IDS)]}")
                response = conn.getresponse()
                body = response.read()
                if response.status >= 500:
                    error = f"{response.status} {body[:120]!r}"
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"
                if conn is not None:
                    conn.close()
                conn = None
            with self._lock:
                self.requests[phase] += 1
                if error is not None:
                    self.errors[phase] += 1
                    self.samples.setdefault(phase, []).append(error)


def set_connections(database: str, allowed: bool) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--outage", type=float, default=5.0)
    args = parser.parse_args()
    haproxy = "/usr/sbin/haproxy"
    if not os.path.exists(haproxy):
        print("haproxy is not installed: apt-get install -y haproxy (make bench does)")
        return 1
    with scratch_catalog() as env, tempfile.TemporaryDirectory() as tmp:
        log_dir = Path(tmp)
        database = env["DATABASE_URL"].rsplit("/", 1)[1]
        instances = [Instance(f"fault-{i}", free_port(), env, log_dir) for i in range(3)]
        front = free_port()
        servers = "\n".join(f"    server {i.name} 127.0.0.1:{i.port} check" for i in instances)
        config = log_dir / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=front, servers=servers))
        balancer: subprocess.Popen[bytes] | None = None
        clients = Clients(front, args.clients)
        try:
            for instance in instances:
                instance.start()
            assert wait_for(lambda: all(i.ready() for i in instances), 60), "not ready"
            balancer = subprocess.Popen([haproxy, "-f", str(config), "-db"], cwd=tmp)
            time.sleep(1.5)  # two passing checks per server
            clients.start()
            time.sleep(2)
            clients.phase = "rolling restart"
            for instance in instances:
                instance.stop()
                instance.start()
                assert wait_for(instance.ready, 60), f"{instance.name} did not come back"
                time.sleep(1.0)  # HAProxy's two passing checks (300 ms apart) and a margin
            clients.phase = "settle"
            time.sleep(2)
            clients.phase = "database outage"
            set_connections(database, False)
            time.sleep(args.outage)
            set_connections(database, True)
            time.sleep(3)  # the instances' next database checks find it back
            clients.phase = "after"
            time.sleep(1)
        finally:
            clients.stop()
            if balancer is not None:
                balancer.terminate()
                balancer.wait(10)
            for instance in instances:
                instance.stop()
            set_connections(database, True)
        report(clients, args.outage)
        problems = [p for p in ("rolling restart", "database outage") if clients.errors[p]]
        for phase in problems:
            print(f"  {phase}, first errors: {clients.samples[phase][:5]}")
    return 0


def report(clients: Clients, outage: float) -> None:
    labels: dict[str, Any] = {
        "rolling restart": "rolling restart of 3 instances",
        "database outage": f"database outage of {outage:g} s (and 3 s after)",
    }
    for phase, label in labels.items():
        done, failed = clients.requests[phase], clients.errors[phase]
        print(f"  {label}: {failed} client errors of {done} requests")


if __name__ == "__main__":
    raise SystemExit(main())

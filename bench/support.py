"""What the benchmarks need around ratecard: scratch databases, a redis-server of their own, a
stalling feed server and `ratecard worker run` processes. Benchmarks run from a checkout
without the test suite's helpers (bench/ imports nothing from tests/).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import redis
from sqlalchemy import Engine, text

REPO = Path(__file__).resolve().parents[1]
RATECARD = str(Path(sys.executable).parent / "ratecard")
# The real LiteLLM snapshot of 2026-07-24, as bundled in the package.
BUNDLED_FEED = REPO / "src" / "ratecard" / "ingest" / "data" / "litellm_snapshot.json"
# Six real OpenRouter models (a data file of the repository; read, not imported).
EDGE_FEED = REPO / "tests" / "data" / "openrouter_models_edge_cases.json"
PG_ADMIN_DSN = os.environ.get(
    "RATECARD_BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
# The machine's Redis, for benchmarks that need no server of their own (a key prefix each).
REDIS_URL = os.environ.get("RATECARD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, step: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy (returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def answers_200(port: int, path: str = "/health/ready") -> bool:
    """Whether the server on 127.0.0.1:`port` answers `path` with a 200 now."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False


class ScratchDatabases:
    """Throwaway PostgreSQL databases, migrated to head; drop_all() at the end."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def create(self) -> str:
        from ratecard.migrations.upgrade import Migrator

        name = f"rc_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        url = PG_URL.format(name=name)
        Migrator(url, echo=lambda _line: None).upgrade(wait=30)
        return url

    def drop_all(self) -> None:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            for name in self.names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.names.clear()


@contextmanager
def scratch() -> Iterator[tuple[str, str]]:
    """A scratch database migrated to head and a Redis key prefix of its own (on REDIS_URL);
    yields (database URL, prefix) and drops both at the end."""
    databases = ScratchDatabases()
    prefix = f"rcbench:{uuid.uuid4().hex[:8]}:"
    try:
        yield databases.create(), prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()
        databases.drop_all()


def load_catalog(url: str, prefix: str) -> None:
    """Refresh the (migrated) database at `url` from the bundled snapshot."""
    from ratecard.background import refresh_deps
    from ratecard.db import build_engine
    from ratecard.ingest.refresh import refresh_catalog
    from ratecard.settings import Settings, parse_sources

    engine = build_engine(url)
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    settings = Settings(
        database_url=url,
        sources=parse_sources(f"litellm=file://{BUNDLED_FEED}"),
        redis_key_prefix=prefix,
        start_coordinator=False,
    )
    report = refresh_catalog(refresh_deps(settings, engine, client))
    assert report.published, report
    client.close()
    engine.dispose()


@contextmanager
def scratch_catalog() -> Iterator[dict[str, str]]:
    """A scratch database and Redis prefix holding the bundled snapshot; yields the server's
    environment (DATABASE_URL, REDIS_URL, ...); drops both at the end."""
    with scratch() as (url, prefix):
        load_catalog(url, prefix)
        env = {
            **os.environ,
            "PYTHONPATH": f"{REPO / 'src'}:{REPO}",
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "RATECARD_REDIS_PREFIX": prefix,
            "RATECARD_SOURCES": f"litellm=file://{BUNDLED_FEED}",
            "RATECARD_COORDINATOR": "false",
            "RATECARD_LOG_FORMAT": "json",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        yield env


class RedisServer:
    """A redis-server on a free port (no persistence), so command counts are ours alone."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        self.process = subprocess.Popen(
            [binary, *args, "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = self.client()
        if not wait_for(lambda: _pings(client), 10):
            raise RuntimeError(f"redis-server did not start on port {self.port}")
        client.close()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@contextmanager
def stalling_feed(path: Path, stall: float) -> Iterator[str]:
    """Serve `path` over HTTP on a free port; the first GET stalls `stall` seconds. Yields its URL.

    The stall keeps the first run inside its fetch, so a benchmark can kill the runner mid-run.
    """
    body = path.read_bytes()
    stalls = [stall]
    lock = threading.Lock()
    stopping = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                pause = stalls.pop() if stalls else 0.0
            stopping.wait(pause)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(ConnectionError):  # the runner was killed mid-request
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()


class Workers:
    """`ratecard worker run` processes sharing one environment; close() kills what is left."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        # Only what the benchmark sets: a DATABASE_URL or RATECARD_* of the caller's shell
        # would otherwise change what is measured.
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("RATECARD_", "REDIS_", "DATABASE_"))
        }
        self.env = base | env
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, name: str) -> None:
        with (self.log_dir / f"{name}.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(
                [RATECARD, "worker", "run"],
                cwd=REPO,
                env=self.env | {"RATECARD_INSTANCE_ID": name},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def signal(self, name: str, signum: int) -> None:
        self.processes[name].send_signal(signum)

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(10)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.log_dir.glob("*.log"))
        )


def runs(engine: Engine, committed: bool = False) -> list[dict[str, Any]]:
    """The refresh job's runs, oldest first (committed: only those whose results committed)."""
    where = " AND catalog_version IS NOT NULL" if committed else ""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, instance_id, outcome, started_at FROM runs "
                f"WHERE job = 'refresh'{where} ORDER BY id"
            )
        ).mappings()
        return [dict(row) for row in rows]


def compile_sources() -> None:
    """Write the bytecode of ratecard's sources (and the bench's), as `pip install` does.

    Timing process starts (`ratecard serve`, `ratecard migrate`) needs it: the image's wheel
    install compiles every module, but an editable install (`make install`) leaves src/
    without bytecode and, with PYTHONDONTWRITEBYTECODE=1 (set in the image, and in many dev
    shells), no process ever writes it, so each one compiled ratecard's ~60 modules from
    source again: measured ~55 ms of the master's preload alone, a cost no deployment pays.
    """
    import compileall

    for directory in (REPO / "src" / "ratecard", REPO / "bench"):
        compileall.compile_dir(directory, quiet=1)

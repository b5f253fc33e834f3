"""Real services for tests: a throwaway PostgreSQL database, redis-server processes, ports."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

REPO = Path(__file__).resolve().parents[2]
# The real feed snapshots the tests use, kept in the repository (see tests/data/README.md).
FEED_DATA = REPO / "tests" / "data"


def feed_checksums() -> dict[str, str]:
    """File name -> sha256 of each real snapshot as taken (tests/data/SHA256SUMS)."""
    lines = (FEED_DATA / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines if line)}


PG_ADMIN_DSN = os.environ.get(
    "RATECARD_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
PG_URL_TEMPLATE = os.environ.get(
    "RATECARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
)
REDIS_URL = os.environ.get("RATECARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any ratecard setting, plus `settings`.

    A child process must see only what the test sets: a DATABASE_URL or RATECARD_* exported in
    the developer's shell would otherwise leak into it.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RATECARD_", "REDIS_", "DATABASE_"))
    }
    env.update(settings)
    return env


def delete_keys(client: redis.Redis, prefix: str) -> None:
    """Delete every key under `prefix` (a test's own keys on a shared Redis; never FLUSHDB)."""
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


class PostgresDatabases:
    """Create throwaway databases on the machine's PostgreSQL; drop them all at the end."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._template: str | None = None

    def create(self, template: str | None = None) -> str:
        """Create an empty database, or a copy of `template` (a database of ours)."""
        name = f"rc_test_{uuid.uuid4().hex[:12]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        self.names.append(name)
        return PG_URL_TEMPLATE.format(name=name)

    def create_migrated(self) -> str:
        """Create a database migrated to head, as a file-level copy of one migrated template.

        Migrating costs ~0.3 s per database; CREATE DATABASE ... TEMPLATE copies the migrated
        files in a few milliseconds. The template is migrated once, on first use, and nothing
        but this method connects to it (PostgreSQL refuses to copy a database in use).
        """
        if self._template is None:
            from ratecard.migrations.upgrade import Migrator

            url = self.create()
            Migrator(url, echo=lambda _line: None).upgrade(wait=30)
            self._template = self.names[-1]
        return self.create(template=self._template)

    def drop_all(self) -> None:
        """Drop every database made here, several at a time.

        Each DROP DATABASE waits for a checkpoint (0.1-2 s on a busy machine, 200 times a
        session, one after another: the slowest part of the suite). Concurrent drops wait for
        the same checkpoint, so eight connections do the work of eight drops in about one.
        """
        names, self.names = self.names, []
        self._template = None

        def drop(name: str) -> None:
            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(drop, names))


@dataclass
class RedisServer:
    """A redis-server process of the test's own, on a free port; stop/start/kill at will."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        """Kill the server (SIGKILL): every key is lost, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)

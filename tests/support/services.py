"""Real services for tests: a throwaway PostgreSQL database, redis-server processes, ports."""

from __future__ import annotations

import itertools
import os
import random
import shutil
import socket
import subprocess
import threading
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


# Ports free_port() hands out: a block of PORT_BLOCK ports per pytest-xdist worker (gw0, gw1,
# ...; the lone process of a run without xdist takes gw0's), all below the kernel's ephemeral
# range (32768-60999 by default), where bind(0) and every outgoing connection take their ports.
# So between free_port() and the server's own bind, no client socket of any process and no
# other worker can take the port, as one could when it came from bind(0). Within its block a
# process hands ports out in turn from a random start, so a port just used (a killed server's,
# maybe in TIME_WAIT) is not offered again soon and two runs at once rarely try the same one.
PORT_BASE = 20000
PORT_BLOCK = 500
PORT_BLOCKS = (32768 - PORT_BASE) // PORT_BLOCK


def _port_block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) % PORT_BLOCKS if worker.isdigit() else 0
    start = PORT_BASE + index * PORT_BLOCK
    # The block's last port is never handed out: a test that binds p + 1 beside p (a fleet on
    # consecutive ports) stays inside its own block.
    return range(start, start + PORT_BLOCK - 1)


_PORTS = _port_block()
_next_port = itertools.count(random.randrange(len(_PORTS)))
_port_lock = threading.Lock()


def port_is_free(port: int) -> bool:
    """Whether a listening socket could bind 127.0.0.1:port right now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now, of this process's own."""
    with _port_lock:
        for _ in range(len(_PORTS)):
            port = _PORTS[next(_next_port) % len(_PORTS)]
            if port_is_free(port):
                return port
    raise RuntimeError(f"no free port in {_PORTS}")


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
    """Create throwaway databases on the machine's PostgreSQL; drop each once it is released.

    A test's database is released when its test is over (`release`) and dropped soon after,
    by a thread of this object's own, while the next tests run; `drop_all` (the end of the
    session) drops the rest: the migrated template and any database never released.
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self._template: str | None = None
        self._released: list[str] = []
        self._changed = threading.Condition()
        self._closing = False
        self._dropper: threading.Thread | None = None

    def create(self, template: str | None = None) -> str:
        """Create an empty database, or a copy of `template` (a database of ours)."""
        name = f"rc_test_{uuid.uuid4().hex[:12]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        with self._changed:
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
            self._template = url.rsplit("/", 1)[1]
        return self.create(template=self._template)

    def release(self, url: str) -> None:
        """The database at `url` (made here) is no longer used: drop it in the background.

        Why not at the end with the rest: every DROP DATABASE waits for a checkpoint, which
        writes out whatever is dirty by then; hundreds of databases kept to the end are
        hundreds of copies of the template written to disk, and the last test of each worker
        waited for them (8-12 s, alone on the critical path). Dropped within seconds, most of
        a database's pages are discarded before they are ever written, and the waits for the
        checkpoints overlap the tests that run meanwhile.
        """
        name = url.rsplit("/", 1)[1]
        with self._changed:
            if name not in self.names or name == self._template:
                return
            self._released.append(name)
            if self._dropper is None:
                self._dropper = threading.Thread(
                    target=self._drop_released, name="drop-test-databases", daemon=True
                )
                self._dropper.start()
            self._changed.notify()

    def _drop_released(self) -> None:
        """The background thread: drop what is released, a batch at a time, until closing."""
        while True:
            with self._changed:
                while not self._released and not self._closing:
                    self._changed.wait()
                if not self._released:
                    return
                # Let the tests running meanwhile release theirs too: concurrent drops share
                # their checkpoints, so fewer, larger batches make fewer checkpoints.
                self._changed.wait_for(lambda: self._closing, timeout=DROP_BATCH_SECONDS)
                batch, self._released = self._released, []
            self._drop(batch)

    def _drop(self, names: list[str]) -> None:
        """Drop `names` several at a time (concurrent drops wait for the same checkpoint)."""

        def drop(name: str) -> None:
            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            with self._changed:
                self.names.remove(name)

        if names:
            with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
                list(pool.map(drop, names))

    def drop_all(self) -> None:
        """Drop every database made here: what is released first, then the rest."""
        with self._changed:
            self._closing = True
            self._changed.notify()
            dropper, self._dropper = self._dropper, None
        if dropper is not None:
            dropper.join()
        with self._changed:
            names = list(self.names)
            self._template = None
            self._closing = False
        self._drop(names)


# How long the background dropper gathers released databases before dropping them together.
DROP_BATCH_SECONDS = 1.0


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

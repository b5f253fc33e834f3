"""The cross-process migration lock: one `ratecard migrate` applies revisions at a time.

Timeline it prevents: a release starts five pods whose init step runs `ratecard migrate` at
once; without a lock two of them read "revision 0003 pending", both run its DDL, and the second
fails half-way (or worse, a data migration runs twice). With the lock, the first applies the
revisions; the other four wait, then find the schema at head and exit 0.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

# pg_try_advisory_lock takes a bigint; this one is ours (crc of "ratecard:migrate").
ADVISORY_LOCK_KEY = 0x7261_7465_6361_7264 & 0x7FFF_FFFF_FFFF_FFFF
POLL_SECONDS = 0.25

monotonic: Callable[[], float] = time.monotonic  # replaceable by tests


class MigrationLockTimeout(RuntimeError):
    """Another migration held the lock for longer than we were willing to wait."""


@contextmanager
def migration_lock(engine: Engine, wait: float) -> Iterator[None]:
    """Hold the database's migration lock for the block; wait up to `wait` s (0 = fail fast)."""
    if engine.dialect.name == "postgresql":
        with _postgres_advisory_lock(engine, wait):
            yield
    else:
        with _file_lock(_sqlite_lock_path(engine), wait):
            yield


@contextmanager
def _postgres_advisory_lock(engine: Engine, wait: float) -> Iterator[None]:
    # A session-level lock on a dedicated connection, polled with pg_try_advisory_lock rather
    # than a blocking pg_advisory_lock: a blocked waiter sitting in the lock queue could
    # deadlock with a revision's CREATE INDEX CONCURRENTLY, which waits for every older
    # transaction to finish. If this process dies, its session ends and PostgreSQL drops the
    # lock, so a crashed migrate never leaves the next deploy stuck.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        _poll(
            lambda: bool(
                conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}
                ).scalar_one()
            ),
            wait,
        )
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})


@contextmanager
def _file_lock(path: Path, wait: float) -> Iterator[None]:
    # SQLite has no session locks we could hold across Alembic's own connection, so the lock
    # is an exclusive flock on a file beside the database: released by the kernel when the
    # process dies, like PostgreSQL's session lock.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:

        def try_lock() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        _poll(try_lock, wait)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _poll(try_once: Callable[[], bool], wait: float) -> None:
    deadline = monotonic() + wait
    while not try_once():
        if monotonic() >= deadline:
            if wait <= 0:
                raise MigrationLockTimeout(
                    "another `ratecard migrate` holds the migration lock (--fail-fast)"
                )
            raise MigrationLockTimeout(
                f"another `ratecard migrate` held the migration lock for more than {wait:g} s"
            )
        time.sleep(POLL_SECONDS)


def _sqlite_lock_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        return Path(tempfile.gettempdir()) / f"ratecard-migrate-{os.getpid()}.lock"
    return Path(database + ".migrate.lock")

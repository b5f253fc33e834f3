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

from sqlalchemy import Connection, Engine, text

# pg_try_advisory_xact_lock takes a bigint; this one is ours (crc of "ratecard:migrate").
ADVISORY_LOCK_KEY = 0x7261_7465_6361_7264 & 0x7FFF_FFFF_FFFF_FFFF
POLL_SECONDS = 0.25

monotonic: Callable[[], float] = time.monotonic  # replaceable by tests


class MigrationLockTimeout(RuntimeError):
    """Another migration held the lock for longer than we were willing to wait."""


@contextmanager
def migration_lock(engine: Engine, wait: float) -> Iterator[Connection]:
    """Hold the migration lock for the block, in the transaction yielded; wait up to `wait` s.

    The block runs the revisions on the connection yielded: its transaction commits when the
    block ends (rolls back on an exception), and the lock goes with it. `wait` 0 = fail fast.
    """
    if engine.dialect.name == "postgresql":
        with _postgres_transaction_lock(engine, wait) as conn:
            yield conn
    else:
        with _file_lock(_sqlite_lock_path(engine), wait), engine.begin() as conn:
            yield conn


@contextmanager
def _postgres_transaction_lock(engine: Engine, wait: float) -> Iterator[Connection]:
    # A TRANSACTION-scoped advisory lock (pg_try_advisory_xact_lock), taken inside the one
    # transaction that applies the revisions. Why not a session lock (pg_try_advisory_lock),
    # as before: behind PgBouncer in transaction pooling mode a "session" is whichever server
    # connection the pooler lends for one transaction, and this timeline follows:
    #
    #   t=0   migrate A: SELECT pg_try_advisory_lock(k) -> true, on server connection S1;
    #         the statement's transaction ends, PgBouncer takes S1 back into its pool
    #   t=1   A runs the revisions in a new transaction: the pooler lends it S2
    #   t=1   migrate B is lent S1, where the lock lives: pg_try_advisory_lock(k) is
    #         re-entrant for its "owner" S1 -> true: A and B migrate at once (duplicate type)
    #   t=9   A commits, then pg_advisory_unlock(k) runs on S3: no lock there -> false; the
    #         lock stays on the idle S1 until the pooler recycles it: every later
    #         `migrate --fail-fast` exits 3, and `--wait` runs time out
    #
    # A transaction never spans server connections, so a transaction lock is held on the
    # same connection as the DDL and released by COMMIT or ROLLBACK (or by the server when
    # the client dies mid-transaction: PgBouncer then closes that server connection), pooled
    # or direct. No lock survives its owner, and no second owner can share it.
    #
    # Each attempt is its own short transaction, rolled back when the lock is taken: a
    # waiter never sits idle in a transaction (holding a pooled server connection and, on a
    # direct connection, a snapshot) for the minutes of --wait; and polling rather than a
    # blocking pg_advisory_xact_lock keeps --wait/--fail-fast exact with no lock_timeout.
    # READ COMMITTED (asked for explicitly, whatever the server's default): every statement
    # after the lock sees what the previous holder committed, so a migrate that waited reads
    # the revision the other one left and applies nothing twice.
    with engine.connect().execution_options(isolation_level="READ COMMITTED") as conn:

        def try_once() -> bool:
            conn.begin()
            taken = bool(
                conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY}
                ).scalar_one()
            )
            if not taken:
                conn.rollback()
            return taken

        _poll(try_once, wait)
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


@contextmanager
def _file_lock(path: Path, wait: float) -> Iterator[None]:
    # SQLite has no advisory locks, so the lock is an exclusive flock on a file beside the
    # database: released by the kernel when the process dies, like PostgreSQL's transaction
    # lock when its connection goes.
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

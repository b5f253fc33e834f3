"""A driver-level database probe for the health checks: one DBAPI connection per process.

Why the probe has its own connection instead of borrowing one from the SQLAlchemy engine:
- a saturated application pool (every connection busy with slow requests) must not make
  readiness fail: the load balancer would then pull a healthy-but-busy instance and push its
  load onto the others, which saturate in turn;
- nothing before the first ready answer imports the ORM: SQLAlchemy and its dialect cost
  ~150 ms of imports per worker, more than a bare Flask app needs to start. The probe imports
  only the driver (psycopg, which gunicorn's master preloads, or the standard sqlite3).

The connection is opened on first use (after any fork); every query runs in a read-only
transaction ended at once (so nothing is left open between checks), and the connection is
dropped after any error so that the next check reconnects: a database that comes back is seen
at the next check, never through a dead socket. A lock serializes the checks' queries, which
run in parallel threads (see `HealthRegistry`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from ratecard import driver_urls
from ratecard.driver_urls import SQLITE_MEMORY, sqlite_path, sqlite_readonly_uri

APPLICATION_NAME = "ratecard-health"


class ProbeError(Exception):
    """The probe could not run a query; the message is the driver's own (scrub before showing)."""


class MissingTable(ProbeError):
    """The query named a table the database does not have (the connection stays usable)."""


class DatabaseMissing(ProbeError):
    """The SQLite database file does not exist (the probe never creates it)."""


class _Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


def pg_conninfo(database_url: str, connect_timeout: float) -> str:
    """Convert a `postgresql+psycopg://` URL into the probe's libpq URI (see driver_urls)."""
    return driver_urls.pg_conninfo(database_url, connect_timeout, APPLICATION_NAME)


class ProbeDatabase:
    """One autocommit, read-only DBAPI connection for health checks, reopened after any error."""

    def __init__(self, database_url: str, connect_timeout: float = 2.0) -> None:
        self.database_url = database_url
        self.connect_timeout = connect_timeout
        self.backend = "sqlite" if database_url.startswith("sqlite:") else "postgresql"
        # The driver's placeholder: psycopg uses %s, sqlite3 uses ?.
        self.param = "?" if self.backend == "sqlite" else "%s"
        self._lock = threading.Lock()
        self._conn: _Connection | None = None
        self._pid = os.getpid()

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one query and return its rows; raise ProbeError (or a subclass) on any failure."""
        with self._lock:
            reused = self._conn is not None and self._pid == os.getpid()
            try:
                return self._execute(sql, params)
            except MissingTable:
                raise
            except ProbeError:
                if not reused:
                    raise
            # A connection kept since an earlier check can have died meanwhile (database
            # restarted, idle connection cut by a proxy) while the database is fine: retry
            # once on a fresh one, as a pool's pre-ping would, so that readiness does not
            # turn 503 for a whole cache period over a socket that was merely stale.
            return self._execute(sql, params)

    def _execute(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        conn = self._connection()
        try:
            rows = [tuple(row) for row in conn.execute(sql, params).fetchall()]
            # End the read-only transaction now: behind a pooler in transaction mode an open
            # one would pin a server connection between checks.
            conn.rollback()
            return rows
        except Exception as exc:
            if self._is_missing_table(exc):
                # The connection is fine once the aborted transaction is rolled back.
                with contextlib.suppress(Exception):
                    conn.rollback()
                raise MissingTable(str(exc)) from exc
            self._drop()
            raise ProbeError(str(exc)) from exc

    def ping(self) -> None:
        """Run `SELECT 1`."""
        self.fetch_all("SELECT 1")

    def close(self) -> None:
        """Close the connection (if open in this process); the next query reopens it."""
        with self._lock:
            self._drop()

    def _connection(self) -> _Connection:
        if self._pid != os.getpid():
            # Inherited across a fork: the socket belongs to the parent. Closing it here would
            # send the server a termination message on the parent's behalf; just forget it.
            self._conn, self._pid = None, os.getpid()
        if self._conn is None:
            try:
                self._conn = self._connect()
            except ProbeError:
                raise
            except Exception as exc:
                raise ProbeError(str(exc)) from exc
        return self._conn

    def _connect(self) -> _Connection:
        if self.backend == "sqlite":
            return self._connect_sqlite()
        import psycopg

        conn = psycopg.connect(
            pg_conninfo(self.database_url, self.connect_timeout),
            # Not autocommit: each query opens BEGIN READ ONLY, so a probe can never write.
            # (Server-side prepares need no switch here: psycopg forgets them at every
            # ROLLBACK, which ends each probe query; see ratecard.db for why they matter.)
        )
        conn.read_only = True
        return conn

    def _connect_sqlite(self) -> _Connection:
        import sqlite3

        path = sqlite_path(self.database_url)
        if path == SQLITE_MEMORY:
            # A private, empty database: an in-memory database is never shared between
            # connections, so the probe can only tell that SQLite answers.
            return sqlite3.connect(SQLITE_MEMORY, check_same_thread=False)
        if not os.path.exists(path):
            raise DatabaseMissing(f"SQLite database file not found: {path}")
        conn = sqlite3.connect(
            sqlite_readonly_uri(path),
            uri=True,
            timeout=self.connect_timeout,
            check_same_thread=False,  # the checks' threads share it, under self._lock
            isolation_level=None,  # autocommit: no transaction left open between probes
        )
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # A broken connection may fail to close; it is gone either way.
            with contextlib.suppress(Exception):
                conn.close()

    def _is_missing_table(self, exc: Exception) -> bool:
        if self.backend == "sqlite":
            return str(exc).startswith("no such table")
        return getattr(exc, "sqlstate", None) == "42P01"  # undefined_table

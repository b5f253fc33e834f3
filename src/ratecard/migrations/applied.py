"""Where the database stands, read with the bare driver: `ratecard migrate`'s fast path.

Every deploy runs `ratecard migrate`, and almost always the database is already at head.
Importing Alembic and SQLAlchemy to find that out cost ~10x the CLI's own start; one query on
the driver (psycopg, or the standard sqlite3) costs a fraction of it. `HEAD_REVISION` is
known without Alembic (ratecard.migrations; tests/migrations/test_runner.py keeps it equal to
the script directory's head), so the answer needs nothing else.

Why the version is read without the migration lock, and why that is safe:
- the fast path only ever concludes "at head, nothing to do"; anything else (behind, ahead,
  several rows, no table, no file, an error) goes the full way, which takes the lock;
- the revisions and their `alembic_version` stamp commit in ONE transaction (the lock's, see
  lock.py and upgrade.Migrator.upgrade), and the read sees only committed data (PostgreSQL
  READ COMMITTED snapshot; SQLite readers never see another connection's uncommitted
  writes). Timeline with a concurrent migrate A applying 0003:
    t=0  A takes the lock, runs 0003's DDL, stamps 0003 (uncommitted)
    t=1  we read alembic_version -> 0002 (the committed row): not head, so we take the full
         way: we wait for the lock, then find 0003 applied and do nothing
    t=2  A commits; a read from now on sees 0003 and the schema it stamps, both at once
  so "head" is never seen before the schema it stands for is committed. (On SQLite some DDL
  may commit before the stamp; the stamp is still written after its revision's DDL, so
  seeing head still implies the DDL is there.)
- what the lock serializes is applying revisions; a run that applies nothing needs no turn.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

from ratecard.driver_urls import SQLITE_MEMORY, pg_conninfo, sqlite_path, sqlite_readonly_uri
from ratecard.migrations import HEAD_REVISION, VERSION_TABLE

APPLICATION_NAME = "ratecard-migrate"
CONNECT_TIMEOUT = 5.0  # seconds; a database this slow to answer gets the full way's errors


@dataclass(frozen=True)
class SchemaStatus:
    """Where the database stands against the revisions this code ships."""

    current: str | None
    head: str
    pending: list[str] = field(default_factory=list)
    unknown_current: bool = False  # the database is at a revision newer than this code

    @property
    def state(self) -> str:
        if self.unknown_current:
            return "ahead"
        return "behind" if self.pending else "at-head"

    def as_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "head": self.head,
            "pending": self.pending,
            "state": self.state,
        }


def status_if_at_head(database_url: str) -> SchemaStatus | None:
    """Return the at-head status if one cheap query shows it; None means "ask Alembic"."""
    try:
        revisions = read_applied_revisions(database_url)
    except Exception:
        # Unreachable, no table, a driver missing: the full way reports it in its own words
        # (and with its password scrubbing), so nothing is printed from here.
        return None
    if revisions != [HEAD_REVISION]:
        return None
    return SchemaStatus(current=HEAD_REVISION, head=HEAD_REVISION)


def read_applied_revisions(database_url: str) -> list[str] | None:
    """Return the rows of alembic_version with the bare driver (None: no SQLite file yet)."""
    query = f"SELECT version_num FROM {VERSION_TABLE}"
    if database_url.startswith("sqlite:"):
        import sqlite3

        path = sqlite_path(database_url)
        if path == SQLITE_MEMORY or not os.path.exists(path):
            return None  # nothing to read, and a read must never create the file
        sqlite_conn = sqlite3.connect(sqlite_readonly_uri(path), uri=True, timeout=CONNECT_TIMEOUT)
        try:
            return [str(row[0]) for row in sqlite_conn.execute(query).fetchall()]
        finally:
            sqlite_conn.close()
    import psycopg

    with contextlib.closing(
        psycopg.connect(
            pg_conninfo(database_url, CONNECT_TIMEOUT, APPLICATION_NAME), autocommit=True
        )
    ) as pg_conn:
        return [str(row[0]) for row in pg_conn.execute(query).fetchall()]

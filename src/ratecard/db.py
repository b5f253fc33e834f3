"""The SQLAlchemy engine: one per process, created lazily, safe across gunicorn's fork."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Connection, Engine, Table, create_engine, event, insert
from sqlalchemy.engine import make_url


def build_engine(database_url: str, **overrides: Any) -> Engine:
    """Create an engine with pool settings fit for a web instance and a short connect timeout."""
    url = make_url(database_url)
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        database = url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 15, "check_same_thread": False}
    else:
        kwargs.update(
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=5,
            pool_timeout=5,
            # A dead database must fail a readiness check in about a second, not hang a worker.
            connect_args={
                "connect_timeout": 2,
                "application_name": "ratecard",
                # No server-side prepared statements: psycopg prepares a query after its 5th
                # run on a connection, and PgBouncer before 1.21 (Debian 12 ships 1.18) in
                # transaction mode sends the next run to another server connection, where
                # the statement does not exist ("prepared statement _pg3_0 does not exist").
                # Always off, not behind a setting: measured costless for these short
                # queries (docs/operations.md, "PgBouncer").
                "prepare_threshold": None,
            },
        )
    if "poolclass" in overrides:  # e.g. NullPool for one-shot commands: no pool sizing
        for key in ("pool_size", "max_overflow", "pool_timeout"):
            kwargs.pop(key, None)
    kwargs.update(overrides)
    engine = create_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (web requests) proceed while the refresh writes; foreign keys are off
    # by default in SQLite and the schema relies on them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def is_sqlite(engine: Engine) -> bool:
    """Return whether the engine talks to SQLite (single-machine mode)."""
    return engine.dialect.name == "sqlite"


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows: COPY on PostgreSQL (10x an INSERT executemany), executemany elsewhere.

    Every row must have the same keys (the first row's name the columns).
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    from psycopg.types.json import Json

    names = list(rows[0])
    json_columns = {n for n in names if isinstance(table.c[n].type, JSON)}
    column_list = ", ".join(f'"{n}"' for n in names)
    raw = conn.connection.driver_connection
    assert raw is not None  # a live connection inside a transaction
    with (
        raw.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({column_list}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    Json(row[n]) if n in json_columns and row[n] is not None else row[n]
                    for n in names
                ]
            )

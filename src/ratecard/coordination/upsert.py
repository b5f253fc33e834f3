"""Race-safe inserts on PostgreSQL and SQLite (both speak INSERT ... ON CONFLICT)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_or_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> None:
    """Insert a row unless one with the same primary key exists (concurrent callers welcome)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())


def upsert(conn: Connection, table: Table, key: str, values: dict[str, Any]) -> None:
    """Insert a row, or update every given column of the row with the same `key`."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values)
    changes = {name: statement.excluded[name] for name in values if name != key}
    conn.execute(statement.on_conflict_do_update(index_elements=[key], set_=changes))

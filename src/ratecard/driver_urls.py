"""Database URLs as the bare drivers read them (psycopg, sqlite3), without SQLAlchemy.

Used where importing SQLAlchemy would cost more than the work itself: the health probe (no ORM
before the first ready answer) and `ratecard migrate`'s "already at head" check.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

SQLITE_MEMORY = ":memory:"


def pg_conninfo(database_url: str, connect_timeout: float, application_name: str) -> str:
    """Convert a `postgresql+psycopg://` URL into a libpq URI with a connect timeout.

    libpq reads the same URI shape (user, password, host, port, dbname, query parameters
    passed through); only the scheme differs, plus the caller's own parameters.
    """
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    # libpq counts whole seconds and treats anything under 2 as 2.
    query["connect_timeout"] = str(max(2, round(connect_timeout)))
    query.setdefault("application_name", application_name)
    # Read-only is asked per transaction (BEGIN READ ONLY, see health.probe_db), not with a
    # startup `options=-c default_transaction_read_only=on`: PgBouncer before 1.20 refuses any
    # connection carrying `options` ("unsupported startup parameter"), so readiness would
    # fail on every instance behind it.
    return parts._replace(scheme="postgresql", query=urlencode(query, quote_via=quote)).geturl()


def sqlite_path(database_url: str) -> str:
    """Return the file path of a `sqlite:///path` URL (relative to the cwd), or ':memory:'."""
    rest = database_url.split("://", 1)[1] if "://" in database_url else ""
    path = rest[1:] if rest.startswith("/") else rest
    path = path.split("?", 1)[0]
    return path or SQLITE_MEMORY


def sqlite_readonly_uri(path: str) -> str:
    """Return the `file:` URI opening `path` read-only: SQLite then never creates the file."""
    return Path(path).resolve().as_uri() + "?mode=ro"

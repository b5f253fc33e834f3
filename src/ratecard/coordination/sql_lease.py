"""The lease on a database row (the fallback when Redis is away), timed by the DATABASE clock.

Why the database's clock and not ours: instances' clocks drift apart, and a lease judged by
each contender's own clock breaks in this timeline:

    t=0   A (clock right) acquires; expires_at = 10:00:10
    t=3   B, whose clock runs 8 s fast, reads 10:00:11 > expires_at and takes the lease

With `expires_at` written and compared by the one database clock (`clock_timestamp()` on
PostgreSQL: the real time of the statement, not of its transaction's start; SQLite's 'now',
which is the clock of the only machine that can open the file), every contender judges
expiry by the same clock. Rows are never deleted while in use, so `fence` only grows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ratecard.coordination.lease import CoordinationUnavailable, Grant, Holding
from ratecard.coordination.upsert import insert_or_ignore
from ratecard.schema import leases

BACKEND = "database"


@dataclass(frozen=True)
class ClockSQL:
    """The dialect's spelling of "now" and "now + ttl seconds" and "seconds until a time"."""

    now: str
    expiry: str  # uses the :ttl bind parameter
    seconds_left: str  # of the expires_at column


POSTGRES_CLOCK = ClockSQL(
    now="clock_timestamp()",
    expiry="clock_timestamp() + make_interval(secs => :ttl)",
    seconds_left="EXTRACT(EPOCH FROM (expires_at - clock_timestamp()))",
)
# SQLite stores these as text; one format everywhere keeps text comparison chronological.
SQLITE_CLOCK = ClockSQL(
    now="strftime('%Y-%m-%d %H:%M:%f', 'now')",
    expiry="strftime('%Y-%m-%d %H:%M:%f', 'now', '+' || :ttl || ' seconds')",
    seconds_left="(julianday(expires_at) - julianday('now')) * 86400.0",
)


def clock_sql(conn: Connection) -> ClockSQL:
    """Return the clock expressions for this connection's dialect."""
    return POSTGRES_CLOCK if conn.dialect.name == "postgresql" else SQLITE_CLOCK


class SqlLease:
    """One job's lease on the `leases` table; the same contract as the Redis lease."""

    backend = BACKEND

    def __init__(self, engine: Engine, name: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError(f"lease TTL must be positive, got {ttl!r}")
        self.engine = engine
        self.name = name
        self.ttl = ttl

    def acquire(self, holder: str) -> Grant | None:
        """Take the row if free or expired (by database time); the fence grows by one."""
        token = uuid.uuid4().hex
        try:
            with self.engine.begin() as conn:
                insert_or_ignore(conn, leases, {"name": self.name, "fence": 0})
                clock = clock_sql(conn)
                # On PostgreSQL two concurrent acquirers serialize on the row lock; the second
                # re-evaluates the WHERE after the first commits, sees a live lease, matches 0.
                fence = conn.execute(
                    text(
                        f"UPDATE leases SET holder = :holder, token = :token, fence = fence + 1, "
                        f"acquired_at = {clock.now}, expires_at = {clock.expiry} "
                        f"WHERE name = :name AND (token IS NULL OR expires_at IS NULL "
                        f"OR expires_at <= {clock.now}) RETURNING fence"
                    ),
                    {"holder": holder[:255], "token": token, "name": self.name, "ttl": self.ttl},
                ).scalar()
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc
        if fence is None:
            return None
        return Grant(name=self.name, token=token, fence=int(fence), backend=BACKEND)

    def renew(self, token: str, conn: Connection | None = None) -> bool:
        """Extend the lease if `token` owns it and it has not expired; inside `conn` if given."""
        if conn is not None:
            return self._renew(conn, token)
        try:
            with self.engine.begin() as own:
                return self._renew(own, token)
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc

    def _renew(self, conn: Connection, token: str) -> bool:
        clock = clock_sql(conn)
        # An expired lease is not renewed even if nobody took it yet: the Redis lease behaves
        # the same (its key is gone), so the contract does not depend on the backend.
        result = conn.execute(
            text(
                f"UPDATE leases SET expires_at = {clock.expiry} "
                f"WHERE name = :name AND token = :token AND expires_at > {clock.now}"
            ),
            {"name": self.name, "token": token, "ttl": self.ttl},
        )
        return result.rowcount == 1

    def release(self, token: str) -> bool:
        """Free the row if `token` owns it (the fence is kept, so it keeps growing)."""
        try:
            with self.engine.begin() as conn:
                result = conn.execute(
                    text(
                        "UPDATE leases SET holder = NULL, token = NULL, expires_at = NULL "
                        "WHERE name = :name AND token = :token"
                    ),
                    {"name": self.name, "token": token},
                )
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc
        return result.rowcount == 1

    def holder(self) -> Holding | None:
        """Return the live holder (by database time), or None."""
        try:
            with self.engine.connect() as conn:
                clock = clock_sql(conn)
                row = conn.execute(
                    text(
                        f"SELECT holder, fence, {clock.seconds_left} FROM leases "
                        f"WHERE name = :name AND token IS NOT NULL AND expires_at > {clock.now}"
                    ),
                    {"name": self.name},
                ).first()
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc
        if row is None:
            return None
        return Holding(
            holder=row[0] or "?",
            fence=int(row[1]),
            expires_in=max(0.0, float(row[2])),
            backend=BACKEND,
        )


def prune_expired(conn: Connection, older_than_seconds: float) -> int:
    """Delete lease rows expired (or released) more than `older_than_seconds` ago."""
    clock = clock_sql(conn)
    cutoff = (
        f"({clock.now} - make_interval(secs => :age))"
        if conn.dialect.name == "postgresql"
        else "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || :age || ' seconds')"
    )
    # Released rows have no expiry; their acquired_at says when they were last used.
    result = conn.execute(
        text(
            f"DELETE FROM leases WHERE (expires_at IS NOT NULL AND expires_at < {cutoff}) "
            f"OR (expires_at IS NULL AND (acquired_at IS NULL OR acquired_at < {cutoff}))"
        ),
        {"age": older_than_seconds},
    )
    return int(result.rowcount or 0)


def _unavailable(exc: SQLAlchemyError) -> CoordinationUnavailable:
    # DBAPIError messages can include the statement but never the URL or its password.
    reason = type(exc.orig).__name__ if isinstance(exc, DBAPIError) else type(exc).__name__
    return CoordinationUnavailable(BACKEND, reason)

"""The checks a ratecard instance runs: database, schema, Redis, catalog freshness, coordinator.

Each factory takes its dependencies as callables or lazy objects (resolved at check time, so
nothing connects at start-up and components registered later, like the coordinator, are
found) and returns a function producing an `Observation`. The database checks go through a
`ProbeDatabase` (plain SQL on a driver connection of their own, see `probe_db`), never the
SQLAlchemy engine. Error texts are scrubbed of passwords and URLs here, at
the source, before anything can show or log them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ratecard.health.check_registry import Observation
from ratecard.health.probe_db import DatabaseMissing, MissingTable, ProbeDatabase
from ratecard.logs import redact_secrets
from ratecard.migrations import HEAD_REVISION, KNOWN_REVISIONS, VERSION_TABLE
from ratecard.vocabulary import FRESH_OUTCOMES, JobName, PriceStatus

if TYPE_CHECKING:
    from redis import Redis

MIGRATE_HINT = "run `ratecard migrate`"


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Return the first line of `text` with every secret and URL password replaced by ***."""
    return redact_secrets(text.strip().splitlines()[0] if text.strip() else "", secrets)


def error_text(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """Describe an exception in one scrubbed line: the driver's own message when there is one."""
    original = getattr(exc, "orig", None) or exc
    return scrub(str(original), secrets) or type(original).__name__


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def database_check(db: ProbeDatabase, secrets: Iterable[str | None]) -> Callable[[], Observation]:
    """Check that the database answers `SELECT 1`; observe the round trip in ms."""
    secrets = tuple(secrets)

    def run() -> Observation:
        started = time.perf_counter()
        try:
            db.ping()
        except Exception as exc:
            return Observation(
                "fail",
                output=error_text(exc, secrets),
                public_output="database unreachable",
                unreachable=True,
            )
        return Observation("pass", _elapsed_ms(started), "ms")

    return run


def classify_revisions(current: list[str]) -> Observation:
    """Compare the database's revision(s) with the code's: at head, behind, ahead or empty."""
    if not current:
        return Observation(
            "fail",
            None,
            output=f"database has no schema (no revision applied): {MIGRATE_HINT}",
            public_output=f"database schema missing: {MIGRATE_HINT}",
        )
    unknown = [rev for rev in current if rev not in KNOWN_REVISIONS]
    if unknown:
        # A rolling deploy after an expand migration: the new schema still serves old code.
        return Observation(
            "warn",
            ", ".join(current),
            output=f"database at {', '.join(unknown)}, newer than this code's head "
            f"{HEAD_REVISION}: expected during a rolling deploy",
        )
    if HEAD_REVISION in current:
        return Observation("pass", HEAD_REVISION)
    newest = max(KNOWN_REVISIONS.index(rev) for rev in current)
    pending = len(KNOWN_REVISIONS) - 1 - newest
    return Observation(
        "fail",
        ", ".join(current),
        output=f"database at {', '.join(current)}, code expects {HEAD_REVISION} "
        f"({pending} revision(s) pending): {MIGRATE_HINT}",
        public_output=f"database schema behind the code: {MIGRATE_HINT}",
    )


def schema_check(db: ProbeDatabase, secrets: Iterable[str | None]) -> Callable[[], Observation]:
    """Read the applied revision from alembic_version, without importing Alembic; classify it."""
    secrets = tuple(secrets)

    def run() -> Observation:
        try:
            rows = db.fetch_all(f"SELECT version_num FROM {VERSION_TABLE}")
        except (MissingTable, DatabaseMissing):
            # No version table (or, for SQLite, no file yet): nothing was ever migrated.
            return classify_revisions([])
        except Exception as exc:
            return Observation(
                "fail",
                output=f"cannot read the schema revision: {error_text(exc, secrets)}",
                public_output="database unreachable",
                unreachable=True,
            )
        return classify_revisions([str(row[0]) for row in rows])

    return run


def redis_check(
    client: Callable[[], Redis | None], secrets: Iterable[str | None]
) -> Callable[[], Observation]:
    """PING Redis; down is a warning (leases and the catalog fall back to the database)."""
    secrets = tuple(secrets)

    def run() -> Observation:
        redis = client()
        if redis is None:
            return Observation(
                "pass", output="REDIS_URL not set: coordination through the database"
            )
        started = time.perf_counter()
        try:
            redis.ping()
        except Exception as exc:
            return Observation(
                "warn",
                output=f"{error_text(exc, secrets)}; serving with the database fallback",
                public_output="redis unreachable: database fallback",
            )
        return Observation("pass", _elapsed_ms(started), "ms")

    return run


def catalog_check(
    db: ProbeDatabase,
    stale_after: float,
    secrets: Iterable[str | None],
    record: Callable[[float | None, dict[str, int]], None] | None = None,
    now: Callable[[], float] = time.time,
) -> Callable[[], Observation]:
    """Warn when the catalog is empty or its last successful refresh is older than `stale_after`.

    `record` receives what was read (last success epoch, counts by status) so the metrics show
    the database's truth, whichever instance ran the refresh.
    """
    secrets = tuple(secrets)

    def run() -> Observation:
        try:
            last_success, counts = read_catalog_state(db)
        except Exception as exc:
            return Observation(
                "warn", output=f"cannot read the catalog: {error_text(exc, secrets)}"
            )
        if record is not None:
            record(last_success, counts)
        total = sum(counts.values())
        summary = f"{total} models ({', '.join(f'{k} {v}' for k, v in counts.items())})"
        if total == 0:
            return Observation("warn", None, "s", output="catalog is empty: no refresh yet")
        if last_success is None:
            return Observation("warn", None, "s", output=f"{summary}; no successful refresh")
        age = round(max(0.0, now() - last_success), 1)
        if age > stale_after:
            return Observation(
                "warn", age, "s", output=f"{summary}; stale: older than {stale_after:g} s"
            )
        return Observation("pass", age, "s", output=summary)

    return run


def read_catalog_state(db: ProbeDatabase) -> tuple[float | None, dict[str, int]]:
    """Return (epoch of the last successful refresh or None, live models by status)."""
    p = db.param
    outcomes = ", ".join([p] * len(FRESH_OUTCOMES))
    ((finished,),) = db.fetch_all(
        f"SELECT max(finished_at) FROM runs WHERE job = {p} AND outcome IN ({outcomes})",
        (JobName.REFRESH, *FRESH_OUTCOMES),
    )
    rows = db.fetch_all(
        "SELECT status, count(*) FROM models WHERE removed_at IS NULL GROUP BY status"
    )
    counts: dict[str, int] = dict.fromkeys(PriceStatus, 0)
    counts.update({str(status): int(n) for status, n in rows})
    return _epoch(finished), counts


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        # SQLite hands back naive datetimes; the schema stores UTC.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.timestamp()
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC).timestamp()


def coordinator_check(coordinator: Callable[[], Any], enabled: bool) -> Callable[[], Observation]:
    """Warn when this process should run the coordinator but its thread is not alive."""

    def run() -> Observation:
        if not enabled:
            # RATECARD_COORDINATOR=false, or a command that never runs one (`ratecard health`):
            # the fleet's coordination is another process's, which `worker status` reads.
            return Observation(
                "pass",
                None,
                output="this process runs no coordinator; `ratecard worker status` shows the "
                "fleet's",
            )
        found = coordinator()
        if found is None:
            return Observation("warn", False, output="no coordinator registered")
        alive = bool(found.is_alive())
        if not alive:
            return Observation("warn", False, output="coordinator thread not alive")
        return Observation("pass", True)

    return run


def uptime_check(
    started_at: float, now: Callable[[], float] = time.time
) -> Callable[[], Observation]:
    """Report how long this process has been up (never fails)."""

    def run() -> Observation:
        return Observation("pass", round(now() - started_at, 1), "s")

    return run

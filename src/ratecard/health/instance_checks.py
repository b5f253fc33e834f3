"""The health checks of one ratecard instance, and the IETF health document of their results.

Nothing Flask, nothing of the app: gunicorn's master runs the readiness checks in a helper
process that must not pay for Flask (`ratecard.readiness_seed`), and the probes at the web edge
build their answers from `health_document`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ratecard import __version__, metrics
from ratecard.health import checks
from ratecard.health.check_registry import CheckResult, HealthRegistry, Observation, worst_status
from ratecard.health.outage import OutagePolicy
from ratecard.health.probe_db import ProbeDatabase
from ratecard.logs import secrets_of
from ratecard.settings import Settings

if TYPE_CHECKING:
    from redis import Redis

# Seconds; what the engine uses too. A dead database still costs a probe only its check
# timeout: the registry stops waiting while the connect attempt finishes in the background.
PROBE_CONNECT_TIMEOUT = 2.0
DESCRIPTION = "ratecard: AI model price catalog"
# The checks readiness gates on (see gating_checks).
GATING_CHECKS = ("database:responseTime", "database:schemaRevision")


def probe_database(settings: Settings) -> ProbeDatabase:
    """The checks' own database connection, not the engine's pool (see probe_db); opened by
    the first check."""
    return ProbeDatabase(settings.database_url, connect_timeout=PROBE_CONNECT_TIMEOUT)


def build_registry(
    settings: Settings,
    db: ProbeDatabase,
    redis: Callable[[], Redis | None],
    coordinator: Callable[[], Any],
    started_at: float,
    catalog_loaded: Callable[[], bool],
) -> HealthRegistry:
    """Register an instance's checks on a new registry, against its lazy dependencies.

    `catalog_loaded` says whether this process holds a catalog in memory: with it, a fresh
    catalog and a verified schema, an unreachable database is a warning (see health.outage).
    """
    secrets = secrets_of(settings)
    outage = OutagePolicy(settings.effective_stale_after, catalog_loaded)

    def record_catalog(last_success: float | None, counts: dict[str, int]) -> None:
        if last_success is not None:
            metrics.set_last_refresh_success(last_success)
        outage.saw_refresh(last_success)
        metrics.set_catalog_size(counts)

    registry = HealthRegistry(settings.health_check_timeout, settings.health_cache_seconds)
    database, schema = GATING_CHECKS
    reviews = {database: outage.review, schema: outage.review_schema}
    for name, run in gating_checks(db, secrets).items():
        registry.register(name, "datastore", run, review=reviews[name])
    registry.register(
        "redis:responseTime", "datastore", checks.redis_check(redis, secrets), worst="warn"
    )
    registry.register(
        "catalog:age",
        "component",
        checks.catalog_check(db, settings.effective_stale_after, secrets, record_catalog),
        worst="warn",
    )
    registry.register(
        "coordinator:alive",
        "component",
        checks.coordinator_check(coordinator, settings.start_coordinator),
        worst="warn",
    )
    registry.register(
        "uptime", "system", checks.uptime_check(started_at), worst="warn", readiness=False
    )
    return registry


def gating_checks(
    db: ProbeDatabase, secrets: Iterable[str | None]
) -> dict[str, Callable[[], Observation]]:
    """The checks readiness gates on (a fail answers 503), by name: database and schema."""
    database, schema = GATING_CHECKS
    return {database: checks.database_check(db, secrets), schema: checks.schema_check(db, secrets)}


def health_document(
    results: Mapping[str, CheckResult], details: bool, service_id: str
) -> tuple[dict[str, Any], int]:
    """The IETF health document of `results` and its HTTP status (503 on fail)."""
    status = worst_status(result.status for result in results.values())
    body: dict[str, Any] = {"status": status}
    if details:
        body["version"] = __version__
        body["releaseId"] = os.environ.get("RATECARD_RELEASE_ID", __version__)
        body["serviceId"] = service_id
    body["description"] = DESCRIPTION
    body["checks"] = {name: [result.as_dict(details)] for name, result in results.items()}
    return body, 503 if status == "fail" else 200

"""Health probes for load balancers and Kubernetes, and the in-process health entry point.

Knows nothing of prices: the catalog check reads two tables, the coordinator check asks the
app's coordinator (if one is registered) whether its thread is alive.

`get_health_check_data()` and `probe_app()` build an app, so they live above the app factory,
in `ratecard.probe_app`; they are re-exported here lazily (module `__getattr__`) so that
`from ratecard.health import get_health_check_data` keeps working without this package
importing `ratecard.app`, which imports this package (the cycle that used to be here).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ratecard import __version__
from ratecard.health.check_registry import HealthRegistry, worst_status
from ratecard.logs import secrets_of

if TYPE_CHECKING:
    from flask import Flask

    from ratecard.health.check_registry import Observation
    from ratecard.health.probe_db import ProbeDatabase
    from ratecard.web.state import RatecardState

# Nothing Flask at import (the Flask parts, the blueprint and the app state, are imported
# where used): gunicorn's master runs the readiness checks in a helper process that must not
# pay for Flask (ratecard.readiness_seed).

# Seconds; what the engine uses too. A dead database still costs a probe only its check
# timeout: the registry stops waiting while the connect attempt finishes in the background.
PROBE_CONNECT_TIMEOUT = 2.0
DESCRIPTION = "ratecard: AI model price catalog"
# The checks readiness gates on (see gating_checks).
GATING_CHECKS = ("database:responseTime", "database:schemaRevision")

__all__ = [
    "HealthRegistry",
    "bp",
    "gating_checks",
    "get_health_check_data",
    "health_document",
    "health_payload",
    "init_app",
    "probe_app",
    "start_warmup",
]

# Names served from ratecard.probe_app on first access (see the module docstring).
_ENTRY_POINTS = frozenset({"get_health_check_data", "probe_app"})


def __getattr__(name: str) -> Any:
    if name in _ENTRY_POINTS:
        from ratecard import probe_app

        return getattr(probe_app, name)
    if name == "bp":
        from ratecard.web.health_probes import bp

        return bp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def init_app(app: Flask) -> None:
    """Register the probes and build this app's check registry (nothing runs yet)."""
    from ratecard.web.health_probes import bp

    state = _state(app)
    state.health_registry = build_registry(state)
    app.register_blueprint(bp)


def _state(app: Flask) -> RatecardState:
    from ratecard.web.state import get_state

    return get_state(app)


def build_registry(state: RatecardState) -> HealthRegistry:
    """Register ratecard's checks on a new registry, against this state's lazy dependencies."""
    from ratecard import metrics
    from ratecard.health import checks
    from ratecard.health.probe_db import ProbeDatabase

    settings = state.settings
    secrets = secrets_of(settings)
    # Its own connection, not the engine's pool: see probe_db. Opened by the first check.
    db = ProbeDatabase(settings.database_url, connect_timeout=PROBE_CONNECT_TIMEOUT)
    state.probe_db = db
    state.shutdown_hooks.append(db.close)

    def record_catalog(last_success: float | None, counts: dict[str, int]) -> None:
        if last_success is not None:
            metrics.set_last_refresh_success(last_success)
        metrics.set_catalog_size(counts)

    registry = HealthRegistry(settings.health_check_timeout, settings.health_cache_seconds)
    for name, run in gating_checks(db, secrets).items():
        registry.register(name, "datastore", run)
    registry.register(
        "redis:responseTime",
        "datastore",
        checks.redis_check(lambda: state.redis, secrets),
        worst="warn",
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
        checks.coordinator_check(lambda: state.coordinator, settings.start_coordinator),
        worst="warn",
    )
    registry.register(
        "uptime",
        "system",
        checks.uptime_check(state.instance.started_at),
        worst="warn",
        readiness=False,
    )
    return registry


def gating_checks(
    db: ProbeDatabase, secrets: Iterable[str | None]
) -> dict[str, Callable[[], Observation]]:
    """The checks readiness gates on (a fail answers 503), by name: database and schema."""
    from ratecard.health import checks

    database, schema = GATING_CHECKS
    return {database: checks.database_check(db, secrets), schema: checks.schema_check(db, secrets)}


def health_document(app: Flask, readiness_only: bool, details: bool) -> tuple[dict[str, Any], int]:
    """Run the checks and build the IETF health document and its HTTP status (503 on fail)."""
    state = _state(app)
    registry = state.need_health_registry()
    return _document(state, registry.run(readiness_only=readiness_only), details)


def health_payload(app: Flask, readiness_only: bool, details: bool) -> tuple[bytes, int]:
    """Return the health document serialized, reusing the last bytes while no result changed.

    Probes arrive far more often than results change (once per cache period): serializing
    once per change keeps /health/ready nearly as cheap as a hello-world route.
    """
    state = _state(app)
    registry = state.need_health_registry()
    results = registry.run(readiness_only=readiness_only)
    identity = tuple(results.values())
    memo = state.health_payload_memo
    cached = memo.get((readiness_only, details))
    if (
        cached is not None
        and len(cached[0]) == len(identity)
        and all(a is b for a, b in zip(cached[0], identity, strict=True))
    ):
        return cached[1], cached[2]
    body, status_code = _document(state, results, details)
    payload = json.dumps(body).encode()
    memo[(readiness_only, details)] = (identity, payload, status_code)
    return payload, status_code


def _document(
    state: RatecardState, results: dict[str, Any], details: bool
) -> tuple[dict[str, Any], int]:
    status = worst_status(result.status for result in results.values())
    body: dict[str, Any] = {"status": status}
    if details:
        body["version"] = __version__
        body["releaseId"] = os.environ.get("RATECARD_RELEASE_ID", __version__)
        body["serviceId"] = state.instance.instance_id
    body["description"] = DESCRIPTION
    body["checks"] = {name: [result.as_dict(details)] for name, result in results.items()}
    return body, 503 if status == "fail" else 200


def start_warmup(app: Flask, then: Callable[[], None] | None = None) -> threading.Thread:
    """Run the first check pass in the background, then mark the process initialized.

    Called by gunicorn's post_worker_init (after fork) and, failing that, by the first
    startup probe. It never blocks the caller; idempotent per app. `then` runs in the same
    thread once the pass is over, whatever its outcome (gunicorn starts the coordinator so).
    """
    state = _state(app)
    with _warmup_lock:
        thread = state.health_warmup
        if thread is not None:
            return thread
        thread = threading.Thread(
            target=_warm_up, args=(app, then), name="ratecard-warmup", daemon=True
        )
        state.health_warmup = thread
    thread.start()
    return thread


_warmup_lock = threading.Lock()


def _warm_up(app: Flask, then: Callable[[], None] | None) -> None:
    state = _state(app)
    try:
        from ratecard import metrics

        # The readiness checks first, with nothing else importing beside them: the first
        # ready answer waits for the database and the schema only (see HealthRegistry.run).
        health_document(app, readiness_only=True, details=False)
        metrics.families_ready()  # import prometheus_client now, not in the first request
        health_document(app, readiness_only=False, details=False)
    except Exception:
        import logging

        logging.getLogger(__name__).exception("health warm-up failed")
    finally:
        state.initialized.set()
    if then is not None:
        then()

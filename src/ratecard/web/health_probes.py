"""The probes: live, startup, ready and the full report, as application/health+json.

- `/health/live` never touches a dependency: a database outage must not make Kubernetes
  restart every pod of the fleet at once.
- `/health/startup` answers 503 until this process's initialization has finished: the app is
  built (create_app) and the first warm-up pass has run in the background (`start_warmup`):
  the readiness checks, the catalog loaded into this process, every route's query schema
  built. The warm-up's outcome does not matter, only that it ran: a database down at boot is
  readiness's business, not a reason to restart the container. It also answers 200 whenever
  `/health/ready` would: Kubernetes sends no readiness probe before the startup probe has
  passed, so a startup answer later than ready's would only hold traffic back.
- `/health/ready` runs the readiness checks; any fail (database, schema) → 503. Ready means
  warm: it also needs the catalog in this process's memory (loaded now if it is not), so a
  balancer's first request is answered from memory, not after a load. After SIGTERM it
  answers 503 "shutting down" while the process still serves (RATECARD_SHUTDOWN_DELAY).
- `/health` runs every check. Details (versions, hosts, error texts, observed values) only
  with `Authorization: Bearer <RATECARD_ADMIN_TOKEN>`; otherwise statuses only.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app

from ratecard import draining, metrics
from ratecard.errors import ServiceUnavailable
from ratecard.health.check_registry import CheckResult, HealthRegistry
from ratecard.health.instance_checks import health_document
from ratecard.health.probe_db import ProbeDatabase
from ratecard.web.auth import is_admin
from ratecard.web.early_answers import EarlyAnswer, answer_early
from ratecard.web.request_parsing import build_query_model
from ratecard.web.routes import routes_of
from ratecard.web.state import get_state

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

MIMETYPE = "application/health+json"
# app.extensions key of this area's state.
HEALTH = "ratecard.health"

bp = Blueprint("health", __name__, url_prefix="/health")
log = logging.getLogger(__name__)


@dataclass
class HealthState:
    """The probes' part of an app: its checks, and whether its start-up work is done."""

    registry: HealthRegistry
    probe_db: ProbeDatabase
    initialized: threading.Event = field(default_factory=threading.Event)
    warmup: threading.Thread | None = None
    # (readiness_only, details) -> (the registry's answer, body, status): see health_payload.
    payload_memo: dict[tuple[bool, bool], tuple[dict[str, CheckResult], bytes, int]] = field(
        default_factory=dict
    )


def init_app(app: Flask, registry: HealthRegistry, probe_db: ProbeDatabase) -> None:
    """Serve the probes from `registry` (nothing runs yet)."""
    app.extensions[HEALTH] = HealthState(registry, probe_db)
    app.register_blueprint(bp)
    answer_early(app, PassingProbes(app))


def health_of(app: Flask) -> HealthState:
    """The health state `init_app` registered on `app`."""
    found: HealthState = app.extensions[HEALTH]
    return found


def health_report(app: Flask, readiness_only: bool, details: bool) -> tuple[dict[str, Any], int]:
    """Run the checks and build the IETF health document and its HTTP status (503 on fail)."""
    results = health_of(app).registry.run(readiness_only=readiness_only)
    return health_document(results, details, get_state(app).instance.instance_id)


def health_payload(app: Flask, readiness_only: bool, details: bool) -> tuple[bytes, int]:
    """Return the health document serialized, reusing the last bytes while no result changed.

    Probes arrive far more often than results change (once per cache period): serializing
    once per change keeps /health/ready nearly as cheap as a hello-world route.
    """
    health = health_of(app)
    results = health.registry.run(readiness_only=readiness_only)
    # The registry hands back the same answer (the same dict) while no check's result has
    # changed (HealthRegistry.run), so its identity says whether these bytes still hold.
    cached = health.payload_memo.get((readiness_only, details))
    if cached is not None and cached[0] is results:
        return cached[1], cached[2]
    body, status_code = health_document(results, details, get_state(app).instance.instance_id)
    payload = json.dumps(body).encode()
    health.payload_memo[(readiness_only, details)] = (results, payload, status_code)
    return payload, status_code


_warmup_lock = threading.Lock()


def start_warmup(app: Flask, then: Callable[[], None] | None = None) -> threading.Thread:
    """Run the first check pass in the background, then mark the process initialized.

    Called by gunicorn's post_worker_init (after fork) and, failing that, by the first
    startup probe. It never blocks the caller; idempotent per app. `then` runs in the same
    thread once the pass is over, whatever its outcome (gunicorn starts the coordinator so).
    """
    health = health_of(app)
    with _warmup_lock:
        thread = health.warmup
        if thread is not None:
            return thread
        thread = threading.Thread(
            target=_warm_up, args=(app, then), name="ratecard-warmup", daemon=True
        )
        health.warmup = thread
    thread.start()
    return thread


def _warm_up(app: Flask, then: Callable[[], None] | None) -> None:
    try:
        # The readiness checks first, with nothing else importing beside them: the first
        # ready answer waits for the database and the schema only (see HealthRegistry.run).
        health_report(app, readiness_only=True, details=False)
        warm_request_path(app)
        metrics.families_ready()  # import prometheus_client now, not in the first request
    except Exception:
        log.exception("health warm-up failed")
    finally:
        health_of(app).initialized.set()
    try:
        health_report(app, readiness_only=False, details=False)
    except Exception:
        log.exception("health warm-up failed")
    if then is not None:
        then()
    try:
        recheck_preloaded_catalog(app)
    except Exception:
        log.exception("health warm-up failed")


def warm_request_path(app: Flask) -> None:
    """Load what the first requests need: the catalog into this process (unless the master's
    preload gave it one) and every route's query model. A request without a query string
    needs no model (web/empty_queries.py); one with a query string would otherwise pay
    pydantic's import and the model's build (~0.1 s in all), which the master no longer
    does before forking (gunicorn_conf.PRELOADED_MODULES). And the URL map's matcher, which
    werkzeug compiles on the first match: the probes, answered before Flask, no longer do."""
    catalog_problem(app)
    for route in routes_of(app):
        if route.query is not None:
            build_query_model(route.query)
    app.url_map.update()


def recheck_preloaded_catalog(app: Flask) -> None:
    """Run the first re-check of the catalog the master handed over, here and now.

    Why: a worker starts with the snapshot the master read from Redis (`start_with`), and its
    cache's first re-check is a reconcile: Redis's version against the database's, on this
    process's first connection to each (the engine's first connect included). Left due, it
    fell to the first request after the re-check period (0.5 s): through gunicorn, the first
    model read 2 s after ready took 16-19 ms against ~1.5 ms for the next ones, 9 ms of it in
    that re-check. In the warm-up it costs no request anything, and a Redis behind the
    database is caught at start, not at the first request."""
    cache = get_state(app).catalog_cache
    if cache is not None and cache.source_of_last_load == "preloaded":
        cache.invalidate()
        cache.current()


def catalog_problem(app: Flask) -> str | None:
    """None when this process holds a catalog (loading it now if it holds none), else why not."""
    cache = get_state(app).catalog_cache
    if cache is None or cache.loaded:
        return None
    try:
        cache.current()
    except ServiceUnavailable as exc:
        return exc.detail
    return None


def health_response(body: dict[str, Any] | bytes, status_code: int = 200) -> Response:
    """Serialize a health document; probes must never be cached by a proxy."""
    payload = body if isinstance(body, bytes) else json.dumps(body)
    # content_type, not mimetype (which parses it to add a charset this type has none of),
    # and add, not set (nothing to replace): a probe's response in ~4 us rather than ~8.
    response = Response(payload, status=status_code, content_type=MIMETYPE)
    response.headers.add("Cache-Control", "no-store")
    return response


_PASS = json.dumps({"status": "pass"}).encode()


class PassingProbes:
    """An early answerer (web/early_answers.py): a passing probe, without Flask.

    Why: probes are most of what an instance of the fleet answers (each balancer and the
    kubelet ask every instance every few seconds), and a passing one's answer is bytes kept
    until a check's result changes (`health_payload`). What Flask added around those bytes
    was most of a probe's cost: `/health/ready` answered ~0.8x the requests per second of a
    bare Flask app under the same gunicorn (bench/startup.py).

    What it answers (beyond the rules every early answer keeps): /health/live,
    /health/startup and /health/ready with no Authorization (ready's details are the
    admin's), and only when the view would answer 200, from the same functions the views
    call. A failing probe (503: a check failed, no catalog, shutting down, still
    initializing) goes to Flask, which works it out again from the registry's cached
    results. The bytes, the status and the headers are the views' own (tests/web/
    test_health_probes.py compares the two answers).
    """

    def __init__(self, app: Flask) -> None:
        self.bodies: dict[str, Callable[[], bytes | None]] = {
            "/health/live": lambda: _PASS,
            "/health/startup": lambda: _PASS if _started(app) else None,
            "/health/ready": lambda: _passing_ready(app),
        }

    def __call__(self, path: str, environ: WSGIEnvironment) -> EarlyAnswer | None:
        body_of = self.bodies.get(path)
        if body_of is None or "HTTP_AUTHORIZATION" in environ:
            return None
        body = body_of()
        if body is None:
            return None
        headers = (
            ("Content-Type", MIMETYPE),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        )
        return EarlyAnswer(path, headers, body)


def _started(app: Flask) -> bool:
    """What /health/startup answers 200 on: initialized, or ready (never later than ready)."""
    return health_of(app).initialized.is_set() or _ready_status(app, details=False)[1] == 200


def _passing_ready(app: Flask) -> bytes | None:
    """/health/ready's body when it passes, else None."""
    body, status_code = _ready_status(app, details=False)
    return body if status_code == 200 and isinstance(body, bytes) else None


@bp.get("/live")
def live() -> Response:
    """Answer that the process can answer; never touches a dependency."""
    return health_response(_PASS)


@bp.get("/startup")
def startup() -> Response:
    """Answer 503 until initialization has finished, then 200."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if _started(app):
        return health_response(_PASS)
    # A server that does not run our gunicorn hook still gets its warm-up, on the first probe.
    start_warmup(app)
    return health_response({"status": "fail", "output": "initializing"}, 503)


@bp.get("/ready")
def ready() -> Response:
    """Answer 200 when the database answers and the schema is not behind; 503 otherwise."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    body, status_code = _ready_status(app, details=is_admin())
    return health_response(body, status_code)


def _ready_status(app: Flask, details: bool) -> tuple[bytes | dict[str, Any], int]:
    if draining.stopping():
        # Told to stop (RATECARD_SHUTDOWN_DELAY): out of rotation while it still serves.
        return {"status": "fail", "output": "shutting down"}, 503
    body, status_code = health_payload(app, readiness_only=True, details=details)
    if status_code == 200 and (problem := catalog_problem(app)) is not None:
        output = problem if details else "no catalog loaded in this process"
        return {"status": "fail", "output": output}, 503
    return body, status_code


@bp.get("")
def report() -> Response:
    """Answer with every check (details only for the admin token)."""
    body, status_code = health_payload(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        readiness_only=False,
        details=is_admin(),
    )
    return health_response(body, status_code)

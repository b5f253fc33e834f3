"""The probes: live, startup, ready and the full report, as application/health+json.

- `/health/live` never touches a dependency: a database outage must not make Kubernetes
  restart every pod of the fleet at once.
- `/health/startup` answers 503 until this process's initialization has finished: the app is
  built (create_app) and the first warm-up pass has run in the background (see
  `ratecard.health.start_warmup`). The warm-up's outcome does not matter, only that it ran:
  a database down at boot is readiness's business, not a reason to restart the container.
- `/health/ready` runs the readiness checks; any fail (database, schema) → 503.
- `/health` runs every check. Details (versions, hosts, error texts, observed values) only
  with `Authorization: Bearer <RATECARD_ADMIN_TOKEN>`; otherwise statuses only.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from flask import Blueprint, Response, current_app, request

from ratecard.web.state import get_state

MIMETYPE = "application/health+json"

bp = Blueprint("health", __name__, url_prefix="/health")


def health_response(body: dict[str, Any] | bytes, status_code: int = 200) -> Response:
    """Serialize a health document; probes must never be cached by a proxy."""
    payload = body if isinstance(body, bytes) else json.dumps(body)
    response = Response(payload, status=status_code, mimetype=MIMETYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def has_admin_token() -> bool:
    """Return whether the request carries the admin bearer token (none configured → never)."""
    expected = get_state().settings.admin_token
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if not expected or scheme.lower() != "bearer" or not given:
        return False
    # Constant time: response timing must not reveal how much of a guess was right.
    return hmac.compare_digest(given.strip().encode(), expected.encode())


@bp.get("/live")
def live() -> Response:
    """Answer that the process can answer; never touches a dependency."""
    return health_response({"status": "pass"})


@bp.get("/startup")
def startup() -> Response:
    """Answer 503 until initialization has finished, then 200."""
    from ratecard.health import start_warmup

    state = get_state()
    if state.initialized.is_set():
        return health_response({"status": "pass"})
    # A server that does not run our gunicorn hook still gets its warm-up, on the first probe.
    start_warmup(current_app._get_current_object())  # type: ignore[attr-defined]
    return health_response({"status": "fail", "output": "initializing"}, 503)


@bp.get("/ready")
def ready() -> Response:
    """Answer 200 when the database answers and the schema is not behind; 503 otherwise."""
    from ratecard.health import health_payload

    body, status_code = health_payload(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        readiness_only=True,
        details=has_admin_token(),
    )
    return health_response(body, status_code)


@bp.get("")
def report() -> Response:
    """Answer with every check (details only for the admin token)."""
    from ratecard.health import health_payload

    body, status_code = health_payload(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        readiness_only=False,
        details=has_admin_token(),
    )
    return health_response(body, status_code)

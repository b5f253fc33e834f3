"""The /admin routes: trigger a refresh, read the worker status, review held changes.

Every route requires the bearer token (see `web.auth`); an instance without a configured token
answers 403 to all of them. Errors are `ratecard.errors` classes, and a database or Redis
outage a 503, rendered as JSON once (`web.http_errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify

from ratecard.errors import Conflict, ServiceUnavailable
from ratecard.vocabulary import JobName
from ratecard.web.auth import admin_only
from ratecard.web.routes import RouteSpec, route_registrar
from ratecard.web.state import get_state

# Deferred: the review's store and queries (SQLAlchemy) load with the first admin decision.

bp = Blueprint("admin", __name__, url_prefix="/admin")
route = route_registrar(
    bp,
    schemas="ratecard.web.api.schemas",
    tag="admin",
    tag_description="Operator controls behind the admin token: refresh now, the worker's "
    "status, held changes to accept or reject.",
)
admin_only(bp)

# The admin routes in /openapi.json, under the bearer scheme.
_ADMIN_ERRORS = {401: "ErrorOut", 403: "ErrorOut", 503: "ErrorOut"}
_HELD_ERRORS = {404: "ErrorOut", 409: "ErrorOut", **_ADMIN_ERRORS}


def _coordinator() -> Any:
    coordinator = get_state().coordinator
    if coordinator is None:
        raise ServiceUnavailable("this process runs no coordinator")
    return coordinator


@route(
    RouteSpec(
        "POST",
        "/admin/refresh",
        "admin_refresh",
        "Start a refresh now under the lease: 202, or 409 while one runs.",
        responses={202: "AdminRefreshOut", 409: "ErrorOut", **_ADMIN_ERRORS},
        bearer=True,
    )
)
def refresh() -> Response:
    """Start a refresh now under the lease: 202, or 409 when one is already running."""
    coordinator = _coordinator()
    try:
        started = coordinator.trigger_now(JobName.REFRESH)
    except KeyError:
        raise ServiceUnavailable("the coordinator has no refresh job") from None
    if started:
        response = jsonify(
            {"status": "started", "job": JobName.REFRESH, "instance_id": coordinator.instance_id}
        )
        response.status_code = 202
        return response
    backends = getattr(coordinator, "backends", None)
    if backends is not None and backends.in_use is None and backends.problem:
        raise ServiceUnavailable(f"no lease store reachable: {backends.problem}")
    raise Conflict("a refresh is already running (its lease is held); try again when it ends")


@route(
    RouteSpec(
        "GET",
        "/admin/worker",
        "admin_worker",
        "The coordination status (`ratecard worker --status --json`).",
        responses={200: "AdminStatusOut", **_ADMIN_ERRORS},
        bearer=True,
    )
)
def worker() -> Response:
    """Return the coordination status (`ratecard worker --status --json`)."""
    return jsonify(_coordinator().status())


def _review(decision: str) -> Callable[[int], Response]:
    """Return the view that takes `decision` (accept or reject) on a pending held change."""

    def review(held_id: int) -> Response:
        from ratecard.ingest.held_review import review_held

        state = get_state()
        by = f"admin@{state.instance.instance_id}"
        result = review_held(state.need_refresh_deps(), held_id, decision, by)
        return jsonify(
            {
                "id": result.held_id,
                "status": result.status,
                "catalog_version": result.catalog_version,
                "published": result.published,
            }
        )

    return review


# Accept applies a pending held change now; reject dismisses it. 404 unknown id, 409 resolved.
for _decision in ("accept", "reject"):
    route(
        RouteSpec(
            "POST",
            f"/admin/held/<int:held_id>/{_decision}",
            f"admin_held_{_decision}",
            f"{_decision.capitalize()} a pending held change; 404 unknown, 409 already resolved.",
            responses={200: "AdminStatusOut", **_HELD_ERRORS},
            bearer=True,
        )
    )(_review(_decision))

"""The /admin routes: trigger a refresh, read the worker status, review held changes.

Every route requires the bearer token (see `auth`); an instance without a configured token
answers 403 to all of them. Errors are `ratecard.errors` classes, rendered as JSON once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify

from ratecard.errors import Conflict, ServiceUnavailable
from ratecard.vocabulary import JobName
from ratecard.web.auth import admin_only
from ratecard.web.openapi import RouteSpec
from ratecard.web.state import get_state

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The admin routes in /openapi.json, under the bearer scheme.
_ADMIN_ERRORS = {401: "ErrorOut", 403: "ErrorOut", 503: "ErrorOut"}
ADMIN_ROUTES = [
    RouteSpec(
        "POST",
        "/admin/refresh",
        "admin_refresh",
        "Start a refresh now under the lease: 202, or 409 while one runs.",
        responses={202: "AdminRefreshOut", 409: "ErrorOut", **_ADMIN_ERRORS},
        bearer=True,
    ),
    RouteSpec(
        "GET",
        "/admin/worker",
        "admin_worker",
        "The coordination status (`ratecard worker --status --json`).",
        responses={200: "AdminStatusOut", **_ADMIN_ERRORS},
        bearer=True,
    ),
    *(
        RouteSpec(
            "POST",
            f"/admin/held/<int:held_id>/{action}",
            f"admin_held_{action}",
            f"{action.capitalize()} a pending held change; 404 unknown, 409 already resolved.",
            responses={200: "AdminStatusOut", 404: "ErrorOut", 409: "ErrorOut", **_ADMIN_ERRORS},
            bearer=True,
        )
        for action in ("accept", "reject")
    ),
]
F = TypeVar("F", bound=Callable[..., Response])


admin_only(bp)


def _dependencies_as_503(view: F) -> F:
    """Turn a database or Redis outage during an admin action into a clear 503."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        from redis.exceptions import RedisError
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return view(*args, **kwargs)
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(f"database unavailable: {type(exc).__name__}") from None
        except RedisError as exc:
            raise ServiceUnavailable(f"redis unavailable: {type(exc).__name__}") from None

    return wrapper  # type: ignore[return-value]


def _coordinator() -> Any:
    coordinator = get_state().coordinator
    if coordinator is None:
        raise ServiceUnavailable("this process runs no coordinator")
    return coordinator


@bp.post("/refresh")
@_dependencies_as_503
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


@bp.get("/worker")
@_dependencies_as_503
def worker() -> Response:
    """Return the coordination status (`ratecard worker --status --json`)."""
    return jsonify(_coordinator().status())


@bp.post("/held/<int:held_id>/accept")
@_dependencies_as_503
def accept(held_id: int) -> Response:
    """Apply a pending held change now; 404 unknown id, 409 already resolved."""
    from ratecard.web.admin.review import resolve_held

    return jsonify(resolve_held(get_state(), held_id, "accept"))


@bp.post("/held/<int:held_id>/reject")
@_dependencies_as_503
def reject(held_id: int) -> Response:
    """Dismiss a pending held change; 404 unknown id, 409 already resolved."""
    from ratecard.web.admin.review import resolve_held

    return jsonify(resolve_held(get_state(), held_id, "reject"))

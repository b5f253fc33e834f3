"""Errors mapped to HTTP in one place: JSON `{"error", "detail"}`, never a trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, SecurityError

from ratecard.errors import RatecardError, ServiceUnavailable, ValidationFailed
from ratecard.safe_text import writable_text

log = logging.getLogger(__name__)


def error_response(status: int, error: str, detail: str, **extra: Any) -> Response:
    """Build the one JSON error shape every route uses."""
    body: dict[str, Any] = {"error": error, "detail": writable_text(detail)}
    body.update((k, writable_text(v) if type(v) is str else v) for k, v in extra.items())
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="ratecard"'
    return response


def register_errorhandlers(app: Flask) -> None:
    """Map RatecardError and HTTP errors to JSON; hide unexpected errors behind a 500."""

    @app.errorhandler(RatecardError)
    def _ratecard_error(exc: RatecardError) -> Response:
        return error_response(exc.status, exc.error, exc.detail, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        if isinstance(exc, SecurityError):
            # An untrusted Host header (RATECARD_TRUSTED_HOSTS): JSON on every path, and
            # nothing built from request.host, which raises again.
            return error_response(400, "untrusted_host", "this Host is not served here")
        if request.path.startswith("/api/") or _wants_json():
            name = (exc.name or "error").lower().replace(" ", "_")
            response = error_response(exc.code or 500, name, exc.description or "")
            if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
                response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
            return response
        return exc

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        answer = dependency_error(exc)
        if answer is not None:
            return _ratecard_error(answer)
        # The trace goes to the log only; the client learns nothing about our internals.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error occurred")


def dependency_error(exc: Exception) -> RatecardError | None:
    """The answer to an error of the database or Redis, or None for any other error.

    Every route reaches the database or Redis the same way, so an outage is answered here, once:
    a 503 naming the dependency and the error's type (never its text, which can carry a host,
    a DSN or SQL). A value the database refuses (PostgreSQL text cannot hold NUL) is the
    request's fault, a 422. The error's module is looked at first: importing SQLAlchemy or
    redis-py here would cost every start-up 0.1-0.2 s for an error most processes never see.
    """
    package = type(exc).__module__.partition(".")[0]
    if package == "sqlalchemy":
        from sqlalchemy.exc import DataError

        if isinstance(exc, DataError):
            return ValidationFailed(
                "a parameter holds characters a model id or source cannot contain (e.g. NUL)"
            )
        log.warning("database unavailable on %s: %s", request.path, type(exc).__name__)
        return ServiceUnavailable(f"database unavailable ({type(exc).__name__}); try again shortly")
    if package == "redis":
        log.warning("redis unavailable on %s: %s", request.path, type(exc).__name__)
        return ServiceUnavailable(f"redis unavailable ({type(exc).__name__}); try again shortly")
    return None


def _wants_json() -> bool:
    accept = request.accept_mimetypes
    return bool(accept.best == "application/json" or request.path.startswith(("/admin", "/health")))

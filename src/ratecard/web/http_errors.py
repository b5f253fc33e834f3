"""Errors mapped to HTTP in one place: JSON `{"error", "detail"}`, never a trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, SecurityError

from ratecard.errors import RatecardError

log = logging.getLogger(__name__)


def error_response(status: int, error: str, detail: str, **extra: Any) -> Response:
    """Build the one JSON error shape every route uses."""
    body: dict[str, Any] = {"error": error, "detail": detail}
    body.update(extra)
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
        # The trace goes to the log only; the client learns nothing about our internals.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error occurred")


def _wants_json() -> bool:
    accept = request.accept_mimetypes
    return bool(accept.best == "application/json" or request.path.startswith(("/admin", "/health")))

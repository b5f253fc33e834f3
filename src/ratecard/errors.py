"""The error hierarchy: plain exceptions the domain raises, mapped to HTTP once (http_errors).

Each class carries the HTTP status and the short error name a client sees, so the mapping in
`ratecard.web.http_errors` is one handler, not a table; nothing here imports Flask.
"""

from __future__ import annotations

from typing import Any


class RatecardError(Exception):
    """Base of every error ratecard reports to a client."""

    status = 400
    error = "bad_request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(RatecardError):
    status = 404
    error = "not_found"


class ValidationFailed(RatecardError):
    """A request's body or query is malformed; `field` names what is wrong."""

    status = 422
    error = "validation_failed"


class Conflict(RatecardError):
    status = 409
    error = "conflict"


class Forbidden(RatecardError):
    status = 403
    error = "forbidden"


class Unauthorized(RatecardError):
    status = 401
    error = "unauthorized"


class UnsupportedMediaType(RatecardError):
    status = 415
    error = "unsupported_media_type"


class ServiceUnavailable(RatecardError):
    status = 503
    error = "unavailable"

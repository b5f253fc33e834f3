"""The admin bearer token: one check, in constant time, with errors that say what is wrong.

The token travels only in the `Authorization` header, never in a cookie: a browser attaches
cookies to cross-site requests by itself, so a cookie-authenticated POST /admin/refresh could
be fired by any page the operator visits (CSRF). A header has to be set by our own script.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request

from ratecard.costing.price_books import BookAccess
from ratecard.errors import Forbidden, RatecardError, Unauthorized
from ratecard.web.state import get_state


def bearer_credential(authorization: str | None) -> str | None:
    """The credential of an `Authorization: Bearer <credential>` header (None: absent or
    malformed)."""
    scheme, _, given = (authorization or "").strip().partition(" ")
    given = given.strip()
    return given if scheme.lower() == "bearer" and given and " " not in given else None


def check_bearer(expected: str | None, authorization: str | None) -> None:
    """Raise Forbidden (no token configured) or Unauthorized unless the header carries it."""
    refused = _refusal(expected, authorization)
    if refused is not None:
        error, detail = refused
        raise error(detail)


def _refusal(
    expected: str | None, authorization: str | None
) -> tuple[type[RatecardError], str] | None:
    """Why the header does not carry the token (the error and its detail), or None if it does.

    Raises nothing: `is_admin` asks on every health probe its view answers, and building an
    exception only to catch it cost ~10 us there."""
    if not expected:
        return Forbidden, "admin routes are disabled: RATECARD_ADMIN_TOKEN is not set"
    if not authorization:
        return Unauthorized, "send the admin token as 'Authorization: Bearer <token>'"
    given = bearer_credential(authorization)
    if given is None:
        return Unauthorized, "malformed Authorization header: expected 'Bearer <token>'"
    # Constant time: the response time must not reveal how long a prefix of a guess was right.
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        return Unauthorized, "the admin token is not valid"
    return None


def require_admin() -> None:
    """Refuse the current request unless it carries the admin token."""
    check_bearer(get_state().settings.admin_token, request.headers.get("Authorization"))


def is_admin() -> bool:
    """Return whether the current request carries the admin token (never raises)."""
    # The WSGI environ, not request.headers: the same value without building the headers view.
    authorization = request.environ.get("HTTP_AUTHORIZATION")
    return _refusal(get_state().settings.admin_token, authorization) is None


def book_access() -> BookAccess:
    """Who asks for a price book: the admin, or the holder of the bearer credential sent (a
    book's read key, checked by the book store against the book's own)."""
    if is_admin():
        return BookAccess(admin=True)
    return BookAccess(admin=False, key=bearer_credential(request.headers.get("Authorization")))


def admin_only(bp: Blueprint) -> None:
    """Require the admin token on every route of `bp` and keep its answers out of caches.

    Admin answers describe the fleet at one instant and may carry hosts or secrets.
    """
    bp.before_request(require_admin)
    bp.after_request(_no_store)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response

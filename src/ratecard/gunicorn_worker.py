"""gunicorn's thread worker, answering the request-size errors gunicorn raises itself in JSON.

gunicorn rejects a request line longer than `limit_request_line` (and oversized headers)
before the application sees it, with an HTML page; a client of this JSON API (and the
OpenAPI document, which lists 414 for every operation) gets the API's error shape instead:
`{"error", "detail", "field"}`.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.workers.gthread import ThreadWorker

# exception -> (status, reason, error code, field)
_JSON_ERRORS: dict[type[Exception], tuple[int, str, str, str]] = {
    LimitRequestLine: (414, "URI Too Long", "uri_too_long", "url"),
    LimitRequestHeaders: (431, "Request Header Fields Too Large", "headers_too_large", "headers"),
}


def json_error_response(status: int, reason: str, body: dict[str, Any]) -> bytes:
    """Return a complete HTTP/1.1 response that closes the connection."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode("latin-1") + payload


class JsonErrorsWorker(ThreadWorker):
    """The gthread worker; size-limit errors answered as the API's JSON error."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        known = next((v for k, v in _JSON_ERRORS.items() if isinstance(exc, k)), None)
        if known is None:
            super().handle_error(req, client, addr, exc)
            return
        status, reason, code, field = known
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        detail = f"{field}: {exc}"
        try:
            util.write_nonblock(
                client,
                json_error_response(
                    status, reason, {"error": code, "detail": detail, "field": field}
                ),
            )
        except Exception:
            self.log.debug("Failed to send error message.")

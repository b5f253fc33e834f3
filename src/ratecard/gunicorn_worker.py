"""gunicorn's thread worker: a stop that loses no connection, paced sockets, size errors in
JSON.

Stopping (SIGTERM). gunicorn's gthread worker stops accepting at once but keeps its listening
socket open until the drain has ended; the master closed its own copy, but the kernel socket
lives while any worker holds one. Timeline it caused behind a balancer: t0 SIGTERM; t0..t20 the
port still completes TCP handshakes, so connections pile up in the backlog, nobody accepts
them; t20 the worker exits and the kernel resets every one of them (6-22 requests lost per
rolling step, and the port hung for as long as a slow upload kept the drain going). This
worker, when it stops, first accepts what is already in the backlog (those clients have
connected: their requests are served), then closes its listener, then drains: a new
connection is refused at once, which a balancer retries on another instance.
RATECARD_SHUTDOWN_DELAY (default 0) inserts a period before that in which the worker serves
everything but `/health/ready` answers 503, for balancers that route by readiness and need a
few seconds to stop sending (Kubernetes endpoints).

Pace. Each connection's socket is a `client_pace.PacedSocket`: a client too slow to send its
request, or to read its answer, frees its thread (RATECARD_UPLOAD_TIMEOUT and
RATECARD_UPLOAD_MIN_RATE; the timeline is in client_pace).

Size errors. gunicorn rejects a request line longer than `limit_request_line` (and oversized
headers) before the application sees it, with an HTML page; a client of this JSON API (and the
OpenAPI document, which lists 414 for every operation) gets the API's error shape instead:
`{"error", "detail", "field"}`.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from gunicorn import util
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.workers.gthread import TConn, ThreadWorker

from ratecard import draining
from ratecard.client_pace import PacedSocket

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
    """The gthread worker: listener closed first at a stop, sockets paced, size errors as the
    API's JSON."""

    # Set by gunicorn_conf.post_worker_init from RATECARD_SHUTDOWN_DELAY.
    shutdown_delay: float = 0.0
    # Set by post_worker_init from RATECARD_UPLOAD_TIMEOUT and RATECARD_UPLOAD_MIN_RATE.
    client_timeout: float = 20.0
    client_min_rate: int = 65536
    _stop_timer: threading.Timer | None = None

    def handle_exit(self, sig: Any, frame: Any) -> None:
        """SIGTERM: readiness fails now; the stop itself begins after the shutdown delay."""
        draining.begin()
        if self.shutdown_delay <= 0 or not self.alive:
            super().handle_exit(sig, frame)
            return
        if self._stop_timer is None:  # a second SIGTERM does not restart the delay
            self._stop_timer = threading.Timer(
                self.shutdown_delay, super().handle_exit, (sig, None)
            )
            self._stop_timer.daemon = True
            self._stop_timer.start()

    def enqueue_req(self, conn: Any) -> None:
        """Hand a connection with a request to a thread, its socket paced (client_pace): a
        client too slow to send its request or read its answer frees the thread."""
        if not isinstance(conn.sock, PacedSocket):
            conn.sock = PacedSocket(conn.sock, self.client_timeout, self.client_min_rate)
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        # The allowance starts when a thread takes the request, not when it was queued: a
        # request waiting for a busy pool is not the client's slowness.
        conn.sock.restart()
        return super().handle(conn)

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            self._close_listeners()

    def _close_listeners(self) -> None:
        """Accept what the backlog holds, then close each listener (see the module's text)."""
        for listener in self.sockets:
            while True:
                try:
                    client, addr = listener.accept()
                except OSError:  # EAGAIN: the backlog is empty (or the socket is closed)
                    break
                self.nr_conns += 1
                client.setblocking(True)
                self.enqueue_req(TConn(self.cfg, client, addr, listener.getsockname()))
            listener.close()

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

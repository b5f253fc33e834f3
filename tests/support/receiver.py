"""A real local webhook receiver: verifies Standard Webhooks signatures, fails on request.

Every POST is verified with the `standardwebhooks` library against the secret registered for
its path; each message id's first `fail_first` attempts are answered 503 (the retries must
come back with the same id). What arrived is kept per path, in order:

    with WebhookReceiver() as receiver:
        receiver.expect("/hook", secret)            # secret from POST /admin/webhooks
        ... receiver.delivered("/hook")             # verified, 2xx-answered messages
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any

from tests.support.feeds import QuietHTTPServer


@dataclass
class Arrival:
    """One request: its webhook-id, parsed body, whether the signature verified, our answer."""

    path: str
    message_id: str
    body: Any
    verified: bool
    status: int
    at: float
    raw: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Endpoint:
    secrets: list[str]
    fail_first: int = 0
    delay: float = 0.0


@dataclass
class WebhookReceiver:
    """An HTTP server of the test's own on 127.0.0.1 (a free port)."""

    endpoints: dict[str, _Endpoint] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)
    _server: QuietHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _attempts: Counter[str] = field(default_factory=Counter)

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                status = receiver._handle(self.path, raw, dict(self.headers.items()))
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                return None

        self._server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        # shutdown() waits for serve_forever's next poll: 0.5 s by default, paid at the end of
        # every test with a receiver (~20 s over the suite); FeedServer polls as often.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def expect(self, path: str, *secrets: str, fail_first: int = 0, delay: float = 0.0) -> None:
        """Accept messages on `path` signed with any of `secrets` (after `fail_first` 503s)."""
        self.endpoints[path] = _Endpoint(list(secrets), fail_first, delay)

    def _handle(self, path: str, raw: bytes, headers: dict[str, str]) -> int:
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        endpoint = self.endpoints.get(path)
        message_id = headers.get("webhook-id") or headers.get("Webhook-Id") or ""
        verified = False
        body: Any = None
        if endpoint is not None:
            for secret in endpoint.secrets:
                try:
                    body = Webhook(secret).verify(raw, headers)
                    verified = True
                    break
                except WebhookVerificationError:
                    continue
        if body is None:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        with self._lock:
            self._attempts[message_id] += 1
            attempt = self._attempts[message_id]
        if endpoint is not None and endpoint.delay:
            time.sleep(endpoint.delay)
        if endpoint is None or not verified:
            status = 401
        elif attempt <= endpoint.fail_first:
            status = 503
        else:
            status = 200
        with self._lock:
            self.arrivals.append(
                Arrival(path, message_id, body, verified, status, time.time(), raw, headers)
            )
        return status

    def delivered(self, path: str | None = None) -> list[Arrival]:
        """Verified messages answered 2xx, in arrival order (duplicates included)."""
        with self._lock:
            return [
                a for a in self.arrivals if a.status == 200 and (path is None or a.path == path)
            ]

    def attempts(self, message_id: str) -> int:
        with self._lock:
            return self._attempts[message_id]

"""An HTTP transport whose every webhook attempt has a total deadline, not only per-step ones.

httpx's timeouts bound each connect, each write and each read: a receiver that answers one byte
every 9 s under a 10 s read timeout keeps an attempt open as long as it likes (a probe kept one
open 120 s). Timeline this prevents:
    t=0    msg_7 is claimed until t=45 (4 x timeout + 5 s) and POSTed; the receiver trickles
    t=45   the claim expires mid-send; the next pass may claim msg_7 again, or the
           subscription's next message, and POST it: two messages in flight to one
           subscription, which the claim promised never happens
    t=120  the trickled answer ends; its result is refused as stale
With the deadline, every read, write and connect of an attempt waits at most what is left of
`timeout` seconds since the attempt began: an attempt ends within `timeout` in total, long
before its claim does.

The deadline is per thread (each attempt runs on its own pool thread, see delivery.py), and
kept-alive connections read it at each call, so a connection reused by a later attempt obeys
that attempt's deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx


class Deadline(threading.local):
    """The current thread's attempt deadline (time.monotonic()), or None: no total bound."""

    until: float | None = None

    def left(self, timeout: float | None, error: type[Exception]) -> float | None:
        """`timeout` cut to what is left before the deadline; `error` once it has passed."""
        if self.until is None:
            return timeout
        remaining = self.until - time.monotonic()
        if remaining <= 0:
            raise error("the attempt's total deadline passed")
        return remaining if timeout is None else min(timeout, remaining)


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        left = self._deadline.left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, left), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, deadline: Deadline) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = self._deadline.left(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, left, local_address, socket_options)
        return _Stream(stream, self._deadline)


def deadline_client(deadline: Deadline, timeout: float, max_connections: int) -> httpx.Client:
    """An httpx client whose attempts obey `deadline` (set it around each request)."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx takes no network backend: its pool is replaced by the same pool over ours (httpx
    # and httpcore are pinned by the lock file; tests/changes/test_webhook_faults.py fails if
    # this stops taking effect).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=max_connections,
        network_backend=_Backend(deadline),
    )
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,  # a redirect could point anywhere: it counts as a failure
        trust_env=False,  # no proxy from the environment between us and the checked address
    )

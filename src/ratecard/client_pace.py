"""A client must keep up: a request gets RATECARD_UPLOAD_TIMEOUT seconds, plus one per
RATECARD_UPLOAD_MIN_RATE bytes it sends, to arrive (headers and body), and its answer must be
read with no pause longer than RATECARD_UPLOAD_TIMEOUT (Apache's mod_reqtimeout rule).

Each gunicorn worker thread serves one connection from its first byte to its last. Timeline
it prevents: eight clients start batch uploads and send a byte every few seconds (a slow link,
a stuck proxy, or on purpose); each holds a thread for as long as it likes, every thread of
the instance is taken, and `/health/live` waits behind them, so Kubernetes restarts a healthy
pod. A client that uploads and never reads its answer holds its thread (and the spooled
answer) forever the same way. With the pace rule the thread is free again after
RATECARD_UPLOAD_TIMEOUT seconds plus one second per RATECARD_UPLOAD_MIN_RATE bytes sent, at
most; a body that falls behind is answered 408 (`web.security`), a client that stops reading
is disconnected.

Plain sockets only: `gunicorn_worker` wraps each connection's socket in a `PacedSocket`.
"""

from __future__ import annotations

import errno
import socket
import time
from typing import Any

_NOT_READING = "it read nothing of its answer for RATECARD_UPLOAD_TIMEOUT"


class ClientTooSlow(TimeoutError):
    """The client fell behind the pace rule. Its errno (ENOTCONN) tells gunicorn's worker to
    close the connection quietly; a view reading the body answers 408 instead."""

    def __init__(self, why: str) -> None:
        super().__init__(errno.ENOTCONN, why)


class PacedSocket:
    """A connection's socket, every receive bounded by the pace rule, every send by the idle
    timeout. Everything else is the socket's own (`__getattr__`)."""

    def __init__(self, sock: socket.socket, timeout: float, min_rate: int) -> None:
        self._sock = sock
        self._timeout = timeout
        self._min_rate = min_rate
        self.restart()

    def restart(self) -> None:
        """A request begins: the allowance starts again (time idle between kept-alive
        requests, in the worker's poller, holds no thread and does not count)."""
        self._started = time.monotonic()
        self._received = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def recv(self, size: int, flags: int = 0) -> bytes:
        self._before_receiving()
        try:
            data = self._sock.recv(size, flags)
        except TimeoutError:
            raise self._late() from None
        self._received += len(data)
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._before_receiving()
        try:
            count = self._sock.recv_into(buffer, nbytes, flags)
        except TimeoutError:
            raise self._late() from None
        self._received += count
        return count

    def send(self, data: Any, flags: int = 0) -> int:
        result: int = self._sending(self._sock.send, data, flags)
        return result

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._sending(self._sock.sendall, data, flags)

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        # socket.sendfile waits on the socket's own timeout between chunks.
        result: int = self._sending(self._sock.sendfile, file, offset, count)
        return result

    def _sending(self, method: Any, *args: Any) -> Any:
        self._sock.settimeout(self._timeout)
        try:
            return method(*args)
        except TimeoutError:
            raise ClientTooSlow(_NOT_READING) from None

    def _before_receiving(self) -> None:
        left = self._started + self._timeout + self._received / self._min_rate - time.monotonic()
        if left <= 0:
            raise self._late()
        self._sock.settimeout(min(left, self._timeout))

    def _late(self) -> ClientTooSlow:
        elapsed = time.monotonic() - self._started
        return ClientTooSlow(
            f"{self._received} bytes in {elapsed:.1f} s is slower than RATECARD_UPLOAD_TIMEOUT "
            "and RATECARD_UPLOAD_MIN_RATE allow"
        )

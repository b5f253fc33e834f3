"""A real local HTTP server for price feeds, with programmable faults per path.

Serves files from a directory (the real feeds in tests/data by default) with ETag
(sha256 of the body) and Last-Modified, answering conditional requests with 304. Each path can
be told to fail N times, answer an HTML error page, send a truncated body, stall, or send an
oversized body, so fetch and refresh tests exercise real sockets, never mocks. Given a server
TLS context, it serves https.

    with FeedServer() as server:
        server.fail("/litellm_2026-07-24.json", 503, times=2)
        fetch_feed(Source("litellm", server.url("litellm_2026-07-24.json"), "litellm"), ...)
        assert server.hits("/litellm_2026-07-24.json") == 3
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import itertools
import logging
import ssl
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from tests.support.services import FEED_DATA

_log = logging.getLogger(__name__)
CHUNK = 64 * 1024
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>Bad Gateway</h1><p>The upstream server is unavailable.</p></body></html>\n"
)


@dataclass
class _Failure:
    status: int
    remaining: int | None  # None: fail forever
    retry_after: str | None


@dataclass
class _Body:
    content: bytes
    content_type: str
    last_modified: float | None


@dataclass
class _Delay:
    seconds: float
    after_bytes: int | None  # None: before the status line; else after that many body bytes
    remaining: int | None


@dataclass
class _Truncation:
    at_bytes: int
    declare_full_length: bool


@dataclass
class _Oversize:
    nbytes: int
    declare_length: bool


def _normalize(path: str) -> str:
    return "/" + urlsplit(path).path.lstrip("/")


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest() + '"'


class FeedServer:
    """A ThreadingHTTPServer on 127.0.0.1 (free port) serving feeds; start()/stop() or `with`."""

    def __init__(
        self, directory: Path | str | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.directory = Path(directory) if directory is not None else FEED_DATA
        self.tls = tls
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._files: dict[str, Path] = {}
        self._bodies: dict[str, _Body] = {}
        self._failures: dict[str, _Failure] = {}
        self._html_errors: dict[str, int] = {}
        self._delays: dict[str, _Delay] = {}
        self._truncations: dict[str, _Truncation] = {}
        self._oversizes: dict[str, _Oversize] = {}
        self._redirects: dict[str, tuple[int, str]] = {}
        self._bytes_sent: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FeedServer:
        """Bind a free port and serve in a daemon thread."""
        server = QuietHTTPServer(("127.0.0.1", 0), _make_handler(self))
        if self.tls is not None:
            # The handshake runs in accept(): a client refusing the certificate fails there,
            # and socketserver drops that connection (an OSError) before any handler runs.
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake any stalled response, close the socket."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "FeedServer is not started"
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        """Return the http:// (https:// with TLS) URL of a path on this server."""
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{_normalize(path)}"

    # -- programming -----------------------------------------------------------------------

    def set_file(self, path: str, filename: str | Path) -> None:
        """Serve a file (relative to the directory, or absolute) at path."""
        file = Path(filename)
        with self._lock:
            self._files[_normalize(path)] = file if file.is_absolute() else self.directory / file
            self._bodies.pop(_normalize(path), None)

    def set_body(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/json",
        last_modified: float | None = None,
    ) -> None:
        """Serve these bytes at path (ETag = sha256 of them)."""
        with self._lock:
            self._bodies[_normalize(path)] = _Body(body, content_type, last_modified)
            self._files.pop(_normalize(path), None)

    def fail(
        self, path: str, status: int, times: int | None = None, retry_after: str | None = None
    ) -> None:
        """Answer `status` (with a JSON error body) `times` times, then recover (None: forever)."""
        with self._lock:
            self._failures[_normalize(path)] = _Failure(status, times, retry_after)

    def html_error(self, path: str, status: int = 200) -> None:
        """Answer an HTML error page (as a proxy or captive portal would), 200 by default."""
        with self._lock:
            self._html_errors[_normalize(path)] = status

    def truncate(self, path: str, at_bytes: int, declare_full_length: bool = False) -> None:
        """Send only the first at_bytes of the body.

        By default Content-Length matches what is sent (a cleanly truncated file upstream);
        with declare_full_length the full length is announced and the connection is closed
        early (a dropped connection).
        """
        with self._lock:
            self._truncations[_normalize(path)] = _Truncation(at_bytes, declare_full_length)

    def delay(
        self,
        path: str,
        seconds: float,
        after_bytes: int | None = None,
        times: int | None = None,
    ) -> None:
        """Stall `seconds` before answering (or after sending after_bytes of the body)."""
        with self._lock:
            self._delays[_normalize(path)] = _Delay(seconds, after_bytes, times)

    def oversize(self, path: str, nbytes: int, declare_length: bool = True) -> None:
        """Send a JSON-looking body of nbytes, streamed (without Content-Length if told)."""
        with self._lock:
            self._oversizes[_normalize(path)] = _Oversize(nbytes, declare_length)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Answer a redirect to location (a path on this server or a full URL)."""
        with self._lock:
            self._redirects[_normalize(path)] = (status, location)

    def bytes_sent(self, path: str) -> int:
        """How many body bytes were written for path (what a client actually pulled)."""
        with self._lock:
            return self._bytes_sent.get(_normalize(path), 0)

    def reset(self, path: str | None = None) -> None:
        """Forget programmed behaviour for one path (or all), and the request log if all."""
        with self._lock:
            tables: tuple[dict[str, Any], ...] = (
                self._files,
                self._bodies,
                self._failures,
                self._html_errors,
                self._delays,
                self._truncations,
                self._oversizes,
                self._redirects,
                self._bytes_sent,
            )
            for table in tables:
                if path is None:
                    table.clear()
                else:
                    table.pop(_normalize(path), None)
            if path is None:
                self.requests.clear()

    def hits(self, path: str) -> int:
        """How many requests reached path."""
        wanted = _normalize(path)
        with self._lock:
            return sum(1 for _method, p, _headers in self.requests if p == wanted)

    # -- used by the handler -----------------------------------------------------------------

    def _record(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((method, path, headers))

    def _count_sent(self, path: str, nbytes: int) -> None:
        with self._lock:
            self._bytes_sent[path] = self._bytes_sent.get(path, 0) + nbytes

    def _take_failure(self, path: str) -> _Failure | None:
        with self._lock:
            failure = self._failures.get(path)
            if failure is None:
                return None
            if failure.remaining is not None:
                if failure.remaining <= 0:
                    return None
                failure.remaining -= 1
            return failure

    def _take_delay(self, path: str) -> _Delay | None:
        with self._lock:
            delay = self._delays.get(path)
            if delay is None:
                return None
            if delay.remaining is not None:
                if delay.remaining <= 0:
                    return None
                delay.remaining -= 1
            return delay

    def _resolve_body(self, path: str) -> _Body | None:
        with self._lock:
            body = self._bodies.get(path)
            file = self._files.get(path)
        if body is not None:
            return body
        if file is None:
            # Refuse ".." rather than compare resolved paths: a file in the directory may be a
            # symlink to elsewhere in the repository (the bundled LiteLLM snapshot is).
            relative = Path(path.lstrip("/"))
            if not relative.parts or ".." in relative.parts:
                return None
            file = self.directory / relative
        if not file.is_file():
            return None
        return _Body(file.read_bytes(), "application/json", file.stat().st_mtime)

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class QuietHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that never prints: its handler errors go to logging.

    socketserver's own handle_error prints a traceback between two 40-dash lines to
    sys.stderr. A handler thread can outlive its test, and while a later test runs click's
    CliRunner, sys.stderr is that runner's capture: the dashes then land in another test's
    command output (seen once in CI as the last line of `ratecard models search`).
    """

    daemon_threads = True
    # A stalled handler must not make stop() wait for it (stop wakes it anyway).
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out, hit the size cap or close keep-alive connections reset the
        # socket: expected in these tests, and noise in their output.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        _log.exception("test HTTP server: request from %s failed", client_address)


def _make_handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class FeedHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

        def do_GET(self) -> None:
            path = _normalize(self.path)
            server._record("GET", path, {k.lower(): v for k, v in self.headers.items()})
            # The client may give up mid-body (size cap, timeout): expected in tests.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._respond(path)

        def _respond(self, path: str) -> None:
            delay = server._take_delay(path)
            if delay is not None and delay.after_bytes is None:
                server._sleep(delay.seconds)
            failure = server._take_failure(path)
            if failure is not None:
                extra = {"Retry-After": failure.retry_after} if failure.retry_after else {}
                body = b'{"error": "injected failure %d"}' % failure.status
                self._send(failure.status, body, "application/json", extra)
                return
            with server._lock:
                redirect = server._redirects.get(path)
                html_status = server._html_errors.get(path)
                oversize = server._oversizes.get(path)
                truncation = server._truncations.get(path)
            if redirect is not None:
                self._send(redirect[0], b"", None, {"Location": redirect[1]})
                return
            if html_status is not None:
                self._send(html_status, HTML_ERROR_PAGE, "text/html; charset=utf-8", {})
                return
            if oversize is not None:
                self._send_oversize(oversize)
                return
            resolved = server._resolve_body(path)
            if resolved is None:
                self._send(404, b'{"error": "not found"}', "application/json", {})
                return
            headers = {"ETag": _etag(resolved.content)}
            if resolved.last_modified is not None:
                headers["Last-Modified"] = email.utils.formatdate(
                    resolved.last_modified, usegmt=True
                )
            if self._not_modified(headers["ETag"], resolved.last_modified):
                self._send(304, b"", None, headers)
                return
            content = resolved.content
            declared: int | None = None
            if truncation is not None:
                declared = len(content) if truncation.declare_full_length else None
                content = content[: truncation.at_bytes]
            self._send(200, content, resolved.content_type, headers, declared, delay)

        def _not_modified(self, etag: str, last_modified: float | None) -> bool:
            if_none_match = self.headers.get("If-None-Match")
            if if_none_match is not None:
                tags = {t.strip() for t in if_none_match.split(",")}
                return "*" in tags or etag in tags or etag.strip('"') in tags
            if_modified_since = self.headers.get("If-Modified-Since")
            if if_modified_since and last_modified is not None:
                try:
                    since = email.utils.parsedate_to_datetime(if_modified_since).timestamp()
                except (TypeError, ValueError):
                    return False
                return int(last_modified) <= since
            return False

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str | None,
            headers: dict[str, str],
            declared_length: int | None = None,
            delay: _Delay | None = None,
        ) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            for name, value in headers.items():
                self.send_header(name, value)
            length = declared_length if declared_length is not None else len(body)
            if status != 304:
                self.send_header("Content-Length", str(length))
            if length != len(body):
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if delay is not None and delay.after_bytes is not None:
                self._write(body[: delay.after_bytes])
                server._sleep(delay.seconds)
                body = body[delay.after_bytes :]
            self._write(body)

        def _write(self, data: bytes) -> None:
            self.wfile.write(data)
            self.wfile.flush()
            server._count_sent(_normalize(self.path), len(data))

        def _send_oversize(self, oversize: _Oversize) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if oversize.declare_length:
                self.send_header("Content-Length", str(oversize.nbytes))
            else:
                # No length: the body runs until the connection closes (RFC 9112 §6.3).
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            for chunk in _padding(oversize.nbytes):
                if server._stopping.is_set():
                    return
                self._write(chunk)

    return FeedHandler


def _padding(nbytes: int) -> Iterator[bytes]:
    """Yield exactly nbytes: a JSON object whose one string value is padding."""
    head, tail = b'{"pad": "', b'"}'
    fill = max(0, nbytes - len(head) - len(tail))
    sent = 0
    for piece in itertools.chain((head,), _fill_chunks(fill), (tail,)):
        piece = piece[: nbytes - sent]
        if not piece:
            return
        sent += len(piece)
        yield piece


def _fill_chunks(size: int) -> Iterator[bytes]:
    while size > 0:
        yield b"x" * min(CHUNK, size)
        size -= CHUNK

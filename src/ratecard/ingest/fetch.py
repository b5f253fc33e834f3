"""Fetch a feed body: http(s) with timeouts, a size cap, bounded retries and ETags; file://.

Only the refresh imports this module (httpx is imported inside the functions that use it, so
nothing here slows `create_app()` down). Every failure becomes a FeedError whose reason is
short and free of URLs, so it can be recorded and shown as is.
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

from ratecard import __version__
from ratecard.ingest.feed_errors import FeedError
from ratecard.settings import Source

if TYPE_CHECKING:
    import ssl

    import httpx

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
# Never wait longer than this between attempts, whatever Retry-After asks for: the refresh
# runs under a lease with a TTL, and a feed that wants minutes is better retried next period.
MAX_RETRY_AFTER = 30.0
# Read timeouts bound each read, not the whole body: a server dribbling a byte a second would
# otherwise hold the lease for hours. This bounds one attempt from request to last byte.
DEFAULT_ATTEMPT_DEADLINE = 300.0
HTTP_SCHEMES = ("http", "https")


@dataclass
class FetchResult:
    """A fetched body ("ok") or the news that the feed has not changed ("not-modified")."""

    source: str
    status: Literal["ok", "not-modified"]
    body: bytes | None
    etag: str | None
    last_modified: str | None
    attempts: int


class _Retryable(Exception):
    """Internal: this attempt failed in a way another attempt may not (5xx, 429, network)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def make_http_client(connect_timeout: float = 5.0, read_timeout: float = 20.0) -> httpx.Client:
    """Build the client feeds are fetched with: timeouts, redirects, our User-Agent."""
    import httpx

    return httpx.Client(
        verify=tls_context(),
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        follow_redirects=True,
        max_redirects=5,
        headers={"User-Agent": f"ratecard/{__version__}", "Accept": "application/json"},
    )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings every feed client shares: httpx's defaults (certifi's CA bundle, or
    SSL_CERT_FILE / SSL_CERT_DIR), built once per process. Building them reads the whole CA
    bundle, ~25 ms of CPU, and each refresh builds a client. A bundle replaced while the
    process runs is read at its next start."""
    import httpx

    return httpx.create_ssl_context()


def is_http(source: Source) -> bool:
    """Return whether `source` is fetched over HTTP (the others are read from disk)."""
    return urlsplit(source.url).scheme.lower() in HTTP_SCHEMES


def fetch_feed(
    source: Source,
    client: httpx.Client | None,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    attempts: int = 3,
    backoff: float = 0.5,
    checkpoint: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_retry_after: float = MAX_RETRY_AFTER,
    attempt_deadline: float = DEFAULT_ATTEMPT_DEADLINE,
) -> FetchResult:
    """Fetch one feed; raise FeedError with a short reason when it cannot be had.

    http(s): a conditional GET (If-None-Match / If-Modified-Since; 304 -> "not-modified"),
    retried with exponential backoff and jitter on 5xx, 429 (Retry-After honoured up to
    `max_retry_after`), network errors and timeouts; other 4xx fail at once. The body is
    streamed and abandoned as soon as it exceeds `max_bytes`. `checkpoint()` runs before
    each retry and may raise to cancel (e.g. the refresh lost its lease). file:// and
    package:// URLs are read directly, with the sha256 of the content as ETag.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    scheme = urlsplit(source.url).scheme.lower()
    if scheme in ("file", "package"):
        return _fetch_local(source, etag=etag, max_bytes=max_bytes)
    if scheme not in HTTP_SCHEMES:
        raise FeedError(source.name, f"unsupported URL scheme {scheme!r}")
    own_client = client is None
    http = client if client is not None else make_http_client()
    try:
        return _fetch_with_retries(
            source,
            http,
            etag=etag,
            last_modified=last_modified,
            max_bytes=max_bytes,
            attempts=attempts,
            backoff=backoff,
            checkpoint=checkpoint,
            sleep=sleep,
            max_retry_after=max_retry_after,
            attempt_deadline=attempt_deadline,
        )
    finally:
        if own_client:
            http.close()


def _fetch_with_retries(
    source: Source,
    client: httpx.Client,
    *,
    etag: str | None,
    last_modified: str | None,
    max_bytes: int,
    attempts: int,
    backoff: float,
    checkpoint: Callable[[], None] | None,
    sleep: Callable[[float], None],
    max_retry_after: float,
    attempt_deadline: float,
) -> FetchResult:
    last: _Retryable | None = None
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            assert last is not None
            sleep(retry_delay(attempt - 1, backoff, last.retry_after, max_retry_after))
            # After the pause, right before doing work again: a refresh that lost its lease
            # while we slept stops here instead of fetching for nothing.
            if checkpoint is not None:
                checkpoint()
        try:
            return _attempt(
                source, client, attempt, etag, last_modified, max_bytes, attempt_deadline
            )
        except _Retryable as exc:
            last = exc
    assert last is not None
    suffix = f" after {attempts} attempts" if attempts > 1 else ""
    raise FeedError(source.name, f"{last.reason}{suffix}")


def retry_delay(
    failures: int, backoff: float, retry_after: float | None, cap: float = MAX_RETRY_AFTER
) -> float:
    """Seconds to wait after the n-th failure: backoff x 2^(n-1), +0-50% jitter, >= Retry-After.

    The jitter spreads retries of many clients hitting the same failing feed over time.
    """
    base = backoff * 2 ** (failures - 1)
    delay = base * (1 + 0.5 * random.random())
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)


def _attempt(
    source: Source,
    client: httpx.Client,
    attempt: int,
    etag: str | None,
    last_modified: str | None,
    max_bytes: int,
    attempt_deadline: float,
) -> FetchResult:
    import httpx

    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    try:
        with client.stream("GET", source.url, headers=headers) as response:
            status = response.status_code
            if status == 304:
                if not headers:
                    raise FeedError(source.name, "HTTP 304 to an unconditional request")
                return FetchResult(
                    source=source.name,
                    status="not-modified",
                    body=None,
                    etag=response.headers.get("etag") or etag,
                    last_modified=response.headers.get("last-modified") or last_modified,
                    attempts=attempt,
                )
            if status == 429 or status >= 500:
                raise _Retryable(f"HTTP {status}", _retry_after(response.headers))
            if status != 200:
                raise FeedError(source.name, f"HTTP {status}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FeedError(source.name, f"body exceeds {_size(max_bytes)} cap")
            chunks: list[bytes] = []
            received = 0
            for chunk in response.iter_bytes():
                received += len(chunk)
                # Counted after decompression, so a small gzip bomb is caught too.
                if received > max_bytes:
                    raise FeedError(source.name, f"body exceeds {_size(max_bytes)} cap")
                if time.monotonic() - started > attempt_deadline:
                    raise _Retryable(f"body not complete after {attempt_deadline:g} s")
                chunks.append(chunk)
            return FetchResult(
                source=source.name,
                status="ok",
                body=b"".join(chunks),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                attempts=attempt,
            )
    except httpx.TimeoutException as exc:
        raise _Retryable(_timeout_reason(client, exc)) from None
    except httpx.RemoteProtocolError:
        raise _Retryable("connection closed before the response was complete") from None
    except httpx.ConnectError as exc:
        refused = _tls_refusal(exc)
        if refused is not None:
            # Not retried: a certificate this process does not trust is as untrusted a second
            # later, and the reason says where to look instead of "could not connect".
            raise FeedError(source.name, refused) from None
        raise _Retryable("could not connect") from None
    except httpx.TooManyRedirects:
        raise FeedError(source.name, "too many redirects") from None
    except httpx.TransportError as exc:
        # The class name is enough to diagnose and, unlike str(exc), never carries a URL.
        raise _Retryable(f"network error ({type(exc).__name__})") from None
    except httpx.InvalidURL:
        raise FeedError(source.name, "invalid URL") from None


def _tls_refusal(exc: BaseException) -> str | None:
    """Why TLS refused the connection, or None when it was not TLS. Never the host's name,
    which the certificate's own message (a hostname mismatch) would carry."""
    import ssl

    cause: BaseException | None = exc
    for _ in range(8):  # httpx's error wraps httpcore's, which wraps ssl's
        if cause is None:
            break
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "the server's TLS certificate is not trusted (SSL_CERT_FILE names the CAs)"
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed"
        cause = cause.__cause__ or cause.__context__
    return None


def _timeout_reason(client: httpx.Client, exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timed out after {client.timeout.connect:g} s"
    if isinstance(exc, httpx.ReadTimeout):
        return f"timed out after {client.timeout.read:g} s"
    return f"timed out ({type(exc).__name__})"


def _retry_after(headers: httpx.Headers) -> float | None:
    """Read Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    raw = headers.get("retry-after", "").strip()
    if not raw:
        return None
    if raw.isdigit():
        return float(raw)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _size(nbytes: int) -> str:
    megabyte = 1024 * 1024
    if nbytes >= megabyte and nbytes % megabyte == 0:
        return f"{nbytes // megabyte} MB"
    return f"{nbytes} bytes"


# -- local files ----------------------------------------------------------------------------


def _fetch_local(source: Source, *, etag: str | None, max_bytes: int) -> FetchResult:
    """Read a file:// (or package://) feed; the sha256 ETag makes an unchanged file a 304."""
    body, modified = _read_local(source, max_bytes)
    digest = '"' + hashlib.sha256(body).hexdigest() + '"'
    last_modified = email.utils.formatdate(modified, usegmt=True) if modified else None
    if etag is not None and etag == digest:
        return FetchResult(source.name, "not-modified", None, digest, last_modified, 1)
    return FetchResult(source.name, "ok", body, digest, last_modified, 1)


def _read_local(source: Source, max_bytes: int) -> tuple[bytes, float | None]:
    parts = urlsplit(source.url)
    if parts.scheme.lower() == "package":
        from importlib import resources

        resource = resources.files(parts.netloc).joinpath(unquote(parts.path).lstrip("/"))
        try:
            body = resource.read_bytes()
        except (OSError, ModuleNotFoundError) as exc:
            raise FeedError(
                source.name, f"cannot read packaged feed ({type(exc).__name__})"
            ) from None
        if len(body) > max_bytes:
            raise FeedError(source.name, f"body exceeds {_size(max_bytes)} cap")
        return body, None
    if parts.netloc not in ("", "localhost"):
        raise FeedError(source.name, "file:// URLs must name a local path")
    path = Path(unquote(parts.path))
    try:
        with path.open("rb") as handle:
            # Read one byte past the cap: enough to know it is exceeded, never the whole file.
            body = handle.read(max_bytes + 1)
            modified = path.stat().st_mtime
    except FileNotFoundError:
        raise FeedError(source.name, f"file not found: {path}") from None
    except IsADirectoryError:
        raise FeedError(source.name, f"not a file: {path}") from None
    except OSError as exc:
        raise FeedError(source.name, f"cannot read {path}: {exc.strerror}") from None
    if len(body) > max_bytes:
        raise FeedError(source.name, f"body exceeds {_size(max_bytes)} cap")
    return body, modified

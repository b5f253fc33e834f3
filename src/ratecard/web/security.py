"""Security headers and the request-body limit, for every response the app sends.

- HTML pages get a Content-Security-Policy that allows only our own files: no inline script,
  no inline style, no framing, no `<base>` rewriting, forms posting only to us. All of the
  dashboard's JavaScript lives in static files, so the policy costs nothing.
- Every response gets `X-Content-Type-Options: nosniff`, so a JSON body echoing user text can
  never be sniffed into HTML by an old browser, and a deny-all `Permissions-Policy`; responses
  sent over HTTPS get `Strict-Transport-Security`.
- No redirect echoes the Host header: werkzeug's slash merging answers `GET /admin//worker`
  with `308 Location: http://<Host header>/admin/worker` (an open redirect, before any auth).
  `ExactPathMap` turns merging off, and `RatecardFlask` makes the one redirect left (a missing
  trailing slash) the 404 it is. `RATECARD_TRUSTED_HOSTS` (Flask's TRUSTED_HOSTS) refuses
  other hosts with a JSON 400 for deployments that pin the Host header.
- A body over `MAX_CONTENT_LENGTH` gets a JSON 413 before any view runs, whatever the route
  and whether or not the client announced the length (chunked uploads are counted as read).
  A route that streams large bodies names its own limit in `BODY_LIMITS` (endpoint -> bytes):
  its chunked uploads are not read ahead (the view streams them, and werkzeug's stream raises
  the same 413 past the limit).
- Not security, but here because the app class is: `LazyBuilderRule` compiles a rule's URL
  builder on first use rather than for every rule at start-up.
- A body must keep arriving (`ratecard.client_pace`, under gunicorn): one that falls behind
  RATECARD_UPLOAD_TIMEOUT and RATECARD_UPLOAD_MIN_RATE gets a JSON 408.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from flask import Flask, Request, Response, current_app, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import NotFound, RequestEntityTooLarge, RequestTimeout
from werkzeug.routing import Map, RequestRedirect, Rule

from ratecard.client_pace import ClientTooSlow
from ratecard.web.http_errors import error_response

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# The dashboard uses no camera, microphone, location, payment or USB: deny them to any page
# and anything it might ever embed.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000"
HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Bytes of an oversized body we read and discard before answering 413: a client still
# sending when the server closes gets a TCP reset and may never see the 413. Beyond this
# budget we close anyway (a client streaming gigabytes is not owed a polite answer).
DRAIN_LIMIT = 64 * 1024 * 1024
DRAIN_CHUNK = 256 * 1024
# app.config key: {endpoint: bytes} for the routes whose body limit is not MAX_CONTENT_LENGTH.
BODY_LIMITS = "RATECARD_BODY_LIMITS"


class ExactPathMap(Map):
    """werkzeug's URL map without slash merging (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["merge_slashes"] = False
        super().__init__(*args, **kwargs)


class LazyBuilderRule(Rule):
    """werkzeug's Rule, its URL builders (what url_for calls) compiled on first use.

    werkzeug compiles two builders per rule when the rule is added (Python source, parsed and
    compiled: ~0.2 ms a rule), in every worker's create_app(), on the path from fork to its
    first ready answer: ~10 ms of a ~20 ms create_app(). The API builds no URLs from its rules;
    the dashboard builds a few. The first call compiles the builder werkzeug would have and
    puts it in place of this one (two threads at once compile it twice, the same function).
    """

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compile_now = super()._compile_builder
        attribute = "_build_unknown" if append_unknown else "_build"

        def build(rule: Rule, **values: Any) -> tuple[str, str]:
            compiled = compile_now(append_unknown).__get__(rule, None)
            setattr(rule, attribute, compiled)
            return compiled(**values)

        return build


class RatecardFlask(Flask):
    """Flask with `ExactPathMap` and `LazyBuilderRule`: set as class attributes so that even
    the static route, which Flask adds in its constructor, is built with them."""

    url_map_class = ExactPathMap
    url_rule_class = LazyBuilderRule

    def raise_routing_exception(self, request: Request) -> NoReturn:
        # werkzeug's trailing-slash redirect builds its absolute Location from the Host
        # header (`GET //` -> 308 http://evil.example/). Our only rule ending in "/" is "/",
        # whose slash no path can lack, so such a redirect only ever answers a path no client
        # of ours sends: make it the 404 it is, never a redirect to a host the client named.
        if isinstance(request.routing_exception, RequestRedirect):
            raise NotFound()
        super().raise_routing_exception(request)


def register_security(app: Flask) -> None:
    """Add the security headers and the JSON 413 to `app`."""
    app.before_request(enforce_body_limit)
    app.after_request(add_security_headers)
    app.register_error_handler(RequestEntityTooLarge, body_too_large)
    app.register_error_handler(RequestTimeout, body_too_slow)


def enforce_body_limit() -> None:
    """Refuse an oversized body before any view runs (raises 413)."""
    environ = request.environ
    if "CONTENT_LENGTH" not in environ and "HTTP_TRANSFER_ENCODING" not in environ:
        return  # no body announced, none streamed: most requests stop here, parsing nothing
    # Before anything reads it: werkzeug turns any OSError of the stream into a 400 "client
    # disconnected", so a client too slow for the pace rule would never hear its 408.
    environ["wsgi.input"] = _PaceAnswered(environ["wsgi.input"])
    own_limit = current_app.config.get(BODY_LIMITS, {}).get(request.endpoint)
    if own_limit is not None:
        request.max_content_length = own_limit
    if request.content_length is not None:
        limit = request.max_content_length
        if limit is not None and request.content_length > limit:
            raise RequestEntityTooLarge()
        return
    if own_limit is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        # No announced length: read it now, up to the limit. `cache=True` keeps the body for
        # the view (get_json() reads the cached bytes).
        data = request.get_data(cache=True)
        limit = request.max_content_length
        # werkzeug stops silently at exactly the limit: the view would parse a truncated
        # body. One more byte in the raw stream means the body is too large.
        if limit is not None and len(data) >= limit and request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()


def add_security_headers(response: Response) -> Response:
    """Set nosniff and Permissions-Policy on every response, the CSP family on HTML ones, and
    HSTS on those sent over HTTPS."""
    headers = response.headers
    # One pass over the names already set, then appends: setdefault scans the list twice per
    # header (~4 us each on every response).
    present = {name.lower() for name, _ in headers.items()}
    _add_missing(headers, present, always_headers(request.is_secure))
    # A prefix test first: parsing the Content-Type (`mimetype`) only for would-be HTML.
    if (response.content_type or "").startswith("text/html") and response.mimetype == "text/html":
        _add_missing(headers, present, HTML_HEADERS.items())
    return response


def _add_missing(headers: Headers, present: set[str], pairs: Iterable[tuple[str, str]]) -> None:
    for name, value in pairs:
        if name.lower() not in present:
            headers.add(name, value)


def always_headers(secure: bool) -> tuple[tuple[str, str], ...]:
    """The headers every response carries: nosniff, Permissions-Policy, and HSTS over HTTPS."""
    if not secure:
        return _ALWAYS
    # Only over HTTPS: browsers ignore HSTS on plain HTTP (RFC 6797 §8.1), and over HTTP it
    # would only say we believe we are on TLS when we are not. `secure` (`request.is_secure`)
    # is true only when the client reached gunicorn over TLS, or a proxy in
    # FORWARDED_ALLOW_IPS said so (X-Forwarded-Proto): a client cannot claim it itself.
    # No includeSubDomains: the operator's other hosts under the domain are not ours.
    return _ALWAYS_SECURE


_ALWAYS = (("X-Content-Type-Options", "nosniff"), ("Permissions-Policy", PERMISSIONS_POLICY))
_ALWAYS_SECURE = (*_ALWAYS, ("Strict-Transport-Security", HSTS))


def body_too_large(exc: RequestEntityTooLarge) -> Response:
    """Answer 413 as JSON (on every route) after draining what the client still sends; a view
    that raised its own description (the batch's JSON-array limit) has it shown."""
    limit = request.max_content_length or 0
    _drain_request_body()
    own = exc.description != RequestEntityTooLarge.description
    response = error_response(
        413,
        "payload_too_large",
        str(exc.description) if own else f"request bodies are limited to {limit} bytes",
    )
    # The body was not (fully) read: the connection cannot carry another request.
    response.headers["Connection"] = "close"
    return response


class _PaceAnswered:
    """`wsgi.input`, a client too slow for the pace rule raised as a 408 (not an OSError)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, size: int | None = -1) -> bytes:
        return self._call(self._stream.read, size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._call(self._stream.readline, size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    @staticmethod
    def _call(method: Any, arg: Any) -> bytes:
        try:
            data: bytes = method(arg)
        except ClientTooSlow as exc:
            raise RequestTimeout(f"the request body arrived too slowly: {exc.strerror}") from None
        return data


def body_too_slow(exc: RequestTimeout) -> Response:
    """Answer 408 as JSON; the rest of the body is not waited for (ratecard.client_pace)."""
    response = error_response(408, "request_timeout", str(exc.description))
    response.headers["Connection"] = "close"
    return response


def _drain_request_body() -> None:
    """Read and discard the rest of the request body, up to DRAIN_LIMIT bytes."""
    stream = request.environ.get("wsgi.input")
    if stream is None:
        return
    remaining = DRAIN_LIMIT
    if request.content_length is not None:
        # Never read past the announced length: some servers hand us the raw socket.
        remaining = min(remaining, request.content_length)
    try:
        while remaining > 0:
            chunk = stream.read(min(DRAIN_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
    except (OSError, ValueError) as exc:
        # The client went away mid-body: nothing to answer to, nothing to report.
        log.debug("stopped draining an oversized body: %s", type(exc).__name__)

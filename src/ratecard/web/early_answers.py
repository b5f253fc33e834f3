"""Answers sent before Flask: GETs whose bytes are kept already, without what Flask adds.

Why: for a request whose answer is bytes kept already (a model's answer for the served catalog
version, a passing probe), what is left of its cost is Flask's: the request context, URL
matching, the hooks, the response object. One WSGI layer, just inside the request tally
(http_metrics wraps what this leaves), sends such answers itself and calls Flask for the rest.

The rules every answer sent here keeps, so that it cannot differ from the view's:
- only a GET with no query string and no body announced (Flask applies the body limits);
  each answerer declines anything else it would not answer as its view does (returns None);
- anything an answerer raises goes to Flask, which answers as it always did;
- the headers are the answerer's, then the security headers every response carries
  (`security.always_headers`, HSTS over HTTPS), as `add_security_headers` appends them;
- the request is counted under the view's route (`http_metrics.ROUTE_KEY`);
- not installed with RATECARD_TRUSTED_HOSTS: Flask checks the Host header then, so every
  request goes through it.
Who answers: web/api/kept_reads.py (model reads), web/health_probes.py (passing probes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask

from ratecard.web.http_metrics import ROUTE_KEY
from ratecard.web.security import always_headers

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# app.extensions key of the app's layer.
EXTENSION_KEY = "ratecard.early_answers"
# Present in the environ when a request announces a body.
_BODY = ("CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING")


@dataclass(frozen=True, slots=True)
class EarlyAnswer:
    """A 200 sent before Flask: its route (the metrics label), headers and body."""

    route: str
    headers: tuple[tuple[str, str], ...]  # all but the security headers, in the view's order
    body: bytes


# The path and the environ of a bodiless GET without a query string -> its answer, or None.
Answerer = Callable[[str, "WSGIEnvironment"], EarlyAnswer | None]


class EarlyAnswers:
    """WSGI: the first answer an answerer gives, else the Flask app's (see the module)."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self.answerers: list[Answerer] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("REQUEST_METHOD") == "GET"
            and not environ.get("QUERY_STRING")
            and not any(name in environ for name in _BODY)
        ):
            path: str = environ.get("PATH_INFO", "")
            for answer_of in self.answerers:
                try:
                    answer = answer_of(path, environ)
                except Exception:  # Flask answers whatever this was, as it always has
                    answer = None
                if answer is not None:
                    environ[ROUTE_KEY] = answer.route
                    secure = environ.get("wsgi.url_scheme") == "https"
                    start_response("200 OK", [*answer.headers, *always_headers(secure)])
                    return [answer.body]
        return self.app(environ, start_response)


def answer_early(app: Flask, answerer: Answerer) -> None:
    """Have `answerer` answer before Flask (the app's layer is made on first use); nothing
    with RATECARD_TRUSTED_HOSTS set."""
    if app.config.get("TRUSTED_HOSTS"):
        return
    layer = app.extensions.get(EXTENSION_KEY)
    if layer is None:
        layer = app.extensions[EXTENSION_KEY] = EarlyAnswers(app.wsgi_app)
        app.wsgi_app = layer  # type: ignore[method-assign]
    layer.answerers.append(answerer)

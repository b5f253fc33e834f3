"""A model's answer of now, already kept for the served catalog version, sent before Flask.

Why: `GET /api/models/<id>` is what clients send most, and once its answer is kept as bytes
(web/cached_answers.py) what is left of a request is Flask's: the request context, URL
matching, the hooks, the response object. A bare Flask view that serializes a dict each time
still answered ~6% more reads per second than ratecard's view under the same gunicorn
(bench/api.py). This WSGI layer, just inside the request tally, answers the reads whose bytes
are kept without any of that.

What it answers: only what the view would answer from the snapshot's memo unchanged, so that
the two cannot differ —
- GET (not HEAD) of `/api/models/<id>`, ASCII, with no query string (the view's query
  defaults: `source` and `at` unset), no body announced and no `If-None-Match` (the view's 304);
- whose answer the memo of the snapshot the catalog cache serves now holds: the view keeps one
  only after answering that very id, spelt as the catalog spells it (models.get_model), so
  a path Flask routes elsewhere (`/api/models/<id>/history`) never has one;
- not when RATECARD_TRUSTED_HOSTS is set: Flask checks the Host header then, so every request
  goes through it.
Everything else, and anything that raises here (a catalog that cannot be loaded: Flask
answers the 503), goes to Flask, which answers as it always did. The bytes, the status and
the headers are the view's own, security headers included (tests/web/api/test_kept_reads.py
compares the two answers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ratecard.web.api.models import MODEL_RULE, kept_model_answer
from ratecard.web.cached_answers import validator_headers
from ratecard.web.http_metrics import ROUTE_KEY
from ratecard.web.security import always_headers

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from ratecard.catalog.snapshot import CatalogSnapshot

PREFIX = "/api/models/"
# Present in the environ when a request announces a body, or a validator the view answers.
_FLASK_ONLY = ("CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING", "HTTP_IF_NONE_MATCH")


class KeptReads:
    """WSGI: answer a kept model answer directly, else call the Flask app (see the module)."""

    def __init__(self, app: WSGIApplication, catalog: Callable[[], CatalogSnapshot]) -> None:
        self.app = app
        self.catalog = catalog

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if (
            path.startswith(PREFIX)
            and environ.get("REQUEST_METHOD") == "GET"
            and not environ.get("QUERY_STRING")
            and path.isascii()
            and not any(name in environ for name in _FLASK_ONLY)
        ):
            answer = self._kept(path[len(PREFIX) :])
            if answer is not None:
                headers = [
                    *validator_headers(answer),
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(answer.body))),
                    *always_headers(secure=environ.get("wsgi.url_scheme") == "https"),
                ]
                environ[ROUTE_KEY] = MODEL_RULE
                start_response("200 OK", headers)
                return [answer.body]
        return self.app(environ, start_response)

    def _kept(self, model_id: str) -> Any:
        try:
            return kept_model_answer(self.catalog(), model_id)
        except Exception:  # Flask answers whatever this was, as it always has
            return None

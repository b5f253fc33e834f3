"""A model's answer of now, already kept for the served catalog version, sent before Flask.

Why: `GET /api/models/<id>` is what clients send most, and once its answer is kept as bytes
(web/cached_answers.py) what is left of a request is Flask's: the request context, URL
matching, the hooks, the response object. A bare Flask view that serializes a dict each time
still answered ~6% more reads per second than ratecard's view under the same gunicorn
(bench/api.py). Answered before Flask (web/early_answers.py), the reads whose bytes are kept
skip all of that.

What it answers (beyond the rules web/early_answers.py keeps for every early answer: a GET
with no query string, which leaves `source` and `at` unset, and no body announced): only what
the view would answer from the snapshot's memo unchanged, so that the two cannot differ —
- `/api/models/<id>`, ASCII, with no `If-None-Match` (the view's 304);
- whose answer the memo of the snapshot the catalog cache serves now holds: the view keeps one
  only after answering that very id, spelt as the catalog spells it (models.get_model), so
  a path Flask routes elsewhere (`/api/models/<id>/history`) never has one.
Everything else, and anything that raises here (a catalog that cannot be loaded: Flask
answers the 503), goes to Flask, which answers as it always did. The bytes, the status and
the headers are the view's own, security headers included (tests/web/api/test_kept_reads.py
compares the two answers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ratecard.web.api.models import MODEL_RULE, kept_model_answer
from ratecard.web.cached_answers import validator_headers
from ratecard.web.early_answers import EarlyAnswer

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from ratecard.catalog.snapshot import CatalogSnapshot

PREFIX = "/api/models/"


class KeptReads:
    """An early answerer (web/early_answers.py): a model answer kept for the served version."""

    def __init__(self, catalog: Callable[[], CatalogSnapshot]) -> None:
        self.catalog = catalog

    def __call__(self, path: str, environ: WSGIEnvironment) -> EarlyAnswer | None:
        if not path.startswith(PREFIX) or not path.isascii() or "HTTP_IF_NONE_MATCH" in environ:
            return None
        answer = kept_model_answer(self.catalog(), path[len(PREFIX) :])
        if answer is None:
            return None
        headers = (
            *validator_headers(answer),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(answer.body))),
        )
        return EarlyAnswer(MODEL_RULE, headers, answer.body)

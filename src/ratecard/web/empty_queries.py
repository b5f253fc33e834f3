"""What each route's query model makes of an empty query string, written out as plain values.

Why: most requests carry no query string (`GET /api/models/gpt-4o`), and their query is the
model's defaults. Reading those from the pydantic models meant importing pydantic and building
the models (~80 ms) before a worker's first answer, in gunicorn's master, on every start. With
the defaults here, a request without a query string needs no pydantic at all, and each worker
imports it in its warm-up thread instead, beside its first answers (web/health_probes.py).

The pydantic models stay the one definition: tests/web/test_empty_queries.py validates `{}`
with every route's query model and compares the result with this table (its failure message
prints the table to paste). A model with a required parameter has no entry: an empty query
string goes to pydantic, which answers 422 naming the parameter.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from typing import Any

# model name -> {field: value of the model validated from an empty query string}, in field order.
EMPTY_QUERIES: dict[str, dict[str, Any]] = {
    "HistoryQuery": {"source": None, "limit": 100, "order": "desc"},
    "ModelListQuery": {
        "provider": None,
        "mode": None,
        "status": None,
        "source": None,
        "q": None,
        "sort": "id",
        "limit": 50,
        "cursor": None,
        "page": None,
    },
    "ModelQuery": {"source": None, "at": None},
    "DisagreementQuery": {"source": None, "field": None},
    "PriceTableQuery": {"history": False, "source": None, "provider": None, "model": None},
    "ChangesQuery": {
        "since": "0",
        "limit": 100,
        "model": None,
        "provider": None,
        "source": None,
        "kind": None,
    },
    "AtomQuery": {"limit": 50, "model": None, "provider": None, "source": None, "kind": None},
    "DeliveriesQuery": {"status": None, "limit": 50},
    "PriceBookVersionQuery": {"version": None},
}


@functools.cache
def empty_query(model_name: str) -> Any:
    """The query of `model_name` for an empty query string, as an immutable object with the
    model's field names as attributes, one per model; None when the table has no entry for
    it (a model with a required parameter)."""
    values = EMPTY_QUERIES.get(model_name)
    if values is None:
        return None
    return namedtuple(model_name, values)(**values)

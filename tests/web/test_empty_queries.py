"""The table of empty queries says what the pydantic models say, and a request without a query
string is answered without importing pydantic."""

from __future__ import annotations

import pprint
from collections.abc import Callable
from typing import Any

from flask import Flask
from pydantic import ValidationError

from ratecard.web.empty_queries import EMPTY_QUERIES, empty_query
from ratecard.web.routes import routes_of, schema_model
from tests.support.apps import as_a_worker, python_json


def validated_empty_queries(app: Flask) -> dict[str, dict[str, Any]]:
    """What each route's query model validates `{}` to (models with a required field left out)."""
    found: dict[str, dict[str, Any]] = {}
    for route in routes_of(app):
        if route.query is None or route.query in found:
            continue
        try:
            query = schema_model(route.query).model_validate({})
        except ValidationError:
            continue
        found[route.query] = dict(query)
    return found


def test_the_table_is_what_every_route_s_query_model_makes_of_an_empty_query(
    make_app: Callable[..., Flask],
) -> None:
    expected = validated_empty_queries(make_app())
    assert len(expected) >= 9  # every area's queries, not an empty app
    # Same models, same values, same field order (the order a namedtuple shows them in).
    assert {k: list(v.items()) for k, v in EMPTY_QUERIES.items()} == {
        k: list(v.items()) for k, v in expected.items()
    }, "paste into web/empty_queries.py:\nEMPTY_QUERIES = " + pprint.pformat(expected, width=90)


def test_an_empty_query_reads_like_the_model_and_cannot_be_changed() -> None:
    query = empty_query("ModelListQuery")
    assert (query.limit, query.sort, query.cursor) == (50, "id", None)
    assert query is empty_query("ModelListQuery")  # one object per model, shared
    try:
        query.limit = 5
    except AttributeError:
        pass
    else:
        raise AssertionError("a shared query must not be changed by one request")
    assert empty_query("NoSuchQuery") is None


def test_a_model_read_and_the_listing_without_a_query_string_import_no_pydantic(
    migrated_sqlite_url: str,
) -> None:
    # A fresh interpreter: the app, a catalog of one model, then the two reads a client starts
    # with. With a query string, the same reads need the model (pydantic is imported then).
    code = as_a_worker(
        migrated_sqlite_url,
        "{'version': 1, 'models': [codec.to_item(price)]}",
        "client = app.test_client()\n"
        "statuses = [client.get(p).status_code for p in ('/api/models/m-1', '/api/models')]\n"
        "before = 'pydantic' in sys.modules\n"
        "listed = client.get('/api/models?limit=1').get_json()['limit']\n"
        "print(json.dumps([statuses, before, listed, 'pydantic' in sys.modules]))\n",
        setup="from ratecard.catalog import codec\n"
        "from ratecard.catalog.model import ModelPrice\n"
        "from ratecard.vocabulary import PriceStatus\n"
        "price = ModelPrice(source='litellm', model_id='m-1', status=PriceStatus.UNPRICED)\n",
    )
    statuses, imported_before, listed, imported_after = python_json(code)
    assert statuses == [200, 200]
    assert not imported_before, "a request without a query string imported pydantic"
    assert listed == 1 and imported_after

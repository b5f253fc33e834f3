"""/admin/price-books: negotiated and resale prices as versioned books of rules.

Writing (create or replace, delete, a new read key) and listing need the admin token; reading
one book or its history needs the admin token or the book's own read key (made with it and
shown once), or neither for a public book. Every new version is logged in the change log (kind
`price_book`) in the same transaction, by the one store every path writes through
(`serving.book_store`, also behind `ratecard price-books apply`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify

from ratecard.costing.price_books import PriceBook
from ratecard.timetext import instant_text
from ratecard.web.auth import book_access, require_admin
from ratecard.web.request_parsing import parse_query, read_json_body
from ratecard.web.routes import RouteSpec, route_registrar
from ratecard.web.state import database_call, get_state

# Deferred: the book store and the change log (SQLAlchemy) load with the first price book
# request, not with create_app.

T = TypeVar("T")
bp = Blueprint("admin_price_books", __name__, url_prefix="/admin/price-books")
_ERRORS = {401: "ErrorOut", 403: "ErrorOut", 503: "ErrorOut"}
_ONE = {404: "ErrorOut", **_ERRORS}
route = route_registrar(
    bp,
    schemas="ratecard.web.admin.book_schemas",
    tag="price books",
    tag_description="Negotiated and resale prices: versioned books of rules over the list "
    "prices, used by `price_book` in cost requests.",
)
_EXAMPLE = {
    "description": "Azure contract 2026",
    "unmatched": "list",
    "rules": [
        {
            "match": {"model": "gpt-4o"},
            "set": {"input_per_token": "0.000002"},
            "from": "2026-06-01T00:00:00Z",
        },
        {"match": {"provider": "openai"}, "multiply": "0.85"},
    ],
}


@bp.after_request
def _no_store(response: Response) -> Response:
    # A book's rules are contract terms: never kept by a shared cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def book_json(book: PriceBook) -> dict[str, Any]:
    return {"name": book.name, "version": book.version, **book.content}


def recorder() -> Any:
    from ratecard.changes.changelog import record_book_change

    return record_book_change


def _write(call: Callable[[Any, datetime], T]) -> T:
    """Run a write `call(conn, now)` in one transaction (an outage is the one handler's 503)."""
    now = datetime.now(UTC)
    return database_call(lambda conn: call(conn, now), transaction=True)


def limits() -> Any:
    from ratecard.serving.book_store import BookLimits

    settings = get_state().settings
    return BookLimits(settings.price_book_max_rules, settings.price_book_max_chain)


@route(
    RouteSpec(
        "PUT",
        "/admin/price-books/<name>",
        "put_price_book",
        "Create or replace a price book; a new version only when its content changes.",
        description="Rules are tried in order; for each price, the first that matches the "
        "model, covers the price and is in force applies (`multiply` scales the list price "
        "exactly, `set` replaces it). A bad rule is a 422 naming it (`rules[2].multiply`). The "
        "answer to a creation (201) shows the book's read key once.",
        body="PriceBookIn",
        bearer=True,
        responses={200: "PriceBookPutOut", 201: "PriceBookPutOut", 400: "ErrorOut",
                   409: "ErrorOut", 415: "ErrorOut", 422: "ErrorOut", **_ERRORS},
        path_examples={"name": "azure-2026"},
        body_example=_EXAMPLE,
    )
)  # fmt: skip
def put_price_book(name: str) -> Response:
    from ratecard.serving import book_store

    require_admin()
    data = read_json_body(None)[1]
    result = _write(
        lambda conn, now: book_store.put_book(
            conn, name, data, now, limits=limits(), record=recorder()
        )
    )
    response = jsonify(
        {**book_json(result.book), "changed": result.changed, "read_key": result.read_key}
    )
    response.status_code = 201 if result.created else 200
    return response


@route(
    RouteSpec(
        "GET",
        "/admin/price-books",
        "list_price_books",
        "Every price book: current version, description, base, how many rules.",
        bearer=True,
        responses={200: "PriceBookListOut", **_ERRORS},
    )
)
def list_price_books() -> Response:
    from ratecard.serving import book_store

    require_admin()
    items = database_call(book_store.list_books)
    for item in items:
        item["updated_at"] = instant_text(item["updated_at"])
    return jsonify({"items": items})


@route(
    RouteSpec(
        "GET",
        "/admin/price-books/<name>",
        "get_price_book",
        "One price book (its current version, or `version`), with its rules.",
        description="The admin token, or the book's read key as `Authorization: Bearer <key>`; "
        "a public book needs neither.",
        query="PriceBookVersionQuery",
        bearer=True,
        responses={200: "PriceBookOut", 422: "ErrorOut", **_ONE},
        path_examples={"name": "azure-2026"},
    )
)
def get_price_book(name: str) -> Response:
    from ratecard.serving import book_store

    query = parse_query("PriceBookVersionQuery")
    who = book_access()
    book = database_call(lambda conn: book_store.get_book(conn, name, who, query.version))
    return jsonify(book_json(book))


@route(
    RouteSpec(
        "GET",
        "/admin/price-books/<name>/history",
        "price_book_history",
        "Every version of a price book, newest first, with what each changed.",
        description="The admin token, or the book's read key; a public book needs neither.",
        bearer=True,
        responses={200: "PriceBookHistoryOut", **_ONE},
        path_examples={"name": "azure-2026"},
    )
)
def price_book_history(name: str) -> Response:
    from ratecard.serving import book_store

    who = book_access()
    items = database_call(lambda conn: book_store.history(conn, name, who))
    for item in items:
        item["created_at"] = instant_text(item["created_at"])
    return jsonify({"name": name, "items": items})


@route(
    RouteSpec(
        "DELETE",
        "/admin/price-books/<name>",
        "delete_price_book",
        "Delete a price book (its versions stay in its history and the change log).",
        bearer=True,
        responses={200: "PriceBookDeletedOut", 409: "ErrorOut", **_ONE},
        path_examples={"name": "azure-2026"},
    )
)
def delete_price_book(name: str) -> Response:
    from ratecard.serving import book_store

    require_admin()
    version = _write(lambda conn, now: book_store.delete_book(conn, name, now, record=recorder()))
    return jsonify({"name": name, "deleted": True, "version": version})


@route(
    RouteSpec(
        "POST",
        "/admin/price-books/<name>/read-key",
        "rotate_price_book_key",
        "Issue a new read key for a price book (shown once); the old one stops working.",
        bearer=True,
        responses={200: "ReadKeyOut", **_ONE},
        path_examples={"name": "azure-2026"},
    )
)
def rotate_price_book_key(name: str) -> Response:
    from ratecard.serving import book_store

    require_admin()
    key = _write(lambda conn, now: book_store.rotate_read_key(conn, name, now))
    return jsonify({"name": name, "read_key": key})

"""GET /api/prices.csv and /api/prices.parquet: the dated price table (serving.price_table),
for warehouses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response

from ratecard.web.api.blueprint import models_route
from ratecard.web.request_parsing import parse_query
from ratecard.web.routes import RouteSpec
from ratecard.web.state import database_call

if TYPE_CHECKING:
    from sqlalchemy import Connection

# Deferred: the table's reader imports SQLAlchemy (~0.2 s), paid by the first export.


@models_route(
    RouteSpec(
        "GET",
        "/api/prices.csv",
        "prices_csv",
        "Every price as a dated table (CSV): one row per source, model, price and period.",
        description="Columns: source, model_id, provider, price_name (the change log's flat "
        "names), price (exact decimal text; per token for token prices), unit, valid_from, "
        "valid_to (empty while in force). The prices in force now, or every period with "
        "`history=true`; an as-of join (valid_from <= t < valid_to) gives what `?at=t` serves.",
        query="PriceTableQuery",
        responses={200: "PriceTableText", 422: "ErrorOut", 503: "ErrorOut"},
        media_types={200: "text/csv"},
    )
)
def prices_csv() -> Response:
    from ratecard.serving.price_table import csv_chunks

    history, rows = _table_rows()
    return _attachment(
        Response(csv_chunks(rows), content_type="text/csv; charset=utf-8"), history, "csv"
    )


@models_route(
    RouteSpec(
        "GET",
        "/api/prices.parquet",
        "prices_parquet",
        "Every price as a dated table (Parquet): the CSV's rows, typed.",
        description="The rows and columns of GET /api/prices.csv, typed: `price` a DECIMAL "
        "whose scale holds every price exactly, `valid_from`/`valid_to` UTC timestamps "
        "(microseconds; `valid_to` null while in force), the rest strings. Compressed with "
        "zstd.",
        query="PriceTableQuery",
        responses={200: "PriceTableParquet", 422: "ErrorOut", 503: "ErrorOut"},
        media_types={200: "application/vnd.apache.parquet"},
    )
)
def prices_parquet() -> Response:
    from ratecard.serving.price_parquet import parquet_bytes

    history, rows = _table_rows()
    body = parquet_bytes(rows)
    return _attachment(
        Response(body, content_type="application/vnd.apache.parquet"), history, "parquet"
    )


def _table_rows() -> tuple[bool, list[Any]]:
    """Whether every period was asked for, and the table's rows for the query's filter."""
    from ratecard.serving.price_table import TableFilter, price_rows

    query = parse_query("PriceTableQuery")
    where = TableFilter(query.history, query.source, query.provider, query.model)

    def read(conn: Connection) -> list[Any]:
        return list(price_rows(conn, where))

    return query.history, database_call(read)


def _attachment(response: Response, history: bool, extension: str) -> Response:
    name = "ratecard-price-history" if history else "ratecard-prices"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{extension}"'
    return response

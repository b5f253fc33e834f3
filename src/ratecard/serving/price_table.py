"""The dated price table: one row per source, model, price and period, for a warehouse to
join usage against (`GET /api/prices.csv`, `ratecard prices export`).

Columns: source, model_id, provider, price_name, price, unit, valid_from, valid_to. A price's
name is the change log's flat name (`input_per_token`, `tiers[>200000].input_per_token`,
`variants.batch.input_per_token`, `units.input_per_image`), its value the exact decimal text
the source stated (per token for token prices, `unit` says per what), and its period the span
of the history row that set it: from the row's time to the next row's, `valid_to` empty while
in force. Read from `price_history`, the same rows `?at=` answers from, so an as-of lookup in
the table (valid_from <= t < valid_to) gives the price `GET /api/models/<id>?at=t` serves. A
model's removal ends its last period; a model never priced has no rows (a missing price is
absent, never 0).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from ratecard.catalog.codec import flat_prices, price_unit
from ratecard.catalog.money import decimal_text
from ratecard.schema import models, price_history

COLUMNS = (
    "source",
    "model_id",
    "provider",
    "price_name",
    "price",
    "unit",
    "valid_from",
    "valid_to",
)


@dataclass(frozen=True)
class TableFilter:
    """Which rows: every period (`history`) or the prices in force now; one source, provider or
    model id (exact) each, or all."""

    history: bool = False
    source: str | None = None
    provider: str | None = None
    model: str | None = None


def price_rows(conn: Connection, where: TableFilter) -> Iterator[tuple[str, ...]]:
    """The table's rows as text, ordered by source, model id, period and price name."""
    query = (
        select(
            models.c.source,
            models.c.model_id,
            models.c.provider,
            price_history.c.observed_at,
            price_history.c.new,
        )
        .join(models, models.c.id == price_history.c.model_pk)
        .order_by(
            models.c.source, models.c.model_id, price_history.c.observed_at, price_history.c.id
        )
    )
    if where.source is not None:
        query = query.where(models.c.source == where.source)
    if where.provider is not None:
        query = query.where(models.c.provider == where.provider)
    if where.model is not None:
        query = query.where(models.c.model_id == where.model)
    model_rows: list[Any] = []
    for row in conn.execute(query):
        if model_rows and (row.source, row.model_id) != (
            model_rows[0].source,
            model_rows[0].model_id,
        ):
            yield from _periods(model_rows, where.history)
            model_rows = []
        model_rows.append(row)
    if model_rows:
        yield from _periods(model_rows, where.history)


def _periods(rows: list[Any], history: bool) -> Iterator[tuple[str, ...]]:
    """One model's rows: each history row's prices from its time to the next row's."""
    ends: list[datetime | None] = [r.observed_at for r in rows[1:]] + [None]
    for row, end in zip(rows, ends, strict=True):
        if row.new is None or (not history and end is not None):
            continue  # removed then, or superseded (only what is in force now)
        if end is not None and end == row.observed_at:
            continue  # recorded at the same instant as the next: never in force
        start, stop = _instant(row.observed_at), _instant(end) if end is not None else ""
        for name, value in sorted(flat_prices(row.new).items()):
            yield (
                row.source,
                row.model_id,
                row.provider or "",
                name,
                decimal_text(value),
                price_unit(name),
                start,
                stop,
            )


def _instant(value: datetime) -> str:
    """RFC 3339 UTC, always with microseconds: fixed width, so that the text's order is the
    time's order (a warehouse comparing the column as text gets the as-of join right;
    `instant_text` leaves out a zero fraction, which sorts `...:00Z` after `...:00.5Z`)."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def csv_chunks(rows: Iterable[tuple[str, ...]], rows_per_chunk: int = 2000) -> Iterator[bytes]:
    """The table as CSV (RFC 4180, a header line first), in chunks for a streamed answer."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()

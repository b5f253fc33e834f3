"""The dated price table as Parquet (`GET /api/prices.parquet`, `ratecard prices export
--format parquet`): the rows `price_table.price_rows` gives, typed for a warehouse.

`price` is a Parquet DECIMAL, exact: its scale is the most fractional digits any row's price
has (so no price is rounded) and its precision what the widest one needs, at most 38
(decimal128) and 76 beyond (decimal256). `valid_from` and `valid_to` are UTC timestamps in
microseconds (the table's text has microseconds), `valid_to` null while in force; the other
columns are strings, `provider` null where the source names none.

pyarrow is imported here, by the first export: it costs ~0.1 s and 100 MB of address space
that no other request needs.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ratecard.serving.price_table import COLUMNS

# Parquet's widest decimals: DECIMAL in 16 bytes (38 digits) and in 32 (76 digits).
_DECIMAL128_DIGITS = 38
_DECIMAL256_DIGITS = 76


def parquet_bytes(rows: Iterable[Sequence[str]]) -> bytes:
    """The table's rows (price_table.price_rows' text rows) as one Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: list[list[Any]] = [[] for _ in COLUMNS]
    for source, model_id, provider, name, price, unit, since, until in rows:
        for column, value in zip(
            columns,
            (
                source,
                model_id,
                provider or None,
                name,
                Decimal(price),
                unit,
                _instant(since),
                _instant(until) if until else None,
            ),
            strict=True,
        ):
            column.append(value)
    prices: list[Decimal] = columns[COLUMNS.index("price")]
    schema = pa.schema(
        [
            pa.field("source", pa.string(), nullable=False),
            pa.field("model_id", pa.string(), nullable=False),
            pa.field("provider", pa.string()),
            pa.field("price_name", pa.string(), nullable=False),
            pa.field("price", _decimal_type(pa, prices), nullable=False),
            pa.field("unit", pa.string(), nullable=False),
            pa.field("valid_from", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("valid_to", pa.timestamp("us", tz="UTC")),
        ]
    )
    table = pa.table(columns, schema=schema)
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()


def _decimal_type(pa: Any, prices: list[Decimal]) -> Any:
    """The narrowest Parquet decimal that holds every price exactly."""
    scale = 0
    whole = 1
    for price in prices:
        _sign, digits, exponent = price.as_tuple()
        assert isinstance(exponent, int)  # prices are finite: decimal_text wrote them
        scale = max(scale, -exponent)
        whole = max(whole, len(digits) + exponent)
    precision = max(whole, 1) + scale
    if precision <= _DECIMAL128_DIGITS:
        return pa.decimal128(precision, scale)
    if precision <= _DECIMAL256_DIGITS:
        return pa.decimal256(precision, scale)
    raise ValueError(f"a price needs {precision} digits, more than Parquet's decimals hold")


def _instant(text: str) -> datetime:
    # The table's fixed-width UTC text (price_table._instant): microseconds, a `Z`.
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

"""The dated price table: one row per source, model, price and period, for a warehouse to
join usage against (`GET /api/prices.csv`, `ratecard prices export`).

Columns: source, model_id, provider, price_name, price, unit, valid_from, valid_to. A price's
name is the change log's flat name (`input_per_token`, `tiers[>200000].input_per_token`,
`variants.batch.input_per_token`, `units.input_per_image`), its value the exact decimal text
the source stated (per token for token prices, `unit` says per what), and its period the span
of the history row that set it: from the row's time to the next row's, `valid_to` empty while
in force. Read through `queries.price_timelines` (`PriceTimeline.periods`), the timelines
`?at=` answers from, so an as-of lookup in the table (valid_from <= t < valid_to) gives the
price `GET /api/models/<id>?at=t` serves. A
model's removal ends its last period; a model never priced has no rows (a missing price is
absent, never 0). A source's dated price list splits a row's period at each start
(`dated_spans`), so the table holds a price scheduled ahead with its period too; without
`history`, only the periods in force now.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from ratecard.catalog.codec import flat_price_set, flat_prices, price_unit
from ratecard.catalog.money import decimal_text
from ratecard.schema import models
from ratecard.serving.queries import price_timelines

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
    """The table's rows as text, ordered by source, model id, period and price name: each
    model's periods are its `PriceTimeline`'s, the very rows and tie rule `?at=` answers by."""
    sources = [where.source] if where.source is not None else _sources(conn)
    now = datetime.now(UTC)  # what "in force now" means for the whole table
    for source in sources:
        timelines = price_timelines(conn, source, where.model)
        for model_id in sorted(timelines):
            timeline = timelines[model_id]
            provider = timeline.like.provider if timeline.like is not None else None
            if where.provider is not None and provider != where.provider:
                continue
            for place, (snapshot, start, end) in enumerate(timeline.periods()):
                for prices, begins, ends in dated_spans(snapshot, start, end, first=place == 0):
                    if not where.history and not (begins <= now and (ends is None or now < ends)):
                        continue  # superseded or scheduled: only what is in force now
                    since, until = _instant(begins), _instant(ends) if ends is not None else ""
                    for name, value in sorted(prices.items()):
                        unit = price_unit(name)
                        text = decimal_text(value)
                        yield (source, model_id, provider or "", name, text, unit, since, until)


def dated_spans(
    snapshot: Mapping[str, Any], start: datetime, end: datetime | None, *, first: bool
) -> Iterator[tuple[dict[str, Decimal], datetime, datetime | None]]:
    """A history row's flat prices over its span, split where its dated price list (if the
    source states one) moves the standard prices: each entry's prices under the standard
    names, over the part of the span it covers. The model's first row reaches back to each
    dated entry's start before it, as `?at=` answers then; the entry before every start has
    no start to reach back to, so its period begins at the row."""
    flat = flat_prices(snapshot)
    dated = (snapshot.get("pricing") or {}).get("dated") or ()
    if not dated:
        yield flat, start, end
        return
    standard = flat_price_set(snapshot, "")
    others = {k: v for k, v in flat.items() if k not in standard and not k.startswith("dated[")}
    for index, entry in enumerate(dated):
        begins = _start(entry)
        ends = _start(dated[index + 1]) if index + 1 < len(dated) else None
        since = start if begins is None or (begins <= start and not first) else begins
        until = ends if end is None or (ends is not None and ends < end) else end
        if until is None or since < until:
            yield {**others, **flat_price_set(entry, "")}, since, until


def _start(entry: Mapping[str, Any]) -> datetime | None:
    starts = entry.get("starts")
    return datetime.fromisoformat(starts) if starts else None


def _sources(conn: Connection) -> list[str]:
    return sorted(conn.execute(select(models.c.source).distinct()).scalars())


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

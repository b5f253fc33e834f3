"""`ratecard cost FILE|-`: price a usage log (NDJSON or CSV) with the database's catalog."""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import IO, Any

import click

from ratecard.cli.common import load_settings
from ratecard.errors import RatecardError

_READ_CHUNK = 1024 * 1024
# CSV columns besides the quantities (a CSV row is always the flat form).
_CSV_OPTIONS = ("model", "source", "at", "service_tier", "region", "price_book")


class CannotRun(click.ClickException):
    """The log could not be priced at all (unreadable input, database unavailable): exit 2."""

    exit_code = 2


@click.command()
@click.argument("log", metavar="FILE|-", type=click.File("rb"))
@click.option(
    "--format",
    "log_format",
    type=click.Choice(["ndjson", "csv"]),
    default=None,
    help="The log's format; by default from FILE's extension (.csv is CSV, anything else "
    "and stdin NDJSON).",
)
@click.option(
    "--summary",
    is_flag=True,
    help="Instead of one result a line: per model (and source) the requests priced, those "
    "that failed and their exact total, then the grand total.",
)
@click.option(
    "--price-book",
    "price_book",
    default=None,
    help="Price with this price book (lines that name their own `price_book` keep it).",
)
@click.option(
    "--price-book-version",
    "price_book_version",
    type=click.IntRange(1),
    default=None,
    help="With --price-book: that version of the book (default its current one).",
)
def cost(
    log: IO[bytes],
    log_format: str | None,
    summary: bool,
    price_book: str | None,
    price_book_version: int | None,
) -> None:
    """Price every request of a usage log, one result per line, in order, on stdout.

    NDJSON: one POST /api/cost body a line (flat counts, `usage` or `response`; blank lines
    are skipped). CSV: a header row naming `model` and quantity columns (input_tokens,
    output_tokens, cache_read_tokens, ...), optionally source, at, service_tier and region;
    an empty cell is not given. Each result is the API's answer, or an error object with the
    input's line number (`{"line": N, "error", "status", "detail", "field"}`).

    Prices come from the catalog in DATABASE_URL, as the API serves it (`at` reads the price
    history). Exit status: 0 if every line was priced, 1 if any line got an error object, 2 if
    the log could not be priced at all (bad arguments or settings, an unknown CSV column, the
    database unavailable).
    """
    from ratecard.costing.cost_batch import BatchPricer

    name = getattr(log, "name", "-")
    head = b""
    if log_format is None:
        log_format = "csv" if str(name).lower().endswith(".csv") else "ndjson"
        if log_format == "ndjson":
            head = log.read(_READ_CHUNK)
            if _looks_like_csv(head):
                raise CannotRun(
                    f"{name} looks like CSV (its first line is a header naming `model`), not "
                    "NDJSON: pass --format csv"
                )
    settings = load_settings()
    out = sys.stdout.buffer
    totals = Totals() if summary else None
    if price_book_version is not None and price_book is None:
        raise click.UsageError("--price-book-version needs --price-book")
    default: dict[str, Any] | None = None if price_book is None else {"price_book": price_book}
    if default is not None and price_book_version is not None:
        default["price_book_version"] = price_book_version
    with _catalog_resolver(settings) as (resolve, books):
        pricer = BatchPricer(resolve, books=books, default_book=default)
        pieces: Iterator[bytes]
        if log_format == "csv":
            import orjson

            pieces = (
                orjson.dumps(
                    pricer.result(number, row)
                    if isinstance(row, dict)
                    else pricer.refused(number, row)
                )
                + b"\n"
                for number, row in _csv_rows(log)
            )
        else:
            chunks = iter(lambda: log.read(_READ_CHUNK), b"")
            pieces = pricer.ndjson(itertools.chain([head] if head else [], chunks))
        for piece in pieces:
            if totals is None:
                out.write(piece)
            else:
                totals.add(piece)
    if totals is not None:
        out.write(totals.table().encode())
    out.flush()
    if pricer.failed:
        sys.exit(1)


class Totals:
    """What `--summary` prints: per model and source, requests, failures and the exact total."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], list[Any]] = {}  # (model, source) -> [n, total]
        self.failed = 0

    def add(self, piece: bytes) -> None:
        """Count the results of one piece of the pricer's output (whole lines)."""
        import orjson

        for line in piece.splitlines():
            result = orjson.loads(line)
            if "error" in result:
                self.failed += 1
                continue
            row = self.rows.setdefault((result["model"], result["source"]), [0, Decimal(0)])
            row[0] += 1
            row[1] += Decimal(result["total"])

    def table(self) -> str:
        """The per-model lines, costliest first, and the grand total (thousands separated)."""
        ordered = sorted(self.rows.items(), key=lambda kv: (-kv[1][1], kv[0]))
        lines = [("model", "source", "requests", "total (USD)")]
        lines += [(m, s, f"{n:,}", _money(total)) for (m, s), (n, total) in ordered]
        priced = sum(n for n, _ in self.rows.values())
        grand = sum((total for _, total in self.rows.values()), Decimal(0))
        lines.append(("all models", "", f"{priced:,}", _money(grand)))
        widths = [max(len(line[i]) for line in lines) for i in range(4)]
        text = [
            f"{m:<{widths[0]}}  {s:<{widths[1]}}  {n:>{widths[2]}}  {t:>{widths[3]}}".rstrip()
            for m, s, n, t in lines
        ]
        if self.failed:
            text.append(f"{self.failed:,} request(s) could not be priced (run without --summary)")
        return "\n".join(text) + "\n"


def _money(amount: Decimal) -> str:
    """Exact, with thousands separated: 1,234.5678901 (never rounded)."""
    return f"{amount:,f}"


def _looks_like_csv(head: bytes) -> bool:
    """Whether a log's first non-blank line is a CSV header naming `model` (not JSON)."""
    line = next((raw.strip() for raw in head.splitlines() if raw.strip()), b"")
    line = line.removeprefix(b"\xef\xbb\xbf").strip()  # a BOM, as spreadsheets write
    if not line or line[:1] in (b"{", b"["):
        return False
    return b"model" in (cell.strip().strip(b'"') for cell in line.split(b","))


@contextmanager
def _catalog_resolver(settings: Any) -> Iterator[tuple[Any, Any]]:
    """The database's current catalog as a `Resolver`, and the price books (read as the admin
    reads them: this command has the database itself); the connection is open while in use."""
    from sqlalchemy.exc import SQLAlchemyError

    from ratecard.costing.price_books import BookAccess
    from ratecard.db import build_engine
    from ratecard.serving.book_store import book_answerer
    from ratecard.serving.catalog_cache import newest_snapshot
    from ratecard.serving.prices_at import history_resolver

    engine = build_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            snapshot = newest_snapshot(conn)
            preferred = [s.name for s in settings.sources]
            # As the API resolves `at` (a model no longer served has past prices too), on the
            # one connection this command holds.
            resolver = history_resolver(snapshot, preferred, lambda read: read(conn))
            books = book_answerer(
                lambda read: read(conn), BookAccess(admin=True), settings.price_book_max_chain
            )
            yield resolver, books
    except SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CannotRun(f"database unavailable: {type(exc).__name__}: {first}") from None
    finally:
        engine.dispose()


# The lone surrogates surrogateescape reads an invalid UTF-8 byte as.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def _csv_rows(log: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | RatecardError]]:
    """(line number, request) per CSV row; whole-number cells become numbers. A row that is
    not UTF-8 comes as its error: one bad row (a spreadsheet's Latin-1 name) never stops the
    rest, as one bad NDJSON line does not."""
    import csv
    import io

    from ratecard.costing.usage import QUANTITIES

    # surrogateescape: an invalid byte reads as a lone surrogate instead of raising mid-file.
    text = io.TextIOWrapper(log, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    columns = [column.strip() for column in header]
    unknown = [c for c in columns if c not in _CSV_OPTIONS and c not in QUANTITIES]
    if unknown or "model" not in columns:
        problem = f"unknown column {unknown[0]!r}" if unknown else "no `model` column"
        raise CannotRun(
            f"CSV header: {problem}; columns are model, quantities ({', '.join(QUANTITIES)}) "
            f"and optionally {', '.join(_CSV_OPTIONS[1:])}"
        )
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if any(_NOT_UTF8.search(cell) for cell in row):
            yield (
                reader.line_num,
                RatecardError(
                    f"line {reader.line_num} is not valid UTF-8 (save the file as UTF-8)",
                    field="body",
                ),
            )
            continue
        request: dict[str, Any] = {}
        for column, cell in zip(columns, row, strict=False):
            cell = cell.strip()
            if not cell:
                continue
            # A cell that is not a whole number stays text: the parser says what is wrong.
            whole = column in QUANTITIES and cell.isascii() and cell.isdigit()
            request[column] = int(cell) if whole else cell
        yield reader.line_num, request

"""The dashboard's catalog table: filter, sort and cut the served models (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ratecard.catalog.search import ranked
from ratecard.web.dashboard.format import per_million

# "relevance" (the default): the best match first, as `catalog.search` ranks; the others sort
# by a column.
SORT_KEYS = ("relevance", "id", "provider", "mode", "input", "output", "context", "source")
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
MAX_QUERY = 200


@dataclass(frozen=True)
class TableQuery:
    """What the operator asked for: text, provider, mode, sort column and direction."""

    q: str = ""
    provider: str = ""
    mode: str = ""
    sort: str = "relevance"
    descending: bool = False
    limit: int = DEFAULT_LIMIT

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> TableQuery:
        """Read a query from URL parameters; anything unusable falls back to the default."""
        sort = args.get("sort", "") or "relevance"
        descending = sort.startswith("-")
        sort = sort.lstrip("-")
        try:
            limit = int(args.get("limit", DEFAULT_LIMIT))
        except ValueError:
            limit = DEFAULT_LIMIT
        return cls(
            q=args.get("q", "").strip()[:MAX_QUERY],
            provider=args.get("provider", "").strip()[:MAX_QUERY],
            mode=args.get("mode", "").strip()[:MAX_QUERY],
            sort=sort if sort in SORT_KEYS else "relevance",
            descending=descending and sort in SORT_KEYS and sort != "relevance",
            limit=min(max(limit, 1), MAX_LIMIT),
        )

    def sort_param(self, column: str) -> str:
        """Return the `sort` value a click on `column`'s header should request."""
        if column == self.sort and not self.descending:
            return "-" + column
        return column


@dataclass(frozen=True)
class TableRow:
    """One model as the table shows it."""

    model_id: str
    source: str
    provider: str
    mode: str
    status: str
    context_window: int | None
    input_per_million: str | None
    output_per_million: str | None
    cache_read_per_million: str | None


@dataclass(frozen=True)
class Table:
    """The rows to show, how many matched, and the choices for the filters."""

    rows: tuple[TableRow, ...]
    matched: int
    total: int
    providers: tuple[str, ...]
    modes: tuple[str, ...]


def build_table(models: Sequence[Any], query: TableQuery) -> Table:
    """Filter `models` (ServedModel items of a catalog snapshot) and sort and cut them."""
    filtered = [
        m.price
        for m in models
        if (not query.provider or (m.price.provider or "") == query.provider)
        and (not query.mode or (m.price.mode or "") == query.mode)
    ]
    if query.sort == "relevance":
        ordered = ranked(filtered, query.q)
    else:
        needle = query.q.strip().lower()
        matched = [p for p in filtered if needle in p.model_id.lower()]
        matched.sort(key=lambda p: p.model_id)  # ties in the sort column keep id order
        key = _SORT_FIELDS[query.sort]
        present = [p for p in matched if key(p) is not None]
        missing = [p for p in matched if key(p) is None]  # unpriced last, whatever the direction
        present.sort(key=key, reverse=query.descending)
        ordered = present + missing
    return Table(
        rows=tuple(_row(p) for p in ordered[: query.limit]),
        matched=len(ordered),
        total=len(models),
        providers=_choices(m.price.provider for m in models),
        modes=_choices(m.price.mode for m in models),
    )


def table_data(table: Table) -> dict[str, Any]:
    """Return the table as JSON-safe data."""
    return {
        "matched": table.matched,
        "total": table.total,
        "rows": [row.__dict__ for row in table.rows],
    }


def _row(price: Any) -> TableRow:
    return TableRow(
        model_id=price.model_id,
        source=price.source,
        provider=price.provider or "",
        mode=price.mode or "",
        status=price.status,
        context_window=price.context_window,
        input_per_million=per_million(price.input_per_token),
        output_per_million=per_million(price.output_per_token),
        cache_read_per_million=per_million(price.cache_read_per_token),
    )


def _choices(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(sorted({v for v in values if v}))


def _text_key(value: str | None) -> str | None:
    return value.lower() if value else None


_SORT_FIELDS: dict[str, Any] = {
    "id": lambda p: p.model_id.lower(),
    "provider": lambda p: _text_key(p.provider),
    "mode": lambda p: _text_key(p.mode),
    "source": lambda p: p.source,
    "input": lambda p: p.input_per_token,
    "output": lambda p: p.output_per_token,
    "context": lambda p: p.context_window,
}

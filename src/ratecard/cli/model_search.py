"""`ratecard models search TEXT` and `ratecard models list`: find served models from the shell,
ranked as the dashboard ranks them (`catalog.search`), from the database's newest catalog."""

from __future__ import annotations

import json
from typing import Any

import click

from ratecard.cli.common import load_settings

_LIMIT = 20


@click.group()
def models() -> None:
    """Find served models: by text, or listed by provider and mode."""


@models.command()
@click.argument("text")
@click.option("--limit", default=_LIMIT, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object a model (NDJSON).")
def search(text: str, limit: int, as_json: bool) -> None:
    """Served models matching TEXT, the best match first: the exact id, the same name in other
    sources, then longer names (the maker's own entry before resellers' and platforms')."""
    from ratecard.catalog.search import ranked

    _print(ranked(_served(), text), limit, as_json, f"no served model matches {text!r}")


@models.command(name="list")
@click.option("--provider", default=None, help="Only this provider (as the feed names it).")
@click.option("--mode", default=None, help="Only this mode (chat, embedding, ...).")
@click.option("--source", default=None, help="Only this source.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object a model (NDJSON).")
def list_(
    provider: str | None, mode: str | None, source: str | None, limit: int, as_json: bool
) -> None:
    """Served models, the makers' own chat models first, filtered by provider, mode, source."""
    from ratecard.catalog.search import ranked

    kept = [
        m
        for m in _served()
        if (provider is None or (m.price.provider or "").lower() == provider.lower())
        and (mode is None or m.price.mode == mode)
        and (source is None or m.price.source == source)
    ]
    _print(ranked(kept, ""), limit, as_json, "no served model matches these filters")


def _served() -> tuple[Any, ...]:
    """The served models of the database's newest catalog."""
    from sqlalchemy.exc import SQLAlchemyError

    from ratecard.db import build_engine
    from ratecard.serving.catalog_cache import newest_snapshot

    engine = build_engine(load_settings().database_url)
    try:
        with engine.connect() as conn:
            snapshot = newest_snapshot(conn)
    except SQLAlchemyError as exc:
        raise click.ClickException(f"database unavailable: {type(exc).__name__}") from None
    finally:
        engine.dispose()
    return snapshot.models


def _print(found: list[Any], limit: int, as_json: bool, nothing: str) -> None:
    from ratecard.web.api.presentation import model_item

    if not found:
        raise click.ClickException(nothing)
    shown = found[:limit]
    if as_json:
        for served in shown:
            click.echo(json.dumps(model_item(served)))
        return
    rows = [_row(model_item(served)) for served in shown]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if len(found) > limit:
        click.echo(f"({len(found) - limit} more; --limit shows more)")


def _row(item: dict[str, Any]) -> tuple[str, ...]:
    prices = item["prices"]

    def per_million(name: str) -> str:
        pair = prices.get(name)
        return f"{pair['per_million']}/1M" if pair else "-"

    return (
        item["id"],
        item["source"],
        item["provider"] or "-",
        item["mode"] or "-",
        f"in {per_million('input')}",
        f"out {per_million('output')}",
    )

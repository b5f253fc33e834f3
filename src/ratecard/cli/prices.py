"""`ratecard prices refresh` (one refresh now, in this process) and `ratecard prices show`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ratecard.cli.common import load_settings


@click.group()
def prices() -> None:
    """Refresh and inspect the price catalog."""


@prices.command()
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
def refresh(as_json: bool) -> None:
    """Run one refresh now, in this process (outside the coordinator); exit 1 if every
    configured source failed."""
    from dataclasses import asdict

    from ratecard.extension import RatecardState
    from ratecard.prices.refresh import deps_from_state, refresh_catalog
    from ratecard.runcontrol import UncoordinatedRun

    settings = load_settings()
    state = RatecardState(settings)
    try:
        control = UncoordinatedRun(settings.instance_id, trigger="cli")
        report = refresh_catalog(deps_from_state(state), control)
    finally:
        state.shutdown()
    configured = {s.name for s in settings.sources}
    every_source_failed = not report.committed or all(
        s.outcome == "failed" for s in report.sources if s.source in configured
    )
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2))
    else:
        _print_report(report)
    if every_source_failed:
        sys.exit(1)


def _print_report(report: Any) -> None:
    click.echo(
        f"run {report.run_id}: {report.outcome} in {report.seconds:.2f} s"
        + (f" (catalog version {report.catalog_version})" if report.committed else "")
    )
    for s in report.sources:
        line = (
            f"  {s.source:<14} {s.outcome:<13} fetched {s.fetched:>5}  +{s.added} ~{s.changed} "
            f"-{s.removed}  held {s.held}  rejected {s.rejected}"
        )
        click.echo(line + (f"  error: {s.error}" if s.error else ""))
    if not report.sources and report.error:
        click.echo(f"  error: {report.error}")
    if any(s.source == "bundled" and s.outcome == "bootstrapped" for s in report.sources):
        click.echo("  no source reachable: serving the snapshot bundled with ratecard")


@prices.command()
@click.argument("model")
@click.option("--source", default=None, help="The source, when several list this id.")
@click.option("--json", "as_json", is_flag=True, help="Print the model as the API shows it.")
def show(model: str, source: str | None, as_json: bool) -> None:
    """Show one model's prices (per token and per million), status, source and held change."""
    from sqlalchemy.exc import SQLAlchemyError

    from ratecard.db import build_engine

    settings = load_settings()
    engine = build_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            item = _model_item(conn, model, source, [s.name for s in settings.sources])
    except SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise click.ClickException(f"database unavailable: {type(exc).__name__}: {first}") from None
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(item, indent=2))
        return
    click.echo(f"{item['id']}  ({item['source']}, {item['status']})")
    if item["removed_at"]:
        click.echo(f"  removed from its feed at {item['removed_at']}")
    for name, pair in item["prices"].items():
        click.echo(f"  {name:<12} {pair['per_token']:>26} /token  {pair['per_million']:>16} /1M")
    for tier in item["tiers"]:
        for name, pair in tier["prices"].items():
            click.echo(f"  >{tier['above_tokens']} {name:<10} {pair['per_million']:>16} /1M")
    for unit, value in item["units"].items():
        click.echo(f"  {unit:<12} {value}")
    if item["held_change"]:
        held = item["held_change"]
        click.echo(f"  held change #{held['id']}: {held['reason']}")


def _model_item(conn: Any, model: str, source: str | None, preferred: list[str]) -> Any:
    from sqlalchemy import select

    from ratecard.api.routes import model_item
    from ratecard.prices import codec, queries, store
    from ratecard.prices.catalog import ServedModel
    from ratecard.schema import held_changes

    known = queries.model_sources(conn, model)
    if source is not None and source not in known:
        raise click.ClickException(f"source {source!r} does not list {model!r}")
    if not known:
        raise click.ClickException(f"no model {model!r}")
    rank = {name: i for i, name in enumerate(preferred)}
    rows: dict[str, Any] = {s: queries.get_model_row(conn, s, model) for s in known}
    chosen = source or min(
        known, key=lambda s: (rows[s].removed_at is not None, rank.get(s, len(rank)), s)
    )
    row = rows[chosen]
    state = store.load_source_state(conn, chosen)
    served = ServedModel(
        price=codec.from_row(row),
        last_observed_at=queries.iso(row.last_seen_at),
        last_changed_at=queries.iso(row.last_changed_at),
        rejected_reason=row.rejected_reason,
        rejected_since=queries.iso(row.rejected_since),
    )
    item: dict[str, Any] = model_item(served)
    held = conn.execute(
        select(held_changes).where(
            held_changes.c.source == chosen,
            held_changes.c.model_id == model,
            held_changes.c.status == "pending",
        )
    ).first()
    item["held_change"] = queries.held_row_data(held) if held is not None else None
    item["removed_at"] = queries.iso(row.removed_at)
    item["other_sources"] = [s for s in known if s != chosen]
    item["snapshot_date"] = state.snapshot_date if state else None
    return item

"""`ratecard prices refresh` (one refresh now, in this process), `ratecard prices show` and
`ratecard prices import` (an archived snapshot recorded as a source's state at a past time)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

import click

from ratecard.catalog.model import PRICE_FIELDS
from ratecard.cli.common import load_settings
from ratecard.vocabulary import HeldStatus, SourceOutcome


@click.group()
def prices() -> None:
    """Refresh and inspect the price catalog."""


@prices.command()
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
def refresh(as_json: bool) -> None:
    """Run one refresh now, in this process (outside the coordinator); exit 1 if every
    configured source failed."""
    from dataclasses import asdict

    from ratecard.background import refresh_deps_of
    from ratecard.ingest.refresh import refresh_catalog
    from ratecard.runcontrol import UncoordinatedRun
    from ratecard.services import Services

    settings = load_settings()
    services = Services(settings)
    try:
        control = UncoordinatedRun(settings.instance_id, trigger="cli")
        report = refresh_catalog(refresh_deps_of(services), control)
    finally:
        services.shutdown()
    configured = {s.name for s in settings.sources}
    # A source the bundled snapshot stands in for did not answer either.
    unanswered = (SourceOutcome.FAILED, SourceOutcome.BOOTSTRAPPED)
    every_source_failed = not report.committed or all(
        s.outcome in unanswered for s in report.sources if s.source in configured
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
    for s in report.sources:
        if s.outcome == SourceOutcome.BOOTSTRAPPED:
            click.echo(
                f"  {s.source} has never answered: the snapshot bundled with ratecard stands in "
                "for it until it does"
            )


@prices.command()
@click.argument("model")
@click.option("--source", default=None, help="The source, when several list this id.")
@click.option("--json", "as_json", is_flag=True, help="Print the model as the API shows it.")
def show(model: str, source: str | None, as_json: bool) -> None:
    """Show one model's prices (per token and per million), status, source and held change.

    MODEL is resolved as the API resolves it: the exact id, then case and spaces, then a
    provider prefix added or dropped, then another source's id for the same model."""
    from sqlalchemy.exc import SQLAlchemyError

    from ratecard.db import build_engine

    settings = load_settings()
    engine = build_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            item, stated = _model_item(conn, model, source, [s.name for s in settings.sources])
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(item, indent=2))
        return
    click.echo(f"{item['id']}  ({item['source']}, {item['status']})")
    if item["resolved"]["by"] != "exact":
        click.echo(f"  resolved from {item['resolved']['requested']!r} ({item['resolved']['by']})")
    if item["removed_at"]:
        click.echo(f"  removed from its feed at {item['removed_at']}")
    # The base prices per token and per million, then every other price the model states
    # (tiers, variants, windows, units, uplifts) by its flat name, each with its unit.
    base = [(name, pair["per_token"], pair["per_million"]) for name, pair in item["prices"].items()]
    others = [p for p in stated if p.name not in _BASE_NAMES]
    width = max([len(n) for n, _, _ in base] + [len(p.name) for p in others] + [10])
    for name, per_token, per_million in base:
        click.echo(f"  {name:<{width}}  {per_million:>14} per M tokens  ({per_token} per token)")
    for price in others:
        click.echo(f"  {price.name:<{width}}  {price.value:>14} {price.unit}")
    for rule, value in item["rules"].items():
        click.echo(f"  rule {rule}: {value}")
    if item["held_change"]:
        held = item["held_change"]
        click.echo(f"  held change #{held['id']}: {held['reason']}")
    for linked in item["linked"]:
        pairs = linked["prices"]
        shown = "  ".join(f"{k} {v['per_million']}/1M" for k, v in pairs.items() if k in _BRIEF)
        click.echo(f"  same model: {linked['id']} ({linked['source']})  {shown}".rstrip())
    for dispute in item["disagreements"]:
        fields = ", ".join(
            f"{d['field']} {d['a']} vs {d['b']}" + (f" (x{d['ratio']})" if d["ratio"] else "")
            for d in dispute["fields"]
        )
        click.echo(
            f"  disagrees with {dispute['other']['id']} ({dispute['other']['source']}): {fields}"
        )


_BRIEF = ("input", "output")
# The flat names of the base prices, shown per token too (`codec.stated_prices` names them so).
_BASE_NAMES = frozenset(f.name for f in PRICE_FIELDS)


def _model_item(
    conn: Any, model: str, source: str | None, preferred: list[str]
) -> tuple[dict[str, Any], list[Any]]:
    """The model as the API shows it, and every price it states (`codec.stated_prices`)."""
    from sqlalchemy import select

    from ratecard.catalog import codec
    from ratecard.catalog.identity import Resolution, UnknownModel
    from ratecard.catalog.snapshot import ServedModel
    from ratecard.errors import RatecardError
    from ratecard.ingest import store
    from ratecard.schema import held_changes
    from ratecard.serving import queries
    from ratecard.serving.catalog_cache import newest_snapshot
    from ratecard.timetext import instant_text
    from ratecard.web.api.presentation import identity_fields, model_item

    snapshot = newest_snapshot(conn)
    resolution: Resolution | None = None
    try:
        resolution = snapshot.identity.resolve(model, source, preferred)
        model, source = resolution.price.model_id, resolution.price.source
    except UnknownModel:
        pass  # not served: a removed model is still shown by its exact id
    except RatecardError as exc:
        candidates = exc.extra.get("candidates", [])
        listed = "".join(f"\n  {c['id']} ({c['source']})" for c in candidates)
        raise click.ClickException(exc.detail + listed) from None
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
        last_observed_at=instant_text(row.last_seen_at),
        last_changed_at=instant_text(row.last_changed_at),
        rejected_reason=row.rejected_reason,
        rejected_since=instant_text(row.rejected_since),
    )
    item: dict[str, Any] = model_item(served)
    held = conn.execute(
        select(held_changes).where(
            held_changes.c.source == chosen,
            held_changes.c.model_id == model,
            held_changes.c.status == HeldStatus.PENDING,
        )
    ).first()
    item["held_change"] = queries.held_row_data(held) if held is not None else None
    item["removed_at"] = instant_text(row.removed_at)
    item.update(identity_fields(snapshot, resolution or Resolution(served.price, model, "exact")))
    item["other_sources"] = sorted(set(item["other_sources"]) | {s for s in known if s != chosen})
    item["snapshot_date"] = state.snapshot_date if state else None
    return item, codec.stated_prices(served.price)


@prices.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option(
    "--source",
    "source_name",
    required=True,
    help="The source the file is a snapshot of "
    "(its kind from the name: litellm, openrouter, litellm-eu...).",
)
@click.option(
    "--observed-at",
    "observed_at",
    required=True,
    help="ISO 8601 time the snapshot shows (naive means UTC), e.g. 2026-03-14T00:00:00Z.",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the refresh lease while a refresh runs elsewhere.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
def import_(file: str, source_name: str, observed_at: str, wait: float, as_json: bool) -> None:
    """Record an archived feed FILE as the source's state at --observed-at.

    History stays in time order whatever order snapshots are imported in; current prices
    change only when the snapshot is the source's newest observation. Then it goes through
    the refresh's guard (a suspicious move is held for review, a file that would remove too
    many models is refused), its changes reach the change log and webhooks, and the catalog
    gets a new version and is published. A file that would remove too many of the models
    listed before an older --observed-at is refused too."""
    from datetime import datetime
    from pathlib import Path

    from sqlalchemy.exc import SQLAlchemyError

    from ratecard.background import refresh_deps_of
    from ratecard.ingest.backfill import BackfillError, as_utc, import_snapshot
    from ratecard.ingest.feed_errors import FeedError
    from ratecard.ingest.refresh import publish_committed
    from ratecard.services import Services
    from ratecard.settings import SettingsError, check_source_name, parse_sources
    from ratecard.timetext import instant_text

    try:
        when = as_utc(datetime.fromisoformat(observed_at.strip().replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        raise click.BadParameter(
            f"not an ISO 8601 time: {observed_at!r}", param_hint="--observed-at"
        ) from None
    try:
        check_source_name(source_name)
    except SettingsError as exc:
        raise click.BadParameter(str(exc), param_hint="--source") from None
    settings = load_settings()
    path = Path(file).resolve()
    source = next((s for s in settings.sources if s.name == source_name), None)
    if source is None:
        try:
            (source,) = parse_sources(f"{source_name}={path.as_uri()}")
        except SettingsError as exc:
            raise click.BadParameter(str(exc), param_hint="--source") from None
    from ratecard.coordination.job_runner import confirm_lease, release_quietly

    state = Services(settings)
    acquired = None
    try:
        acquired = _hold_refresh_lease(state, wait)
        deps = refresh_deps_of(state)
        report = import_snapshot(
            state.engine,
            source,
            path.read_bytes(),
            when,
            settings=settings,
            record_changes=deps.record_changes,
            confirm_lease=confirm_lease(acquired),
        )
        published = False
        if report.catalog is not None and report.catalog_version is not None:
            published = publish_committed(deps, report.catalog_version, report.catalog)
    except (BackfillError, FeedError) as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    finally:
        if acquired is not None:
            release_quietly(acquired)
        state.shutdown()
    summary = {
        "source": report.source,
        "observed_at": instant_text(report.observed_at),
        "run_id": report.run_id,
        "newest": report.newest,
        "fetched": report.fetched,
        "rejected": report.rejected,
        "added": report.counts.added,
        "changed": report.counts.changed,
        "removed": report.counts.removed,
        "rebased": report.rebased,
        "held": report.held,
        "catalog_version": report.catalog_version,
        "published": published,
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    where = (
        f"newest observation: current prices set, catalog version {report.catalog_version}"
        if report.newest
        else "older than the newest observation: history only, current prices unchanged"
    )
    click.echo(
        f"imported {report.fetched} models of {report.source} at {summary['observed_at']} "
        f"(run {report.run_id}; {where})"
    )
    click.echo(
        f"  history at that time: +{report.counts.added} ~{report.counts.changed} "
        f"-{report.counts.removed}; later rows re-based: {report.rebased}; "
        f"rejected entries: {report.rejected}"
    )
    if report.held:
        click.echo(
            f"  held for review: {report.held} (not served until accepted: POST "
            "/admin/held/<id>/accept, or the dashboard)"
        )


@prices.command(name="export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, allow_dash=True))
@click.option(
    "--format",
    "form",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="The file's format: CSV (RFC 4180, a header line first) or Parquet (price a "
    "DECIMAL, the times UTC timestamps).",
)
@click.option("--history", is_flag=True, help="Every period a price was in force, not just now.")
@click.option("--source", default=None, help="Only this source's prices.")
@click.option("--provider", default=None, help="Only this provider's models.")
@click.option("--model", default=None, help="Only this model id (exactly as its source lists it).")
def export(
    file: str, form: str, history: bool, source: str | None, provider: str | None, model: str | None
) -> None:
    """Write the dated price table to FILE (- for standard output): one row per source,
    model_id, provider, price_name, price, unit, valid_from, valid_to, exactly what GET
    /api/prices.csv (or .parquet) answers. price_name is the change log's flat name; price the exact
    decimal text (per token for token prices); valid_to is empty while in force."""
    from sqlalchemy.exc import SQLAlchemyError

    from ratecard.services import Services
    from ratecard.serving.price_table import TableFilter, csv_chunks, price_rows

    state = Services(load_settings())
    where = TableFilter(history, source, provider, model)
    try:
        with state.engine.connect() as conn:
            rows = list(price_rows(conn, where))
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    finally:
        state.shutdown()
    if form == "parquet":
        from ratecard.serving.price_parquet import parquet_bytes

        chunks: Iterable[bytes] = [parquet_bytes(rows)]
    else:
        chunks = csv_chunks(rows)
    with click.open_file(file, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
    if file != "-":
        models = len({(r[0], r[1]) for r in rows})
        click.echo(f"wrote {len(rows)} rows ({models} models, {form}) to {file}")


def _unavailable(exc: Exception) -> click.ClickException:
    """A database error as one line naming its type and first line (no SQL, no parameters)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return click.ClickException(f"database unavailable: {type(exc).__name__}: {first}")


def _hold_refresh_lease(state: Any, wait: float) -> Any:
    """Take the refresh lease for the import's duration, waiting up to `wait` seconds.

    Timeline it prevents: refresh R loads litellm's rows at t=0; the import of the newest
    snapshot commits at t=1; R writes at t=2 only the rows its stale t=0 view says changed, so
    the others keep the archive's prices, and R's stored ETag turns every later fetch into a
    304: the mix would be served until the feed changes. Holding the lease, no coordinated
    refresh runs during the import; the import confirms it still holds it inside its commit.
    """
    import time

    from ratecard.coordination.backends import LeaseBackends
    from ratecard.redis_keys import RedisKeys
    from ratecard.vocabulary import JobName

    settings = state.settings
    backends = LeaseBackends(
        lambda: state.redis,
        lambda: state.engine,
        RedisKeys(settings.redis_key_prefix),
        settings.lease_ttl,
    )
    deadline = time.monotonic() + wait
    while True:
        acquired = backends.acquire(JobName.REFRESH, settings.instance_id)
        if acquired is not None:
            return acquired
        if backends.in_use is None:
            raise click.ClickException(f"cannot take the refresh lease: {backends.problem}")
        if time.monotonic() >= deadline:
            raise click.ClickException(
                f"a refresh holds the lease; nothing imported (waited {wait:g} s, see --wait)"
            )
        time.sleep(0.25)

"""One refresh of the catalog: fetch -> parse -> guard -> store (one transaction) -> publish.

The run is recorded in `runs` from its start ('running'), so a crash leaves a trace. Fetching
and parsing happen outside any transaction (they take seconds); everything they produced is
then written in ONE transaction that also records the run's outcome and claims the run's slot
(`control.claim`). Either all of it commits or none of it does: a fenced or cancelled run
leaves prices exactly as they were, and is recorded as such in a separate small transaction.

A source that fails (network, HTTP status, HTML, truncated, wrong shape) contributes nothing
but its recorded reason: the prices it served before stay served.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ratecard import metrics
from ratecard.ingest import run_records, store
from ratecard.ingest.bundled import BUNDLED_META_URL, bundled_snapshot
from ratecard.ingest.feed_errors import FeedError
from ratecard.ingest.feeds import parse_feed
from ratecard.ingest.fetch import fetch_feed, is_http, make_http_client
from ratecard.ingest.run_records import RunInfo, SourceRecord
from ratecard.ingest.store import FeedMeta, SourceCounts
from ratecard.redis_keys import RedisKeys
from ratecard.runcontrol import RunCancelled, RunControl, RunFenced, UncoordinatedRun
from ratecard.serving import queries
from ratecard.serving.publish import encode_catalog, publish_quietly
from ratecard.settings import Settings, Source, redact_url
from ratecard.vocabulary import (
    FRESH_OUTCOMES,
    FeedKind,
    PriceStatus,
    RunOutcome,
    SourceOutcome,
    Trigger,
)

if TYPE_CHECKING:
    import httpx
    from redis import Redis
    from sqlalchemy import Connection, Engine

    from ratecard.ingest.feeds import ParsedFeed
log = logging.getLogger(__name__)


def default_http_client() -> httpx.Client:
    """Return the feed client P1's sources module configures (timeouts, size cap, redirects)."""
    return make_http_client()


class ChangeRecorder(Protocol):
    """Told, inside the transaction that commits them, what a run changed: the composition
    root wires it to the change log (`changes.changelog.record_changes`), which logs the
    run's history rows and holds and writes the webhook messages announcing them."""

    def __call__(
        self, conn: Connection, run_id: int, now: datetime, *, released: Sequence[int] = ()
    ) -> object: ...


@dataclass
class RefreshDeps:
    """Everything a refresh (and a held review) talks to, passed in.

    Built by `ratecard.background.refresh_deps` for the coordinator, the CLI and the tests
    alike, so the change log hook is never left out.
    """

    engine: Engine
    redis: Redis | None
    settings: Settings
    keys: RedisKeys
    # Called after the fence claim, in the committing transaction: a fenced run tells nothing.
    record_changes: ChangeRecorder
    http_client_factory: Callable[[], httpx.Client] = default_http_client
    # Called with the committed catalog data (e.g. CatalogCache.install) after the commit.
    on_committed: Callable[[Mapping[str, Any]], None] | None = None
    # Skip parsing a body byte-identical to the last accepted one (no held change pending).
    skip_identical_body: bool = True
    # Extra keyword arguments for fetch.fetch_feed (max_bytes, attempts, backoff).
    fetch_options: Mapping[str, Any] = field(default_factory=dict)
    # The time a source is read at: what a dated price is in force by, and whether one the
    # last read saw ahead has started (tests move it past a start).
    clock: Callable[[], datetime] = store.utcnow


@dataclass
class SourceReport:
    """What happened to one source in a run (as recorded in `run_sources`)."""

    source: str
    outcome: str
    fetched: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    held: int = 0
    rejected: int = 0
    stale: int = 0  # served models kept at their last good prices (their entry was rejected)
    dropped: int = 0  # bad secondary fields left out (their last good value kept)
    error: str | None = None


@dataclass
class RefreshReport:
    """The result of one refresh run."""

    run_id: int | None
    outcome: str
    committed: bool
    error: str | None
    catalog_version: int | None
    sources: list[SourceReport] = field(default_factory=list)
    published: bool = False
    seconds: float = 0.0


@dataclass
class _Fetched:
    """A source after fetch and parse, before the transaction."""

    source: Source
    started_at: datetime
    status: str  # ok | not-modified | identical | failed
    parsed: ParsedFeed | None = None
    meta: FeedMeta | None = None
    error: str | None = None


def refresh_catalog(deps: RefreshDeps, control: RunControl | None = None) -> RefreshReport:
    """Run one refresh now; never raises for feed or database trouble (see the report)."""
    from sqlalchemy.exc import SQLAlchemyError

    control = control or UncoordinatedRun(deps.settings.instance_id, trigger=Trigger.CLI)
    started = time.monotonic()
    info = RunInfo(control.job, control.slot, control.fence, control.instance_id, control.trigger)
    try:
        run_id = run_records.start_run(deps.engine, info)
    except SQLAlchemyError as exc:
        error = f"database unavailable: {_short(exc)}"
        log.warning("refresh not started: %s", error)
        metrics.observe_refresh(RunOutcome.FAILED, time.monotonic() - started)
        return RefreshReport(None, RunOutcome.FAILED, False, error, None)
    try:
        fetched = _fetch_all(deps, control)
        control.checkpoint()
        report, data = _commit(deps, control, run_id, fetched)
    except RunFenced as exc:
        return _abandoned(deps, run_id, RunOutcome.FENCED, exc, started)
    except RunCancelled as exc:
        return _abandoned(deps, run_id, RunOutcome.CANCELLED, exc, started)
    except Exception as exc:
        log.exception("refresh run %s failed", run_id)
        return _abandoned(deps, run_id, RunOutcome.FAILED, exc, started)
    report.published = publish_committed(deps, run_id, data)
    report.seconds = time.monotonic() - started
    _observe(report, data)
    log.info(
        "refresh run %s: %s in %.2f s",
        run_id,
        report.outcome,
        report.seconds,
        extra={"run_id": run_id, "outcome": report.outcome},
    )
    return report


# --- fetch and parse (no transaction open) ---------------------------------------------------


def _fetch_all(deps: RefreshDeps, control: RunControl) -> list[_Fetched]:
    with deps.engine.connect() as conn:
        previous = {s.name: store.load_source_state(conn, s.name) for s in deps.settings.sources}
        pending = {s.name: store.has_pending_held(conn, s.name) for s in deps.settings.sources}
    results = []
    # Only http(s) sources need the client: building it imports httpx and loads the CA
    # bundle into an SSL context (measured ~100 ms), wasted on file:// and package:// feeds.

    needs_http = any(is_http(source) for source in deps.settings.sources)
    with deps.http_client_factory() if needs_http else contextlib.nullcontext() as client:
        for source in deps.settings.sources:
            control.checkpoint()
            results.append(
                _fetch_one(
                    deps, source, client, previous[source.name], pending[source.name], control
                )
            )
    return results


def _fetch_one(
    deps: RefreshDeps,
    source: Source,
    client: httpx.Client | None,
    previous: FeedMeta | None,
    has_pending: bool,
    control: RunControl,
) -> _Fetched:
    started = deps.clock()
    # A pending held change is confirmed only by re-reading the feed: a 304 or an identical
    # body must not short-circuit the guard then, so no validators are sent. Nor once a dated
    # price the last parse saw ahead has started. Timeline this prevents: genai-prices lists
    # a price from 1 September; the file does not change for weeks; every run gets a 304 (or
    # an identical body) and never parses again, so the old price stays served, and the
    # change is never logged, long after the provider bills the new one.
    read_again_at = previous.read_again_at if previous is not None else None
    due = read_again_at is not None and read_again_at <= started
    conditional = (
        previous is not None
        and not has_pending
        and previous.url == redact_url(source.url)
        and not due
    )
    try:
        result = fetch_feed(
            source,
            client,
            etag=previous.etag if conditional and previous else None,
            last_modified=previous.last_modified if conditional and previous else None,
            checkpoint=control.checkpoint,
            **deps.fetch_options,
        )
        if result.status == SourceOutcome.NOT_MODIFIED:
            return _Fetched(source, started, SourceOutcome.NOT_MODIFIED)
        body = result.body if result.body is not None else b""
        sha = hashlib.sha256(body).hexdigest()
        meta = FeedMeta(
            url=redact_url(source.url),
            etag=result.etag,
            last_modified=result.last_modified,
            content_sha256=sha,
            snapshot_date=previous.snapshot_date if previous else None,
            read_again_at=previous.read_again_at if previous else None,
        )
        if conditional and deps.skip_identical_body and previous and previous.content_sha256 == sha:
            return _Fetched(source, started, "identical", meta=meta)
        control.checkpoint()
        parsed = parse_feed(source, body, now=started)
    except FeedError as exc:
        return _Fetched(source, started, SourceOutcome.FAILED, error=exc.reason)
    except RunCancelled:
        raise
    except Exception as exc:
        # A bug or an unexpected library error: this source fails, the others go on.
        log.exception("unexpected error reading source %s", source.name)
        return _Fetched(
            source, started, SourceOutcome.FAILED, error=f"unexpected error: {_short(exc)}"
        )
    meta = dataclasses.replace(
        meta, snapshot_date=parsed.snapshot_date, read_again_at=parsed.read_again_at
    )
    return _Fetched(source, started, "ok", parsed=parsed, meta=meta)


# --- store (one transaction) -----------------------------------------------------------------


def _commit(
    deps: RefreshDeps, control: RunControl, run_id: int, fetched: list[_Fetched]
) -> tuple[RefreshReport, dict[str, Any]]:
    now = store.utcnow()
    with deps.engine.begin() as conn:
        records = [_store_source(deps, conn, f, run_id, now) for f in fetched]
        _stand_in(deps, conn, fetched, records, run_id, now)
        reached = [r for r in records if r.outcome not in _UNANSWERED]
        if any(r.outcome != SourceOutcome.QUARANTINED for r in reached):
            # Versions before the stand-in served the bundled snapshot as a source of its own:
            # its rows go once a feed answers, as they always did.
            retired = store.retire_source(conn, store.LEGACY_BUNDLED_SOURCE, run_id, now)
            if retired:
                records.append(
                    SourceRecord(
                        store.LEGACY_BUNDLED_SOURCE,
                        now,
                        "retired",
                        now,
                        counts=SourceCounts(removed=retired),
                    )
                )
        outcome = _run_outcome(records, configured=len(fetched))
        error = "; ".join(f"{r.source}: {r.error}" for r in records if r.error) or None
        run_records.record_sources(conn, run_id, records)
        run_records.finish_run(conn, run_id, outcome, error=error, catalog_version=run_id, now=now)
        # The fence, inside the transaction that commits the results (and also when every
        # source failed: recording that failure completes the period). Timeline it prevents:
        # runner A fetches for slot 7 and stalls past its lease; runner B takes the lease,
        # refreshes and commits slot 7; A wakes and reaches this point. Its claim finds slot 7
        # already completed and raises RunFenced, so A's stale prices roll back with
        # everything else it wrote here, instead of overwriting B's newer ones.
        control.claim(conn, run_id)
        control.checkpoint()
        # What changed, told in this same transaction and after the fence: a fenced run
        # leaves no change-log entry and no webhook message (see ratecard.changes.outbox).
        deps.record_changes(conn, run_id, now)
        data = queries.load_catalog_data(conn, run_id)
    report = RefreshReport(
        run_id=run_id,
        outcome=outcome,
        committed=True,
        error=error,
        catalog_version=run_id,
        sources=[_source_report(r) for r in records],
    )
    return report, data


def _store_source(
    deps: RefreshDeps,
    conn: Connection,
    fetched: _Fetched,
    run_id: int,
    now: datetime,
    *,
    answered: bool = True,
) -> SourceRecord:
    """Guard and store one fetched source; `answered=False` for the bundled stand-in (its
    feed did not answer: no success is recorded for it)."""
    name = fetched.source.name
    record = SourceRecord(name, fetched.started_at, fetched.status, now, error=fetched.error)
    if fetched.status == SourceOutcome.FAILED:
        store.save_source_state(conn, name, None, now=now, success=False)
        return record
    if fetched.status in (SourceOutcome.NOT_MODIFIED, "identical"):
        record.outcome = (
            SourceOutcome.NOT_MODIFIED
            if fetched.status == SourceOutcome.NOT_MODIFIED
            else SourceOutcome.UNCHANGED
        )
        store.save_source_state(conn, name, fetched.meta, now=now, success=True)
        return record
    parsed = fetched.parsed
    assert parsed is not None  # status "ok" always carries the parsed feed
    decision, record.counts = store.guard_and_apply(
        conn, name, parsed, deps.settings, run_id=run_id, now=now
    )
    record.fetched = len(parsed.models)
    record.rejected = len(parsed.rejected)
    record.unknown_fields = parsed.unknown_fields
    record.problems = [
        {"model_id": r.model_id, "field": None, "reason": r.reason} for r in parsed.rejected
    ] + [{"model_id": d.model_id, "field": d.field, "reason": d.reason} for d in parsed.dropped]
    if decision.quarantined:
        record.outcome = SourceOutcome.QUARANTINED
        record.error = decision.quarantine_reason
        # No validators saved: the next run must re-read and re-judge the whole feed.
        store.save_source_state(conn, name, None, now=now, success=False)
    else:
        record.outcome = (
            SourceOutcome.SUCCESS if record.counts.any_change else SourceOutcome.UNCHANGED
        )
        store.save_source_state(conn, name, fetched.meta, now=now, success=answered)
    return record


def _stand_in(
    deps: RefreshDeps,
    conn: Connection,
    fetched: list[_Fetched],
    records: list[SourceRecord],
    run_id: int,
    now: datetime,
) -> None:
    """Serve the bundled snapshot in the first LiteLLM source's place when that feed failed
    and has never been served (see `bundled`): its record becomes `bootstrapped`, the reason
    the feed failed kept. A feed served before keeps its last good prices instead."""
    index = next((i for i, f in enumerate(fetched) if f.source.kind == FeedKind.LITELLM), None)
    if index is None or records[index].outcome != SourceOutcome.FAILED:
        return
    feed = fetched[index].source
    if store.load_source_rows(conn, feed.name):
        return
    source, body, snapshot_date = bundled_snapshot(feed)
    stand_in = _Fetched(
        source,
        now,
        "ok",
        parsed=parse_feed(source, body),
        meta=FeedMeta(url=BUNDLED_META_URL, snapshot_date=snapshot_date),
    )
    log.warning(
        "%s has never answered: serving the bundled %s snapshot in its place until it does",
        feed.name,
        snapshot_date,
    )
    record = _store_source(deps, conn, stand_in, run_id, now, answered=False)
    record.outcome = SourceOutcome.BOOTSTRAPPED
    record.started_at = records[index].started_at
    record.error = records[index].error
    records[index] = record


# A source that did not answer: failed, or failed with the bundled snapshot in its place.
_UNANSWERED = (SourceOutcome.FAILED, SourceOutcome.BOOTSTRAPPED)


def _run_outcome(records: list[SourceRecord], configured: int) -> str:
    """Summarize per-source outcomes (the first `configured` records) into the run's outcome."""
    own = records[:configured]
    failed = sum(r.outcome in _UNANSWERED for r in own)
    if failed == configured:
        if any(r.outcome == SourceOutcome.BOOTSTRAPPED for r in own):
            return RunOutcome.PARTIAL
        return RunOutcome.FAILED
    if failed:
        return RunOutcome.PARTIAL
    if any(r.outcome == SourceOutcome.QUARANTINED for r in own):
        return RunOutcome.QUARANTINED
    if any(r.counts.any_change for r in records):
        return RunOutcome.SUCCESS
    return RunOutcome.UNCHANGED


def _source_report(record: SourceRecord) -> SourceReport:
    return SourceReport(
        source=record.source,
        outcome=record.outcome,
        fetched=record.fetched,
        added=record.counts.added,
        changed=record.counts.changed,
        removed=record.counts.removed,
        held=record.counts.held,
        rejected=record.rejected,
        stale=record.counts.stale,
        dropped=sum(1 for p in record.problems if p["field"] is not None),
        error=record.error,
    )


# --- after the commit ------------------------------------------------------------------------


def publish_committed(deps: RefreshDeps, version: int, data: Mapping[str, Any]) -> bool:
    """Publish committed catalog `version` to Redis and hand it to `on_committed`; return
    whether Redis took it (other instances learn of it there, or at their next reconcile)."""
    published = publish_quietly(deps.redis, deps.keys, version, encode_catalog(data))
    if deps.on_committed is not None:
        deps.on_committed(data)
    return published


def _observe(report: RefreshReport, data: Mapping[str, Any]) -> None:
    metrics.observe_refresh(report.outcome, report.seconds)
    if report.outcome in FRESH_OUTCOMES:
        metrics.set_last_refresh_success(time.time())
    counts: dict[str, int] = dict.fromkeys(PriceStatus, 0)
    for item in data.get("models", ()):
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    metrics.set_catalog_size(counts)


def _abandoned(
    deps: RefreshDeps, run_id: int, outcome: str, exc: BaseException, started: float
) -> RefreshReport:
    error = _short(exc) or outcome
    try:
        run_records.abandon_run(deps.engine, run_id, outcome, error)
    except Exception as record_exc:
        log.warning("could not record run %s as %s: %s", run_id, outcome, _short(record_exc))
    log.warning("refresh run %s %s: %s", run_id, outcome, error)
    seconds = time.monotonic() - started
    metrics.observe_refresh(outcome, seconds)
    return RefreshReport(run_id, outcome, False, error, None, seconds=seconds)


def _short(exc: BaseException) -> str:
    """One line naming the error, without the SQL or parameters a driver error drags along."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"[:300] if first else type(exc).__name__

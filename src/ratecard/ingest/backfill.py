"""Backfill: record an archived feed snapshot as its source's state at a past time T.

`ratecard prices import FILE --source NAME --observed-at T` lets a user who starts today price
last month's usage from, say, the LiteLLM repository's history. The rules:

- History is a function of the *set* of observations, never of the order they were recorded
  in: importing March then July, or July then March, leaves identical history rows, but for
  what the guard holds (in time order July is judged against March, as a refresh would judge
  it, and its suspicious moves wait for review; imported first, July is a first load).
- A snapshot is judged as a feed is: when T is the newest observation it goes through the
  refresh's guard (`store.guard_and_apply`: a suspicious move is held for review, a feed that
  would remove too many models is refused) and its changes reach the change log, the Atom
  feed and webhooks like a refresh's. An older snapshot serves nothing, so nothing is held or
  announced, but a file that would remove more than RATECARD_QUARANTINE_REMOVED_FRACTION of
  the models listed before T (a file of the wrong kind, say) is refused, and an entry the
  parser rejects leaves that model's history as it was.
- History rows a change-log entry points at are never deleted (the entry would go with its
  row, and subscribers' cursors would skip it): see `_insert_in_past`.
- Current prices change only when T is the source's newest observation. An older snapshot
  is slotted into the past: a row at T (state before T -> the snapshot), and the next change
  point re-based on the snapshot (its `old` becomes the snapshot's prices; dropped if it no
  longer changes anything). The served `models` rows keep their values, so the next refresh
  diffs the live feed against exactly what it diffed against before: nothing backfilled is
  ever re-diffed as a change.
- An observation of a source is a run_sources row that applied (or re-confirmed) the feed:
  success, unchanged, not-modified, imported. Its `finished_at` is the history time refreshes
  write. Between two observations the state is constant, which is why the next observation
  after T needs a row of its own when the model had no change there (timeline: observed p at
  t1 and at t3, nothing written at t3; importing q at t2 must also write q -> p at t3, or
  `price_at(t3)` would answer q; recorded in order t1, t2, t3 that row exists too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, select, update

from ratecard.catalog import codec
from ratecard.catalog.model import ModelPrice
from ratecard.db import bulk_insert
from ratecard.ingest import run_records, store
from ratecard.ingest.feeds import ParsedFeed, parse_feed
from ratecard.ingest.run_records import RunInfo, SourceRecord
from ratecard.ingest.store import SourceCounts
from ratecard.schema import changes, job_state, models, price_history, run_sources, source_state
from ratecard.serving import queries
from ratecard.settings import Settings, Source
from ratecard.timetext import instant_text
from ratecard.vocabulary import (
    OBSERVED_OUTCOMES,
    ChangeKind,
    JobName,
    RunOutcome,
    SourceOutcome,
    Trigger,
)

if TYPE_CHECKING:
    from ratecard.ingest.refresh import ChangeRecorder

# The job whose commit generation imports share with refreshes (see _claim_generation).
REFRESH_JOB = JobName.REFRESH


class BackfillError(Exception):
    """The snapshot cannot be recorded at that time (the reason says why)."""


@dataclass
class ImportReport:
    """What one import recorded."""

    source: str
    observed_at: datetime
    run_id: int
    newest: bool  # T was the source's newest observation: current prices were set from it
    fetched: int
    rejected: int
    counts: SourceCounts = field(default_factory=SourceCounts)
    rebased: int = 0  # later history rows re-based on the snapshot (or dropped)
    held: int = 0  # moves the guard held for review (newest only)
    catalog_version: int | None = None
    catalog: dict[str, Any] | None = None  # the committed catalog when current prices moved


def import_snapshot(
    engine: Engine,
    source: Source,
    body: bytes,
    observed_at: datetime,
    *,
    settings: Settings,
    record_changes: ChangeRecorder,
    now: datetime | None = None,
    confirm_lease: Callable[[Connection], bool] | None = None,
) -> ImportReport:
    """Record `body` (a feed of `source`'s kind) as `source`'s state at `observed_at`.

    `settings` gives the guard's limits and the instance id; `record_changes` is the change
    log's hook, the refresh's (`RefreshDeps.record_changes`). `confirm_lease(conn)`, when
    given, is asked inside the committing transaction whether the refresh lease the caller
    holds is still its own; False rolls everything back.
    """
    parsed = parse_feed(source, body)  # FeedError: the file is not a usable feed
    when = as_utc(observed_at)
    now = now or store.utcnow()
    if when > now:
        raise BackfillError(f"--observed-at {instant_text(when)} is in the future")
    info = RunInfo(job=JobName.IMPORT, instance_id=settings.instance_id, trigger=Trigger.CLI)
    run_id = run_records.start_run(engine, info, now)
    run = _Run(source, parsed, when, run_id, now, settings, record_changes, confirm_lease)
    try:
        return _record(engine, run)
    except BaseException as exc:
        why = str(exc)[:300] or type(exc).__name__
        run_records.abandon_run(engine, run_id, RunOutcome.FAILED, why)
        raise


def as_utc(value: datetime) -> datetime:
    """A naive time is UTC (as everywhere in ratecard)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class _Run:
    """One import: what it records, when, and what it is judged and announced with."""

    source: Source
    parsed: ParsedFeed
    when: datetime
    run_id: int
    now: datetime
    settings: Settings
    record_changes: ChangeRecorder
    confirm_lease: Callable[[Connection], bool] | None


def _record(engine: Engine, run: _Run) -> ImportReport:
    name, parsed, when, run_id, now = run.source.name, run.parsed, run.when, run.run_id, run.now
    with engine.begin() as conn:
        generation = queries.refresh_generation(conn)
        observations = observation_times(conn, name)
        if when in observations:
            raise BackfillError(
                f"{name} already has an observation at {instant_text(when)}; "
                "an import records a state nobody has recorded yet"
            )
        next_observation = min((t for t in observations if t > when), default=None)
        later_change = _first_change_after(conn, name, when)
        newest = next_observation is None and later_change is None
        report = ImportReport(name, when, run_id, newest, len(parsed.models), len(parsed.rejected))
        if newest:
            report.counts = _apply_as_current(conn, run)
            report.held = report.counts.held
        else:
            # Where the state before T resumes: the next observation; failing that (only an
            # admin's accepted change lies after T), that change.
            boundary = next_observation or later_change
            assert boundary is not None  # not newest: one of the two exists
            report.counts, report.rebased = _insert_in_past(conn, run, boundary, next_observation)
        record = SourceRecord(
            name, now, SourceOutcome.IMPORTED, when, report.fetched, report.rejected
        )
        record.counts = report.counts
        run_records.record_sources(conn, run_id, [record])
        version = run_id if newest else None
        run_records.finish_run(conn, run_id, RunOutcome.IMPORTED, catalog_version=version, now=now)
        _claim_generation(conn, generation)
        if run.confirm_lease is not None and not run.confirm_lease(conn):
            raise BackfillError(
                "the refresh lease expired during the import (it took longer than "
                "RATECARD_LEASE_TTL); nothing was recorded, re-run it"
            )
        if newest:
            # Told after the fence and the lease check, in the committing transaction, as a
            # refresh tells it: an import rolled back leaves no entry and no webhook message.
            # An older snapshot changes nothing served, so it announces nothing.
            run.record_changes(conn, run_id, now)
            report.catalog_version = version
            report.catalog = queries.load_catalog_data(conn, version)
    return report


def observation_times(conn: Connection, source: str) -> set[datetime]:
    """Return every time `source`'s feed was observed and applied (refreshes and imports)."""
    query = select(run_sources.c.finished_at).where(
        run_sources.c.source == source,
        run_sources.c.outcome.in_(OBSERVED_OUTCOMES),
        run_sources.c.finished_at.is_not(None),
    )
    return set(conn.execute(query).scalars())  # UTC: schema's Timestamp type


def _first_change_after(conn: Connection, source: str, when: datetime) -> datetime | None:
    """The first history time after `when` (an admin's accepted change counts, too)."""
    query = (
        select(func.min(price_history.c.observed_at))
        .join(models, models.c.id == price_history.c.model_pk)
        .where(models.c.source == source, price_history.c.observed_at > when)
    )
    value: datetime | None = conn.execute(query).scalar()  # UTC: min() keeps Timestamp's type
    return value


# --- the fence shared with refreshes ---------------------------------------------------------


def _claim_generation(conn: Connection, generation: int) -> None:
    """Commit only if no refresh or import committed since this one read the catalog.

    Timeline it prevents: import I reads litellm's rows and history at t=0; a manual refresh
    R commits new prices at t=1; I writes at t=2 a diff computed against the t=0 state, so its
    history rows would carry `old` prices that were no longer served. Every committed run bumps
    `job_state.generation`; I bumps it only if it is still what I read, else rolls back and the
    user re-runs the import against the new state. A scheduled refresh is fenced by its slot,
    not the generation: `ratecard prices import` therefore also holds the refresh lease (see
    cli/prices.py), so no coordinated refresh runs while it does.
    """
    if conn.execute(select(job_state.c.job).where(job_state.c.job == REFRESH_JOB)).first() is None:
        if generation != 0:
            raise BackfillError("the refresh job's state vanished during the import; re-run it")
        conn.execute(job_state.insert().values(job=REFRESH_JOB, last_slot=-1, generation=1))
        return
    moved = conn.execute(
        update(job_state)
        .where(job_state.c.job == REFRESH_JOB, job_state.c.generation == generation)
        .values(generation=job_state.c.generation + 1)
    )
    if moved.rowcount != 1:
        raise BackfillError("a refresh committed while importing; nothing was recorded, re-run")


# --- T is the newest observation: an ordinary apply at T -------------------------------------


def _apply_as_current(conn: Connection, run: _Run) -> SourceCounts:
    """Serve the snapshot from T on, with history, exactly as a refresh at T would: through
    the same guard. Timeline it prevents: an archive whose gpt-4o price is 1000x off (a typo
    in the file, or the wrong file) is served at once; the next live refresh then sees the
    correct price as a 1000x move and holds it, so the wrong price stays served until an
    admin notices. Held here, the wrong price is never served and the live one applies."""
    name = run.source.name
    decision, counts = store.guard_and_apply(
        conn, name, run.parsed, run.settings, run_id=run.run_id, now=run.when
    )
    if decision.quarantined:
        raise BackfillError(
            f"{name}: {decision.quarantine_reason}: nothing was recorded "
            f"(is the file a {run.source.kind} feed?)"
        )
    when = run.when
    # Timeline the cleared validators prevent: a refresh at t1 stores ETag E; an import at t2
    # (newest) serves an archived snapshot; the refresh at t3 sends If-None-Match E, gets 304
    # and keeps serving the archive as if it were the live feed. Without validators, t3
    # re-reads and diffs the live feed.
    values = {
        "last_success_at": when,
        "etag": None,
        "last_modified": None,
        "content_sha256": None,
        "snapshot_date": run.parsed.snapshot_date,
    }
    done = conn.execute(update(source_state).where(source_state.c.source == name).values(values))
    if done.rowcount == 0:
        conn.execute(source_state.insert().values(source=name, **values))
    return counts


# --- T is older: slot the snapshot into the past ---------------------------------------------


@dataclass
class _Row:
    id: int
    observed_at: datetime
    change: str
    old: Any
    new: Any


def _insert_in_past(
    conn: Connection, run: _Run, boundary: datetime, next_observation: datetime | None
) -> tuple[SourceCounts, int]:
    """Write the snapshot's rows at T and re-base the next change point; models rows stay.

    A next change point the snapshot makes a no-op is dropped, but the change-log entry that
    points at it is moved first to the row written at T, which is the same move (the state
    before T to the snapshot's) now dated where it happened. Timeline it prevents: a refresh
    at t3 logs "gpt-4o 5 -> 2.5" as entry 40 and webhooks deliver it; an import of t2 (already
    2.5) drops the t3 row, and its ON DELETE CASCADE took entry 40 with it: a poller that
    re-reads from 39 never sees it again, and the feed has a hole. A re-based row keeps its
    entry, which then shows the re-based old price: the log reads from history, it does not
    copy it (see changes.changelog).
    """
    name, when, run_id = run.source.name, run.when, run.run_id
    snapshot = run.parsed.models
    rejected = {r.model_id for r in run.parsed.rejected}
    rows = store.load_source_rows(conn, name)
    history = _history_by_model(conn, name)
    boundary_run = _run_at(conn, name, boundary) if boundary == next_observation else None
    counts = SourceCounts()
    new_models = [p for mid, p in snapshot.items() if mid not in rows]
    pks = {mid: r.pk for mid, r in rows.items()}
    pks.update(_insert_removed_models(conn, new_models, run_id, when, boundary))
    inserts: list[dict[str, Any]] = []
    rebases: list[dict[str, Any]] = []
    drops: dict[int, int] = {}  # history row id -> its model's pk
    listed_before = lost = 0
    for model_id in sorted(set(rows) | set(snapshot)):
        pk = pks[model_id]
        entries = history.get(pk, [])
        before = [e for e in entries if e.observed_at <= when]
        state_before = before[-1].new if before else None
        price = snapshot.get(model_id)
        if state_before is not None:
            listed_before += 1
            if price is None and model_id in rejected:
                # A garbage entry is a bad value, not a retirement (as in the guard): the
                # model's history before and after T stays as it was.
                continue
            lost += price is None
        state_at = codec.to_snapshot(price) if price is not None else None
        if state_before == state_at:
            continue  # the snapshot confirms what history already says
        inserts.append(_history(pk, run_id, when, state_before, state_at))
        _count(counts, state_before, state_at)
        after = [e for e in entries if e.observed_at > when]
        following = after[0] if after else None
        if following is not None and following.observed_at <= boundary:
            # The next change point started from state_before; it now starts from the snapshot.
            if following.new == state_at:
                drops[following.id] = pk
            else:
                rebases.append({"b_id": following.id, "old": state_at})
        else:
            # No row at the next observation: the model did not change then, so the state it
            # re-confirmed (state_before) must be written back explicitly.
            inserts.append(_history(pk, boundary_run, boundary, state_at, state_before))
    limit = run.settings.quarantine_removed_fraction
    if listed_before and lost > limit * listed_before:
        raise BackfillError(
            f"{name}: the snapshot would remove {lost} of the {listed_before} models listed "
            f"before {instant_text(when)} ({lost / listed_before:.0%}), more than the "
            f"{limit:.0%} RATECARD_QUARANTINE_REMOVED_FRACTION allows: nothing was recorded "
            f"(is the file a {run.source.kind} feed?)"
        )
    bulk_insert(conn, price_history, inserts)
    if rebases:
        conn.execute(update(price_history).where(price_history.c.id == bindparam("b_id")), rebases)
    if drops:
        _move_entries(conn, drops, run_id, when)
        conn.execute(delete(price_history).where(price_history.c.id.in_(list(drops))))
    present = [pks[mid] for mid in snapshot]
    _move_first_seen(conn, present, when)
    touched = {row["model_pk"] for row in inserts} | _pks_of(conn, [r["b_id"] for r in rebases])
    relabel(conn, touched)
    return counts, len(rebases) + len(drops)


def _move_entries(conn: Connection, drops: Mapping[int, int], run_id: int, when: datetime) -> None:
    """Point the change-log entries of the dropped rows at the rows written at T instead."""
    query = select(price_history.c.id, price_history.c.model_pk).where(
        price_history.c.run_id == run_id,
        price_history.c.observed_at == when,
        price_history.c.model_pk.in_(set(drops.values())),
    )
    at_when = {row.model_pk: row.id for row in conn.execute(query)}
    moves = [{"b_old": row_id, "b_new": at_when[pk]} for row_id, pk in drops.items()]
    conn.execute(
        update(changes)
        .where(changes.c.history_id == bindparam("b_old"))
        .values(history_id=bindparam("b_new")),
        moves,
    )


def _history(pk: int, run_id: int | None, when: datetime, old: Any, new: Any) -> dict[str, Any]:
    return {
        "model_pk": pk,
        "run_id": run_id,
        "observed_at": when,
        # Provisional: relabel() settles it from the model's whole history.
        "change": _label(old, new, seen=False),
        "old": old,
        "new": new,
    }


def _count(counts: SourceCounts, old: Any, new: Any) -> None:
    if old is None:
        counts.added += 1
    elif new is None:
        counts.removed += 1
    else:
        counts.changed += 1


def _history_by_model(conn: Connection, name: str) -> dict[int, list[_Row]]:
    query = (
        select(
            price_history.c.id,
            price_history.c.model_pk,
            price_history.c.observed_at,
            price_history.c.change,
            price_history.c.old,
            price_history.c.new,
        )
        .join(models, models.c.id == price_history.c.model_pk)
        .where(models.c.source == name)
        .order_by(price_history.c.model_pk, price_history.c.observed_at, price_history.c.id)
    )
    out: dict[int, list[_Row]] = {}
    for r in conn.execute(query):
        out.setdefault(r.model_pk, []).append(_Row(r.id, r.observed_at, r.change, r.old, r.new))
    return out


def _run_at(conn: Connection, name: str, when: datetime) -> int | None:
    query = select(run_sources.c.run_id).where(
        run_sources.c.source == name,
        run_sources.c.finished_at == when,
        run_sources.c.outcome.in_(OBSERVED_OUTCOMES),
    )
    return conn.execute(query.limit(1)).scalar()


def _insert_removed_models(
    conn: Connection,
    prices: list[ModelPrice],
    run_id: int,
    when: datetime,
    boundary: datetime,
) -> dict[str, int]:
    """Create rows for models the source listed only in the past: removed at the boundary."""
    return store.insert_model_rows(conn, prices, run_id, when, removed_at=boundary)


def _move_first_seen(conn: Connection, pks: list[int], when: datetime) -> None:
    if pks:
        conn.execute(
            update(models)
            .where(models.c.id.in_(pks), models.c.first_seen_at > when)
            .values(first_seen_at=when)
        )


def _pks_of(conn: Connection, history_ids: list[int]) -> set[int]:
    if not history_ids:
        return set()
    query = select(price_history.c.model_pk).where(price_history.c.id.in_(history_ids))
    return set(conn.execute(query).scalars())


def _label(old: Any, new: Any, *, seen: bool) -> ChangeKind:
    """A history row's change; an appearance after an earlier row (`seen`) is a restore."""
    if new is None:
        return ChangeKind.REMOVED
    if old is not None:
        return ChangeKind.CHANGED
    return ChangeKind.RESTORED if seen else ChangeKind.ADDED


def relabel(conn: Connection, pks: Iterable[int]) -> int:
    """Settle the `change` labels of these models' history from their rows in time order.

    The first appearance is `added`, a later one `restored`: importing an older snapshot can
    turn a model's first row into a later one, so labels are derived, never kept as written.
    """
    wanted = sorted(set(pks))
    if not wanted:
        return 0
    query = (
        select(
            price_history.c.id,
            price_history.c.model_pk,
            price_history.c.change,
            price_history.c.old,
            price_history.c.new,
        )
        .where(price_history.c.model_pk.in_(wanted))
        .order_by(price_history.c.model_pk, price_history.c.observed_at, price_history.c.id)
    )
    fixes = []
    seen: set[int] = set()
    for row in conn.execute(query):
        label = _label(row.old, row.new, seen=row.model_pk in seen)
        seen.add(row.model_pk)
        if label != row.change:
            fixes.append({"b_id": row.id, "change": label})
    if fixes:
        conn.execute(update(price_history).where(price_history.c.id == bindparam("b_id")), fixes)
    return len(fixes)

"""Prices in force at a past time: a model resolved among all it ever recorded, and the resolver
cost requests with `at` use, built once for the API and `ratecard cost`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from ratecard.catalog.identity import Resolution
from ratecard.catalog.model import dated_entry_at, dated_in_force
from ratecard.catalog.snapshot import CatalogSnapshot, resolve_recorded
from ratecard.costing.cost_requests import ModelAt, Resolver, catalog_resolver
from ratecard.db import build_engine
from ratecard.errors import NotFound
from ratecard.serving import queries
from ratecard.timetext import instant_text

T = TypeVar("T")
# Runs a read on a connection: the API's short connection per call, or the CLI's open one.
WithConnection = Callable[[Callable[[Connection], T]], T]


def model_then(conn: Connection, resolution: Resolution, at: datetime) -> ModelAt:
    """The resolved model's prices in force at `at`, from the history (404 if none were)."""
    price = resolution.price
    return in_force(resolution, queries.price_timeline(conn, price.source, price.model_id), at)


def in_force(
    resolution: Resolution, timeline: queries.PriceTimeline, at: datetime, index: int | None = None
) -> ModelAt:
    """The prices `timeline` says were in force at `at` (404 if none were); `index`: the row
    in force then, when the caller has looked it up.

    A row whose source states a dated price list answers with the list's entry in force at
    `at`, over the part of the row's span that entry covers; the model's first row answers
    for instants before it too (the source says what was billed then: o3's price before
    2025-06-10, though ratecard first read it later)."""
    if index is None:
        index = timeline.index_at(at)
    reach_back = index < 0 and _first_dated(timeline)
    found = timeline.entry(0 if reach_back else index)
    if found is None:
        raise NotFound(
            f"no price for {timeline.model_id!r} of {timeline.source!r} was in force at "
            f"{instant_text(at)}"
        )
    after = 1 if reach_back else index + 1
    until = timeline.observed[after] if after < len(timeline.observed) else None
    observed = found.observed_at
    since: datetime | None = None if reach_back else observed
    price = found.price
    if price.dated:
        place = dated_entry_at(price.dated, at)
        starts = price.dated[place].starts
        ends = price.dated[place + 1].starts if place + 1 < len(price.dated) else None
        if starts is not None and (since is None or starts > since):
            since = starts
        if ends is not None and (until is None or ends < until):
            until = ends
        price = dated_in_force(price, at)
    return ModelAt(resolution, price, found.run_id, instant_text(observed), since, until)


def _first_dated(timeline: queries.PriceTimeline) -> bool:
    """Whether the model's first row states a dated price list (and so answers before it)."""
    first = timeline.entry(0) if timeline.observed else None
    return first is not None and bool(first.price.dated)


def dated_place(timeline: queries.PriceTimeline, index: int, at: datetime) -> int:
    """Which entry of the dated list of row `index` (the first row before it) is in force at
    `at`; 0 for a row without one. With the row, it says which prices answer `at`."""
    found = timeline.entry(max(index, 0))
    if found is None or not found.price.dated:
        return 0
    return dated_entry_at(found.price.dated, at)


def resolve_then(
    conn: Connection,
    snapshot: CatalogSnapshot,
    model_id: str,
    source: str | None,
    preferred: Sequence[str],
) -> Resolution:
    """Resolve a model as typed against what is served, then among the ids ever recorded (a
    model no longer served still has its past prices)."""
    return resolve_recorded(
        snapshot, model_id, source, preferred, partial(queries.model_sources, conn)
    )


def history_resolver(
    snapshot: CatalogSnapshot, preferred: Sequence[str], with_connection: WithConnection[Any]
) -> Resolver:
    """Resolve cost requests against `snapshot`; one with `at` reads the price history on a
    connection `with_connection` gives.

    Each model's history is read once and every instant is then answered from it in memory;
    once BULK_AFTER models of a source were read one by one, the whole source's history is
    read in one go (a batch over 2,000 models makes ~10 reads, not 2,000). What is read is
    kept with the snapshot for the resolvers that follow (the next batch, the next request)
    while the history stays as it was read (_kept_history); each resolver asks that with one
    read of a counter. What is kept is bounded by the database: the timelines of recorded
    entries, the sources of ids ever recorded; an id never recorded is asked each time (and
    answered 404).
    """
    kept: _KeptHistory | None = None

    def history() -> _KeptHistory:
        nonlocal kept
        if kept is None:
            kept = _kept_history(snapshot, with_connection)
        return kept

    # Kept for ids as the catalog spells them (bounded by it); other spellings resolve again.
    resolutions: dict[tuple[str, str | None], Resolution] = {}
    answered: dict[tuple[int, int, int], ModelAt] = {}

    def sources_of(model_id: str) -> list[str]:
        recorded = history().recorded
        known = recorded.get(model_id)
        if known is None:
            known = with_connection(lambda conn: queries.model_sources(conn, model_id))
            if known:
                recorded[model_id] = known
        return known

    def timeline_of(source: str, model_id: str) -> queries.PriceTimeline:
        of_source = history().timelines.setdefault(source, {})
        found = of_source.get(model_id)
        if found is None:
            one = model_id if len(of_source) < BULK_AFTER else None
            of_source.update(with_connection(lambda c: queries.price_timelines(c, source, one)))
            found = of_source.get(model_id)
            if found is None:  # no row at all: remembered as empty, not asked again
                found = of_source[model_id] = queries.PriceTimeline(source, model_id, [], [], None)
        return found

    def then(model_id: str, source: str | None, at: datetime) -> ModelAt:
        resolution = resolutions.get((model_id, source))
        kept = resolution is not None
        if resolution is None:
            resolution = resolve_recorded(snapshot, model_id, source, preferred, sources_of)
            kept = resolution.price.model_id == model_id
            if kept:
                resolutions[model_id, source] = resolution
        price = resolution.price
        timeline = timeline_of(price.source, price.model_id)
        index = timeline.index_at(at)
        if not kept:
            return in_force(resolution, timeline, at, index)
        # One ModelAt per kept resolution, row in force and dated entry: lines at instants
        # under the same row and entry share it (and the batch's fixed text of its prices).
        # By id: the resolution is kept above for the resolver's life, so its id is never
        # reused meanwhile.
        key = (id(resolution), index, dated_place(timeline, index, at))
        found = answered.get(key)
        if found is None:
            found = answered[key] = in_force(resolution, timeline, at, index)
        return found

    return catalog_resolver(snapshot, preferred, then)


# How many models of a source a resolver reads one by one before it reads the source's whole
# history at once: one cost request reads one model; a batch over many reads each source once.
BULK_AFTER = 8


@dataclass(frozen=True)
class _KeptHistory:
    """What resolvers of one snapshot have read of the history, and the refresh generation it
    was read at: per source, each model's timeline; the sources of each id ever recorded."""

    generation: int
    timelines: dict[str, dict[str, queries.PriceTimeline]] = field(default_factory=dict)
    recorded: dict[str, list[str]] = field(default_factory=dict)


_HISTORY_KEY = "price-history"  # its place in the snapshot's memo


def _kept_history(snapshot: CatalogSnapshot, with_connection: WithConnection[Any]) -> _KeptHistory:
    """The history kept with `snapshot`, or a new, empty one if the history moved since.

    Why keep it past one resolver: a batch with `at` over a whole catalog read ~3,000
    timelines (~100 ms) in each of the worker and its forked child, every batch, for prices
    that had not moved. What moves the history: a committed refresh or import, each adding
    one to the refresh generation in the transaction that writes the rows (an import of a past
    snapshot writes rows without a new catalog version, so the snapshot alone would not
    tell), and an accepted held change, which commits a new catalog version (a new snapshot,
    a new memo: this worker reads the history again once it serves that version, as it
    serves the version's prices). The generation is read before any row it labels.
    Timeline that order keeps right: batch B reads generation 5 at t0; import I commits rows
    and generation 6 at t1; B reads timelines at t2 (with I's rows) and keeps them under 5;
    batch C reads 6 at t3 and starts afresh. Read the other way (rows at t0, generation at
    t2), I's rows would be missing from what is kept under 6, for every later batch.
    Two resolvers racing to replace it each keep their own: both are right for what they read.
    """
    generation = with_connection(queries.refresh_generation)
    kept = snapshot.memo.get(_HISTORY_KEY)
    if not isinstance(kept, _KeptHistory) or kept.generation != generation:
        kept = snapshot.memo[_HISTORY_KEY] = _KeptHistory(generation)
    return kept


class ForkedHistory:
    """Resolvers for the batch's forked child (costing.cost_batch_child), as history_resolver
    builds them, reading the history on an engine of the process that first reads: the
    child's own, never the parent's.

    Why not the parent's engine, copied by the fork: its pooled connections are the parent's
    sockets, and a child using one would interleave its bytes with the parent's on one stream.
    Nor SQLAlchemy's fork recipe (`dispose(close=False)` in the child): the pool it drops
    would let the copies of the parent's connections be finalized in the child, closing
    descriptor numbers the child's own connection may have been given. So the parent's
    engine is never touched there; this one is made on first use (the parent, which only
    builds this object, opens nothing), holds one connection (the child prices on one
    thread) and is closed when the child leaves (close()).
    """

    def __init__(
        self, snapshot: CatalogSnapshot, preferred: Sequence[str], database_url: str
    ) -> None:
        self._snapshot, self._preferred, self._url = snapshot, list(preferred), database_url
        self._engine: Engine | None = None

    def resolver(self) -> Resolver:
        """A resolver for one batch (its own history reads, as the parent's batch has)."""
        return history_resolver(self._snapshot, self._preferred, self._with_connection)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _with_connection(self, call: Callable[[Connection], T]) -> T:
        if self._engine is None:
            self._engine = build_engine(self._url, pool_size=1, max_overflow=0)
        with self._engine.connect() as conn:
            return call(conn)

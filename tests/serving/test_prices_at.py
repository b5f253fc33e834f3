"""Prices at a past time (serving.prices_at): the history read for one resolver is kept with the
snapshot for the next, and read again as soon as a commit moves it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Connection, Engine

from ratecard.catalog.snapshot import CatalogSnapshot
from ratecard.errors import NotFound
from ratecard.serving import queries
from ratecard.serving.prices_at import history_resolver
from tests.ingest.test_backfill import JULY, LITELLM, MARCH, import_snapshot
from tests.support.store_helpers import LITELLM_NEW, LITELLM_OLD

T = TypeVar("T")
APRIL = datetime(2026, 4, 1, tzinfo=UTC)


def served_snapshot(engine: Engine, version: int | None) -> CatalogSnapshot:
    assert version is not None
    with engine.connect() as conn:
        return CatalogSnapshot.from_data(queries.load_catalog_data(conn, version))


class CountedReads:
    """A resolver's `with_connection` on `engine`, naming each read it makes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reads: list[str] = []

    def __call__(self, call: Callable[[Connection], T]) -> T:
        self.reads.append(getattr(call, "__name__", "?"))
        with self.engine.connect() as conn:
            return call(conn)

    def take(self) -> list[str]:
        reads, self.reads = self.reads, []
        return reads


def cost_then(snapshot: CatalogSnapshot, reads: CountedReads, model_id: str, at: datetime) -> Any:
    return history_resolver(snapshot, ["litellm"], reads)(model_id, "litellm", at)


def test_the_next_resolver_of_a_snapshot_reads_no_history_until_an_import_moves_it(
    engine: Engine, feed_data: Path
) -> None:
    first = import_snapshot(engine, LITELLM, (feed_data / LITELLM_NEW).read_bytes(), JULY)
    snapshot = served_snapshot(engine, first.catalog_version)
    reads = CountedReads(engine)
    model = "gpt-4o"
    # Before ratecard first read the feed (July), nothing was in force in April.
    with pytest.raises(NotFound):
        cost_then(snapshot, reads, model, APRIL)
    assert "refresh_generation" in reads.take()
    in_july = cost_then(snapshot, reads, model, datetime(2026, 8, 1, tzinfo=UTC))
    assert reads.take() == ["refresh_generation"], "the kept timeline answers another resolver"

    # A March snapshot imported now: history only, no new catalog version (the snapshot
    # served is the same object), and the next resolver reads the history again.
    report = import_snapshot(engine, LITELLM, (feed_data / LITELLM_OLD).read_bytes(), MARCH)
    assert report.newest is False and report.catalog_version is None
    in_april = cost_then(snapshot, reads, model, APRIL)
    assert len(reads.take()) > 1, "the import moved the history: read again"
    assert in_april.valid_from == MARCH
    assert in_july.price.model_id == in_april.price.model_id == model
    again = cost_then(snapshot, reads, model, APRIL)
    assert reads.take() == ["refresh_generation"] and again.price == in_april.price

"""Storage: exact round trips, writes only what changed, history, held changes, `at` queries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from ratecard.changes.changelog import record_changes
from ratecard.errors import Conflict, NotFound
from ratecard.ingest import held_review, run_records, store
from ratecard.ingest.guard import GuardDecision, HeldChange
from ratecard.schema import held_changes, models, runs
from ratecard.serving import queries
from tests.support.store_helpers import TIERED, decision, history_count, price

# Fixtures (db_url, engine, pg_engine, shared_redis) shared by the price storage tests.


def apply(
    engine: Engine, source: str, dec: GuardDecision, run_id: int | None = None
) -> store.SourceCounts:
    with engine.begin() as conn:
        rows = store.load_source_rows(conn, source)
        return store.apply_decision(
            conn,
            source,
            dec,
            rows=rows,
            run_id=run_id,
            now=store.utcnow(),
        )


def test_prices_round_trip_exactly(engine: Engine) -> None:
    apply(engine, "litellm", decision({TIERED.model_id: TIERED}))
    with engine.connect() as conn:
        loaded = store.load_served(conn, "litellm")[TIERED.model_id]
    assert loaded == TIERED
    assert loaded.input_per_token == Decimal("0.0000000208333333333333")
    assert str(loaded.tiers[0].output_per_token) == "0.0000225"
    assert loaded.units == {"per_request": Decimal("0.005"), "per_image": Decimal("0.04")}


def test_unchanged_apply_writes_nothing(engine: Engine) -> None:
    first = {f"m{i}": price(f"m{i}", f"0.00000{i + 1}") for i in range(5)}
    counts = apply(engine, "litellm", decision(first), run_id=None)
    assert counts.added == 5 and history_count(engine) == 5
    with engine.connect() as conn:
        before = {r.model_id: (r.last_seen_at, r.last_run_id) for r in conn.execute(select(models))}

    counts = apply(engine, "litellm", decision(dict(first)))

    assert not counts.any_change
    assert history_count(engine) == 5
    with engine.connect() as conn:
        after = {r.model_id: (r.last_seen_at, r.last_run_id) for r in conn.execute(select(models))}
    assert after == before


def test_change_remove_restore_write_history(engine: Engine) -> None:
    apply(engine, "litellm", decision({"a": price("a"), "b": price("b")}))
    counts = apply(engine, "litellm", decision({"a": price("a", "0.000005")}, removals=["b"]))
    assert (counts.changed, counts.removed) == (1, 1)
    with engine.connect() as conn:
        served = store.load_served(conn, "litellm")
        history = queries.load_history(conn, "litellm", "a")
        removed = queries.load_history(conn, "litellm", "b")
    assert set(served) == {"a"}
    assert [h.change for h in history] == ["changed", "added"]  # newest first
    assert history[0].old["input_per_token"] == "0.000001"
    assert history[0].new["input_per_token"] == "0.000005"
    assert removed[0].change == "removed" and removed[0].new is None

    counts = apply(engine, "litellm", decision({"b": price("b")}))
    assert counts.added == 1
    with engine.connect() as conn:
        assert "b" in store.load_served(conn, "litellm")
        assert queries.load_history(conn, "litellm", "b")[0].change == "restored"


def test_descriptive_change_updates_row_without_history(engine: Engine) -> None:
    apply(engine, "litellm", decision({"a": price("a")}))
    counts = apply(engine, "litellm", decision({"a": price("a", context_window=4096)}))
    assert counts.touched == 1 and counts.changed == 0
    assert history_count(engine) == 1
    with engine.connect() as conn:
        assert store.load_served(conn, "litellm")["a"].context_window == 4096


def test_held_change_is_recorded_then_confirmed(engine: Engine) -> None:
    old = price("a")
    proposed = price("a", "0.001")
    apply(engine, "litellm", decision({"a": old}))
    held = HeldChange("a", old, proposed, Decimal(1000), "input moved 1000x")
    counts = apply(engine, "litellm", decision(held=[held]))
    assert counts.held == 1
    with engine.connect() as conn:
        served = store.load_served(conn, "litellm")
        pending = store.load_pending_held(conn, "litellm", served)
    assert served["a"] == old  # the old price stays served
    assert pending["a"].same_prices(proposed)

    counts = apply(engine, "litellm", decision({"a": proposed}, confirmed=["a"]))
    assert counts.confirmed == 1 and counts.changed == 1
    with engine.connect() as conn:
        statuses = [r.status for r in conn.execute(select(held_changes))]
        assert store.load_served(conn, "litellm")["a"] == proposed
    assert statuses == ["confirmed"]


def test_quarantine_changes_nothing_but_records_the_feed(engine: Engine) -> None:
    apply(engine, "litellm", decision({"a": price("a"), "b": price("b")}))
    counts = apply(
        engine,
        "litellm",
        decision(quarantined=True, quarantine_reason="feed would remove 2 of 2 models"),
    )
    assert counts.held == 1
    with engine.connect() as conn:
        assert set(store.load_served(conn, "litellm")) == {"a", "b"}
        row = conn.execute(select(held_changes)).one()
    assert (row.kind, row.status, row.reason) == (
        "feed",
        "pending",
        "feed would remove 2 of 2 models",
    )


def test_accept_and_reject_held(engine: Engine) -> None:
    old, proposed = price("a"), price("a", "0.5")
    apply(engine, "litellm", decision({"a": old}))
    held = HeldChange("a", old, proposed, Decimal(500000), "input moved 500000x")
    apply(engine, "litellm", decision(held=[held]))
    with engine.connect() as conn:
        held_id = conn.execute(select(held_changes.c.id)).scalar_one()

    result = held_review.accept_held(engine, held_id, "admin:alice", record_changes)

    assert result.status == "accepted" and result.catalog_version is not None
    with engine.connect() as conn:
        assert store.load_served(conn, "litellm")["a"].input_per_token == Decimal("0.5")
        assert queries.load_history(conn, "litellm", "a")[0].new["input_per_token"] == "0.5"
        assert queries.latest_catalog_version(conn) == result.catalog_version
        run = conn.execute(select(runs).where(runs.c.id == result.catalog_version)).one()
    assert (run.job, run.outcome, run.trigger) == ("held-review", "success", "admin")
    with pytest.raises(Conflict):
        held_review.reject_held(engine, held_id, "admin:bob", record_changes)  # already accepted
    with pytest.raises(NotFound):
        held_review.accept_held(engine, 999_999, "admin:alice", record_changes)


def test_price_at_reads_history(engine: Engine) -> None:
    apply(engine, "litellm", decision({"a": price("a", "0.000001")}))
    with engine.connect() as conn:
        first = queries.load_history(conn, "litellm", "a")[0].observed_at
    apply(engine, "litellm", decision({"a": price("a", "0.000003")}))
    with engine.connect() as conn:
        first_at = first
        second = queries.load_history(conn, "litellm", "a")[0].observed_at
        assert second is not None and first_at is not None
        assert second.tzinfo is not None, "stored times read back aware (UTC), on SQLite too"
        before_second = second - timedelta(microseconds=1)
        then = queries.price_at(conn, "litellm", "a", before_second)
        now = queries.price_at(conn, "litellm", "a", second)
        never = queries.price_at(conn, "litellm", "a", first_at - timedelta(seconds=1))
    assert then is not None and then.price.input_per_token == Decimal("0.000001")
    assert now is not None and now.price.input_per_token == Decimal("0.000003")
    assert never is None


def test_runs_and_catalog_versions(engine: Engine) -> None:
    run_id = run_records.start_run(engine, run_records.RunInfo(instance_id="i1", trigger="cli"))
    with engine.begin() as conn:
        assert queries.latest_catalog_version(conn) is None
        run_records.record_sources(
            conn,
            run_id,
            [run_records.SourceRecord("litellm", store.utcnow(), "failed", error="HTTP 503")],
        )
        run_records.finish_run(
            conn, run_id, "failed", error="litellm: HTTP 503", catalog_version=run_id
        )
    cancelled = run_records.start_run(engine, run_records.RunInfo())
    run_records.abandon_run(engine, cancelled, "cancelled", "lease lost")
    with engine.connect() as conn:
        assert queries.latest_catalog_version(conn) == run_id  # a cancelled run has no version
        data = queries.load_catalog_data(conn, run_id)
    assert data["sources"][0]["outcome"] == "failed"
    assert data["sources"][0]["error"] == "HTTP 503"

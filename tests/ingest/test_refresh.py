"""Refresh runs against a real local feed server: loads, diffs, bad input, holds, fences."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select, update

from ratecard.ingest import store
from ratecard.ingest.bundled import BUNDLED_DATE
from ratecard.ingest.refresh import refresh_catalog
from ratecard.runcontrol import RunCancelled, RunFenced, UncoordinatedRun
from ratecard.schema import held_changes, price_history, run_sources, runs, source_state
from ratecard.serving import queries
from tests.support.feeds import FeedServer
from tests.support.services import FEED_DATA
from tests.support.store_helpers import (
    LITELLM_NEW,
    LITELLM_OLD,
    OPENROUTER,
    SettingsFactory,
    decision,
    history_count,
    make_deps,
    price,
    sources_setting,
)

# Fixtures (db_url, engine, pg_engine, shared_redis) shared by the price storage tests.


def served(engine: Engine, source: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return store.load_served(conn, source)


def run_row(engine: Engine, run_id: int | None) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(runs).where(runs.c.id == run_id)).one()


def forget_validators(conn: Connection) -> None:
    """Make the next fetch unconditional (no ETag, no identical-body shortcut)."""
    conn.execute(update(source_state).values(etag=None, last_modified=None, content_sha256=None))


def test_first_load_of_both_real_feeds(
    engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory
) -> None:
    settings = make_settings(
        sources=sources_setting(
            litellm=feed_server.url(LITELLM_NEW), openrouter=feed_server.url(OPENROUTER)
        )
    )
    report = refresh_catalog(make_deps(engine, settings))

    assert (report.outcome, report.committed, report.error) == ("success", True, None)
    assert report.catalog_version == report.run_id
    by_source = {s.source: s for s in report.sources}
    assert by_source["openrouter"].added == by_source["openrouter"].fetched == 414
    assert by_source["litellm"].added == by_source["litellm"].fetched > 2900
    litellm, openrouter = served(engine, "litellm"), served(engine, "openrouter")
    gpt4o = litellm["gpt-4o"]
    assert (gpt4o.input_per_token, gpt4o.output_per_token, gpt4o.cache_read_per_token) == (
        Decimal("0.0000025"),
        Decimal("0.00001"),
        Decimal("0.00000125"),
    )
    qwen = openrouter["qwen/qwen3.8-27b"]
    assert (qwen.input_per_token, qwen.output_per_token, qwen.cache_read_per_token) == (
        Decimal("0.00000045"),
        Decimal("0.0000032"),
        Decimal("0.00000005"),
    )
    assert history_count(engine) == len(litellm) + len(openrouter)
    with engine.connect() as conn:
        outcomes = dict(conn.execute(select(run_sources.c.source, run_sources.c.outcome)).all())
        etag = conn.execute(
            select(source_state.c.etag).where(source_state.c.source == "litellm")
        ).scalar()
    assert outcomes == {"litellm": "success", "openrouter": "success"}
    assert etag  # kept for the next conditional request
    assert run_row(engine, report.run_id).outcome == "success"


def test_second_snapshot_adds_removes_and_changes_with_history(
    pg_engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory
) -> None:
    settings = make_settings(sources=sources_setting(litellm=feed_server.url("/litellm.json")))
    feed_server.set_file("/litellm.json", LITELLM_OLD)
    first = refresh_catalog(make_deps(pg_engine, settings))
    old = served(pg_engine, "litellm")
    feed_server.set_file("/litellm.json", LITELLM_NEW)

    second = refresh_catalog(make_deps(pg_engine, settings))

    new = served(pg_engine, "litellm")
    report = second.sources[0]
    assert (second.outcome, report.added, report.removed) == ("success", 409, 8)
    # 24 of the 157 real changes make a price disappear (Claude 4.6 long-context tiers,
    # 1-hour cache writes): held until a second fetch confirms them (see test_guard).
    assert report.changed == 133 and report.held == 24
    assert "luminous-base" in old and "luminous-base" not in new
    assert "anthropic.claude-opus-4-7" in new and "anthropic.claude-opus-4-7" not in old
    titan = new["amazon.titan-embed-text-v2:0"]
    assert titan.input_per_token == Decimal("2E-8")
    with pg_engine.connect() as conn:
        changes: dict[str, int] = dict(
            conn.execute(
                select(price_history.c.change, func.count())
                .where(price_history.c.run_id == second.run_id)
                .group_by(price_history.c.change)
            ).all()
        )
        titan_history = queries.load_history(conn, "litellm", "amazon.titan-embed-text-v2:0")
    assert changes == {"added": 409, "removed": 8, "changed": 133}
    assert titan_history[0].old["input_per_token"] == "0.0000002"
    assert titan_history[0].new["input_per_token"] == "0.00000002"
    assert titan_history[0].run_id == second.run_id
    assert titan_history[1].run_id == first.run_id


def test_unchanged_feed_writes_no_price_rows(
    engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory
) -> None:
    settings = make_settings(sources=sources_setting(openrouter=feed_server.url(OPENROUTER)))
    refresh_catalog(make_deps(engine, settings))
    rows = history_count(engine)

    conditional = refresh_catalog(make_deps(engine, settings))
    with engine.begin() as conn:
        forget_validators(conn)
    reparsed = refresh_catalog(make_deps(engine, settings))

    assert conditional.sources[0].outcome == "not-modified"
    assert (reparsed.sources[0].outcome, reparsed.sources[0].fetched) == ("unchanged", 414)
    assert conditional.outcome == reparsed.outcome == "unchanged"
    assert history_count(engine) == rows


def _bad_input(kind: str, server: FeedServer, path: str) -> None:
    if kind == "http-503":
        server.fail(path, 503)
    elif kind == "http-404":
        server.fail(path, 404)
    elif kind == "html":
        server.html_error(path)
    elif kind == "truncated":
        server.truncate(path, at_bytes=5000)
    elif kind == "timeout":
        server.delay(path, seconds=3)
    elif kind == "oversize":
        server.oversize(path, nbytes=3_000_000)
    elif kind == "not-json":
        server.set_body(path, b"price list coming soon")
    elif kind == "wrong-shape":
        server.set_body(path, json.dumps({"data": {"id": "x"}}).encode())


@pytest.mark.parametrize(
    "kind",
    ["http-503", "http-404", "html", "truncated", "timeout", "oversize", "not-json", "wrong-shape"],
)
def test_bad_input_leaves_served_prices_untouched(
    kind: str, pg_engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory
) -> None:
    settings = make_settings(sources=sources_setting(openrouter=feed_server.url("/or.json")))
    feed_server.set_file("/or.json", OPENROUTER)
    options = {"attempts": 2, "backoff": 0.01, "max_bytes": 2_000_000}
    refresh_catalog(make_deps(pg_engine, settings, fetch_options=options))
    before, rows = served(pg_engine, "openrouter"), history_count(pg_engine)
    with pg_engine.begin() as conn:
        forget_validators(conn)
    _bad_input(kind, feed_server, "/or.json")

    report = refresh_catalog(
        make_deps(pg_engine, settings, fetch_options=options, read_timeout=0.5)
    )

    assert (report.outcome, report.committed) == ("failed", True)
    assert report.sources[0].outcome == "failed"
    assert report.sources[0].error and report.error and "openrouter" in report.error
    assert "127.0.0.1" not in report.sources[0].error  # reasons carry no URL
    assert served(pg_engine, "openrouter") == before
    assert history_count(pg_engine) == rows
    assert run_row(pg_engine, report.run_id).error == report.error


def _openrouter_with(feed_data: Path, change: Any) -> bytes:
    document = json.loads((feed_data / OPENROUTER).read_text())
    change(document["data"])
    return json.dumps(document).encode()


def test_held_change_then_confirmation_on_next_fetch(
    pg_engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory, feed_data: Path
) -> None:
    settings = make_settings(sources=sources_setting(openrouter=feed_server.url("/or.json")))
    feed_server.set_file("/or.json", OPENROUTER)
    refresh_catalog(make_deps(pg_engine, settings))

    def unit_error(models: list[dict[str, Any]]) -> None:
        qwen = next(m for m in models if m["id"] == "qwen/qwen3.8-27b")
        qwen["pricing"]["prompt"] = "0.00045"  # 1000x: per-1K price pasted as per-token

    feed_server.set_body("/or.json", _openrouter_with(feed_data, unit_error))
    held = refresh_catalog(make_deps(pg_engine, settings))

    assert (held.outcome, held.sources[0].held, held.sources[0].changed) == ("success", 1, 0)
    assert served(pg_engine, "openrouter")["qwen/qwen3.8-27b"].input_per_token == Decimal(
        "0.00000045"
    )
    with pg_engine.connect() as conn:
        row = conn.execute(select(held_changes)).one()
    assert (row.model_id, row.status, row.proposed["input_per_token"]) == (
        "qwen/qwen3.8-27b",
        "pending",
        "0.00045",
    )

    confirmed = refresh_catalog(make_deps(pg_engine, settings))  # same body again

    assert confirmed.sources[0].changed == 1
    assert served(pg_engine, "openrouter")["qwen/qwen3.8-27b"].input_per_token == Decimal("0.00045")
    with pg_engine.connect() as conn:
        assert conn.execute(select(held_changes.c.status)).scalar_one() == "confirmed"


def test_feed_losing_most_models_is_quarantined(
    pg_engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory, feed_data: Path
) -> None:
    settings = make_settings(sources=sources_setting(openrouter=feed_server.url("/or.json")))
    feed_server.set_file("/or.json", OPENROUTER)
    refresh_catalog(make_deps(pg_engine, settings))
    before = served(pg_engine, "openrouter")
    feed_server.set_body(
        "/or.json", _openrouter_with(feed_data, lambda m: m.__delitem__(slice(100, None)))
    )

    report = refresh_catalog(make_deps(pg_engine, settings))

    assert (report.outcome, report.sources[0].outcome) == ("quarantined", "quarantined")
    assert served(pg_engine, "openrouter") == before
    with pg_engine.connect() as conn:
        row = conn.execute(select(held_changes)).one()
    assert (row.kind, row.status) == ("feed", "pending")


def test_the_bundled_snapshot_stands_in_for_litellm_until_the_feed_answers(
    engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory
) -> None:
    settings = make_settings(
        sources=sources_setting(
            litellm=feed_server.url("/missing.json"), openrouter=feed_server.url("/or.json")
        )
    )
    feed_server.fail("/or.json", 503)

    report = refresh_catalog(make_deps(engine, settings))

    assert (report.outcome, report.committed) == ("partial", True)
    assert [(s.source, s.outcome) for s in report.sources] == [
        ("litellm", "bootstrapped"),
        ("openrouter", "failed"),
    ]
    assert "404" in (report.sources[0].error or ""), "why the feed failed is kept"
    # Under the feed's own name: never a source of its own beside it.
    stand_in = served(engine, "litellm")
    assert len(stand_in) > 2900 and served(engine, "bundled") == {}
    assert stand_in["gpt-4o"].input_per_token == Decimal("0.0000025")
    with engine.connect() as conn:
        data = queries.load_catalog_data(conn, report.run_id)
        state = store.load_source_state(conn, "litellm")
    litellm = next(s for s in data["sources"] if s["source"] == "litellm")
    assert (litellm["outcome"], litellm["snapshot_date"]) == ("bootstrapped", BUNDLED_DATE)
    assert state is not None and state.url == "package:bundled"

    # The feed's first answer replaces it through the guard, as any change: one price moved,
    # a model gone, nothing served twice.
    live = json.loads((FEED_DATA / LITELLM_NEW).read_bytes())
    live["gpt-4o"]["input_cost_per_token"] = 0.000003
    del live["gpt-4o-mini"]
    feed_server.set_body("/missing.json", json.dumps(live).encode())
    feed_server.reset("/or.json")
    feed_server.set_file("/or.json", OPENROUTER)
    answered = refresh_catalog(make_deps(engine, settings))

    assert answered.outcome == "success"
    litellm_report = answered.sources[0]
    assert (litellm_report.outcome, litellm_report.changed, litellm_report.removed) == (
        "success",
        1,
        1,
    )
    assert served(engine, "litellm")["gpt-4o"].input_per_token == Decimal("0.000003")
    assert len(served(engine, "openrouter")) == 414


def test_a_feed_served_before_keeps_its_prices_instead_of_the_bundled_ones(
    engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory
) -> None:
    settings = make_settings(sources=sources_setting(litellm=feed_server.url(LITELLM_OLD)))
    assert refresh_catalog(make_deps(engine, settings)).outcome == "success"
    feed_server.fail(LITELLM_OLD, 503)
    with engine.begin() as conn:
        forget_validators(conn)

    report = refresh_catalog(make_deps(engine, settings))

    assert [s.outcome for s in report.sources] == ["failed"]
    with engine.connect() as conn:
        state = store.load_source_state(conn, "litellm")
    assert state is not None and state.snapshot_date == "2026-03-14"
    assert served(engine, "litellm")["gpt-4o"].input_per_token == Decimal("0.0000025")


def test_versions_that_served_the_snapshot_as_bundled_have_it_retired(
    engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory
) -> None:
    with engine.begin() as conn:
        old = decision({"gpt-4o": price("gpt-4o", source="bundled")})
        rows = store.load_source_rows(conn, "bundled")
        store.apply_decision(conn, "bundled", old, rows=rows, run_id=None, now=store.utcnow())
    settings = make_settings(sources=sources_setting(openrouter=feed_server.url(OPENROUTER)))

    report = refresh_catalog(make_deps(engine, settings))

    assert [(s.source, s.outcome, s.removed) for s in report.sources][-1] == (
        "bundled",
        "retired",
        1,
    )
    assert served(engine, "bundled") == {}


def test_no_bootstrap_when_catalog_already_served(
    pg_engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory
) -> None:
    settings = make_settings(sources=sources_setting(openrouter=feed_server.url(OPENROUTER)))
    refresh_catalog(make_deps(pg_engine, settings))
    feed_server.fail(OPENROUTER, 503)
    with pg_engine.begin() as conn:
        forget_validators(conn)

    report = refresh_catalog(make_deps(pg_engine, settings))

    assert (report.outcome, [s.source for s in report.sources]) == ("failed", ["openrouter"])
    assert served(pg_engine, "bundled") == {}


class FencedAtClaim(UncoordinatedRun):
    """A run whose slot was completed by someone else while it fetched."""

    slot: int | None = 7
    fence: int | None = 3

    def claim(self, conn: Connection, run_id: int | None) -> None:
        raise RunFenced("slot 7 already completed")


class CancelledAtFetch(UncoordinatedRun):
    def checkpoint(self) -> None:
        raise RunCancelled("lease lost")


def test_fenced_claim_rolls_everything_back(
    engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory
) -> None:
    settings = make_settings(sources=sources_setting(openrouter=feed_server.url(OPENROUTER)))

    report = refresh_catalog(make_deps(engine, settings), FencedAtClaim("i-1", "schedule"))

    assert (report.outcome, report.committed, report.catalog_version) == ("fenced", False, None)
    assert served(engine, "openrouter") == {}
    assert history_count(engine) == 0
    row = run_row(engine, report.run_id)
    assert (row.outcome, row.slot, row.fence, row.trigger) == ("fenced", 7, 3, "schedule")
    assert "slot 7 already completed" in row.error
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(run_sources)).scalar_one() == 0
        assert queries.latest_catalog_version(conn) is None


def test_cancelled_run_records_and_commits_nothing(
    pg_engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory
) -> None:
    settings = make_settings(sources=sources_setting(openrouter=feed_server.url(OPENROUTER)))

    report = refresh_catalog(make_deps(pg_engine, settings), CancelledAtFetch("i-1"))

    assert (report.outcome, report.committed) == ("cancelled", False)
    assert feed_server.hits(OPENROUTER) == 0
    assert run_row(pg_engine, report.run_id).outcome == "cancelled"
    assert served(pg_engine, "openrouter") == {}

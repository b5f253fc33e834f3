"""Backfill: archived snapshots recorded at their time, on PostgreSQL and SQLite.

The guarantees: history does not depend on import order; current prices move only when the
snapshot is the newest observation; a refresh after a backfill does not re-diff it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from ratecard.catalog import codec
from ratecard.db import build_engine
from ratecard.ingest import store
from ratecard.ingest.backfill import BackfillError, import_snapshot
from ratecard.ingest.feeds import parse_feed
from ratecard.ingest.refresh import refresh_catalog
from ratecard.schema import models, price_history
from ratecard.serving import queries
from ratecard.settings import Source
from ratecard.timetext import instant_text
from tests.support.services import PostgresDatabases
from tests.support.store_helpers import (
    LITELLM_NEW,
    LITELLM_OLD,
    SettingsFactory,
    make_deps,
    sources_setting,
)

LITELLM = Source("litellm", "file:///archive", "litellm")
MARCH = datetime(2026, 3, 14, tzinfo=UTC)
JULY = datetime(2026, 7, 24, tzinfo=UTC)


@pytest.fixture(params=["postgresql", "sqlite"])
def two_engines(
    request: pytest.FixtureRequest,
    pg_databases: PostgresDatabases,
    sqlite_template: Path,
    tmp_path: Path,
) -> Iterator[tuple[Engine, Engine]]:
    """Two fresh migrated databases of one kind: one per import order."""
    if request.param == "postgresql":
        urls = [pg_databases.create_migrated(), pg_databases.create_migrated()]
    else:
        urls = []
        for i in (1, 2):
            path = tmp_path / f"db{i}.sqlite3"
            shutil.copyfile(sqlite_template, path)
            urls.append(f"sqlite:///{path}")
    engines = [build_engine(url) for url in urls]
    yield engines[0], engines[1]
    for engine in engines:
        engine.dispose()


def history(engine: Engine, source: str = "litellm") -> dict[str, list[tuple[Any, ...]]]:
    """Every model's history as (time, change, old, new), in time order."""
    query = (
        select(
            models.c.model_id,
            price_history.c.observed_at,
            price_history.c.change,
            price_history.c.old,
            price_history.c.new,
        )
        .join(models, models.c.id == price_history.c.model_pk)
        .where(models.c.source == source)
        .order_by(models.c.model_id, price_history.c.observed_at, price_history.c.id)
    )
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            out.setdefault(row.model_id, []).append(
                (instant_text(row.observed_at), row.change, row.old, row.new)
            )
    return out


def served(engine: Engine, source: str = "litellm") -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {mid: codec.to_snapshot(p) for mid, p in store.load_served(conn, source).items()}


def version(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return queries.latest_catalog_version(conn)


def feed(**entries: tuple[str, str]) -> bytes:
    """A small LiteLLM body: model id -> (input, output) per-token prices."""
    body = {
        mid.replace("_", "-"): {
            "litellm_provider": "acme",
            "mode": "chat",
            "input_cost_per_token": float(i),
            "output_cost_per_token": float(o),
        }
        for mid, (i, o) in entries.items()
    }
    return json.dumps(body).encode()


def test_the_two_real_snapshots_in_either_order_give_identical_history(
    two_engines: tuple[Engine, Engine], feed_data: Path
) -> None:
    march, july = (feed_data / LITELLM_OLD).read_bytes(), (feed_data / LITELLM_NEW).read_bytes()
    in_order, reversed_order = two_engines
    import_snapshot(in_order, LITELLM, march, MARCH)
    import_snapshot(in_order, LITELLM, july, JULY)
    first = import_snapshot(reversed_order, LITELLM, july, JULY)
    second = import_snapshot(reversed_order, LITELLM, march, MARCH)
    assert (first.newest, second.newest) == (True, False)

    expected = history(in_order)
    got = history(reversed_order)
    listed = set(parse_feed(LITELLM, march).models) | set(parse_feed(LITELLM, july).models)
    assert set(expected) == listed  # both snapshots' models, removed ones included
    assert got == expected
    # Real changes between March and July are there, in time order, in both.
    moved = [mid for mid, rows in expected.items() if [r[1] for r in rows] == ["added", "changed"]]
    dropped = [
        mid for mid, rows in expected.items() if [r[1] for r in rows] == ["added", "removed"]
    ]
    assert moved and dropped
    assert all(rows[0][0] < rows[1][0] for rows in expected.values() if len(rows) == 2)
    # Current prices are July's, whatever the order.
    assert served(reversed_order) == served(in_order)
    july_ids = set(json.loads(july)) - {"sample_spec", "fallback_generalizations"}
    assert set(served(in_order)) <= july_ids


def test_an_older_snapshot_changes_history_only(engine: Engine, feed_data: Path) -> None:
    july = (feed_data / LITELLM_NEW).read_bytes()
    import_snapshot(engine, LITELLM, july, JULY)
    before, catalog_version = served(engine), version(engine)

    report = import_snapshot(engine, LITELLM, (feed_data / LITELLM_OLD).read_bytes(), MARCH)

    assert report.newest is False and report.catalog_version is None
    assert served(engine) == before
    assert version(engine) == catalog_version  # no new catalog version: nothing served moved
    moved = next(
        mid for mid, rows in history(engine).items() if [r[1] for r in rows] == ["added", "changed"]
    )
    rows = history(engine)[moved]
    with engine.connect() as conn:
        april = queries.price_at(conn, "litellm", moved, datetime(2026, 4, 1, tzinfo=UTC))
        august = queries.price_at(conn, "litellm", moved, datetime(2026, 8, 1, tzinfo=UTC))
        february = queries.price_at(conn, "litellm", moved, datetime(2026, 2, 1, tzinfo=UTC))
    assert april is not None and codec.to_snapshot(april.price) == rows[0][3]
    assert august is not None and codec.to_snapshot(august.price) == before[moved]
    assert february is None


@pytest.mark.parametrize("order", [(1, 2, 3), (1, 3, 2), (3, 1, 2), (2, 3, 1), (3, 2, 1)])
def test_a_snapshot_between_two_unchanged_observations(
    two_engines: tuple[Engine, Engine], order: tuple[int, int, int]
) -> None:
    """p at t1, q at t2, p at t3: the t3 row must exist whichever observation came last
    (recorded in time order, t3 is a change back to p; an import of t2 after t3 writes it)."""
    times = {n: datetime(2026, 1, n, tzinfo=UTC) for n in (1, 2, 3)}
    bodies = {
        1: feed(a=("1e-6", "2e-6"), b=("1e-6", "1e-6")),
        2: feed(a=("3e-6", "2e-6"), c=("5e-6", "5e-6")),
        3: feed(a=("1e-6", "2e-6"), b=("1e-6", "1e-6")),
    }
    reference, engine = two_engines
    for n in (1, 2, 3):
        import_snapshot(reference, LITELLM, bodies[n], times[n])
    for n in order:
        import_snapshot(engine, LITELLM, bodies[n], times[n])
    expected = history(reference)
    assert [r[1] for r in expected["a"]] == ["added", "changed", "changed"]
    assert [r[1] for r in expected["b"]] == ["added", "removed", "restored"]
    assert [r[1] for r in expected["c"]] == ["added", "removed"]
    assert history(engine) == expected
    assert served(engine) == served(reference)
    assert set(served(engine)) == {"a", "b"}


def test_a_refresh_after_a_backfill_does_not_rediff_it(
    engine: Engine, feed_data: Path, make_settings: SettingsFactory
) -> None:
    july_path = feed_data / LITELLM_NEW
    earlier = datetime.now(UTC) - timedelta(days=1)
    import_snapshot(engine, LITELLM, july_path.read_bytes(), earlier)
    import_snapshot(engine, LITELLM, (feed_data / LITELLM_OLD).read_bytes(), MARCH)
    rows_before = sum(len(r) for r in history(engine).values())
    settings = make_settings(sources=sources_setting(litellm=july_path.as_uri()))

    report = refresh_catalog(make_deps(engine, settings))

    litellm = next(s for s in report.sources if s.source == "litellm")
    assert (litellm.outcome, litellm.added, litellm.changed, litellm.removed) == (
        "unchanged",
        0,
        0,
        0,
    )
    assert sum(len(r) for r in history(engine).values()) == rows_before


def test_refused_times(engine: Engine) -> None:
    body = feed(a=("1e-6", "2e-6"))
    with pytest.raises(BackfillError, match="future"):
        import_snapshot(engine, LITELLM, body, datetime.now(UTC) + timedelta(hours=1))
    import_snapshot(engine, LITELLM, body, MARCH)
    with pytest.raises(BackfillError, match="already has an observation"):
        import_snapshot(engine, LITELLM, body, MARCH)
    assert [r[1] for r in history(engine)["a"]] == ["added"]


def test_cli_import_then_show_resolves_the_name(
    migrated_sqlite_url: str, feed_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ratecard.cli import main

    monkeypatch.setenv("DATABASE_URL", migrated_sqlite_url)
    monkeypatch.setenv("RATECARD_SOURCES", f"litellm={(feed_data / LITELLM_NEW).as_uri()}")
    runner = CliRunner()
    args = ["prices", "import", str(feed_data / LITELLM_NEW), "--source", "litellm"]
    newest = runner.invoke(main, [*args, "--observed-at", "2026-07-24T00:00:00Z", "--json"])
    assert newest.exit_code == 0, newest.output
    assert json.loads(newest.output)["newest"] is True
    older = runner.invoke(
        main,
        ["prices", "import", str(feed_data / LITELLM_OLD), "--source", "litellm",
         "--observed-at", "2026-03-14"],
    )  # fmt: skip
    assert older.exit_code == 0, older.output
    assert "history only, current prices unchanged" in older.output
    for bad_time in ("last tuesday", "0001-01-01T00:00:00+14:00"):
        bad = runner.invoke(main, [*args, "--observed-at", bad_time])
        assert bad.exit_code == 2 and "--observed-at" in bad.output, bad.output
    shown = runner.invoke(main, ["prices", "show", "GPT-4o"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("gpt-4o  (litellm, priced)")
    assert "resolved from 'GPT-4o' (case)" in shown.output


def test_a_lost_lease_rolls_the_import_back(engine: Engine) -> None:
    with pytest.raises(BackfillError, match="lease expired"):
        import_snapshot(
            engine, LITELLM, feed(a=("1e-6", "2e-6")), MARCH, confirm_lease=lambda conn: False
        )
    assert history(engine) == {}
    assert served(engine) == {}


def test_cli_import_waits_for_a_refresh_holding_the_lease(
    migrated_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ratecard.cli import main
    from ratecard.coordination.sql_lease import SqlLease

    monkeypatch.setenv("DATABASE_URL", migrated_sqlite_url)
    monkeypatch.setenv("RATECARD_SOURCES", "litellm=file:///nowhere")
    snapshot = tmp_path / "feed.json"
    snapshot.write_bytes(feed(a=("1e-6", "2e-6")))
    args = ["prices", "import", str(snapshot), "--source", "litellm", "--observed-at", "2026-03-14"]
    engine = build_engine(migrated_sqlite_url)
    lease = SqlLease(engine, "refresh", 30.0)
    grant = lease.acquire("another-instance")
    assert grant is not None
    try:
        refused = CliRunner().invoke(main, [*args, "--wait", "0.5"])
        assert refused.exit_code == 1
        assert "a refresh holds the lease; nothing imported" in refused.output
        assert history(engine) == {}
        lease.release(grant.token)
        done = CliRunner().invoke(main, args)
        assert done.exit_code == 0, done.output
        assert [r[1] for r in history(engine)["a"]] == ["added"]
        assert lease.acquire("another-instance") is not None  # the import released it
    finally:
        engine.dispose()


def test_an_older_snapshot_on_the_bundled_stand_in_goes_into_history_only(
    engine: Engine, feed_data: Path, feed_server: Any, make_settings: SettingsFactory
) -> None:
    """A first start offline serves the bundled snapshot as `litellm`; importing March's
    archive then neither serves March's prices nor lists any model twice."""
    settings = make_settings(sources=sources_setting(litellm=feed_server.url("/unreachable")))
    bootstrap = refresh_catalog(make_deps(engine, settings))
    assert [s.outcome for s in bootstrap.sources] == ["bootstrapped"]
    with engine.connect() as conn:
        before = store.load_served(conn, "litellm")

    report = import_snapshot(engine, LITELLM, (feed_data / LITELLM_OLD).read_bytes(), MARCH)

    assert not report.newest, "March is older than the stand-in's observation"
    with engine.connect() as conn:
        assert store.load_served(conn, "litellm") == before
        served_sources = {m["source"] for m in queries.load_catalog_data(conn, None)["models"]}
    assert served_sources == {"litellm"}

"""Backfill: archived snapshots recorded at their time, on PostgreSQL and SQLite.

The guarantees: history does not depend on import order; current prices move only when the
snapshot is the newest observation; a refresh after a backfill does not re-diff it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from ratecard.catalog import codec
from ratecard.changes.changelog import read_changes, record_changes
from ratecard.db import build_engine
from ratecard.ingest import backfill, store
from ratecard.ingest.backfill import BackfillError, ImportReport, observation_times
from ratecard.ingest.feeds import parse_feed
from ratecard.ingest.refresh import refresh_catalog
from ratecard.schema import held_changes, models, price_history
from ratecard.serving import queries
from ratecard.settings import Settings, Source
from ratecard.timetext import instant_text
from tests.support.services import PostgresDatabases
from tests.support.store_helpers import (
    LITELLM_NEW,
    LITELLM_OLD,
    OPENROUTER,
    SettingsFactory,
    make_deps,
    sources_setting,
)

LITELLM = Source("litellm", "file:///archive", "litellm")
MARCH = datetime(2026, 3, 14, tzinfo=UTC)
JULY = datetime(2026, 7, 24, tzinfo=UTC)
# The guard's default limits (an import reads nothing else of its settings but the instance).
DEFAULTS = Settings.from_env({"DATABASE_URL": "sqlite:///unused.sqlite3"})
# Limits no test feed here reaches: for the tests of history's arithmetic, where a two-model
# feed losing one model is the point, not a broken file.
UNGUARDED = DEFAULTS.with_overrides(quarantine_removed_fraction=1.0, hold_factor=1e9)


def import_snapshot(
    engine: Engine,
    source: Source,
    body: bytes,
    when: datetime,
    *,
    settings: Settings = DEFAULTS,
    **kw: Any,
) -> ImportReport:
    """An import as the CLI makes it: the service's guard limits and change log."""
    return backfill.import_snapshot(
        engine, source, body, when, settings=settings, record_changes=record_changes, **kw
    )


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
    """Identical, but for what the guard holds: imported in time order, July is judged against
    March as a refresh's feed would be, and its 24 vanishing prices wait for review (imported
    first, July is a first load; March then goes into the past, where nothing is served)."""
    march, july = (feed_data / LITELLM_OLD).read_bytes(), (feed_data / LITELLM_NEW).read_bytes()
    in_order, reversed_order = two_engines
    import_snapshot(in_order, LITELLM, march, MARCH)
    newest = import_snapshot(in_order, LITELLM, july, JULY)
    first = import_snapshot(reversed_order, LITELLM, july, JULY)
    second = import_snapshot(reversed_order, LITELLM, march, MARCH)
    assert (first.newest, second.newest) == (True, False)
    assert (newest.held, first.held, second.held) == (24, 0, 0)

    expected = history(in_order)
    got = history(reversed_order)
    listed = set(parse_feed(LITELLM, march).models) | set(parse_feed(LITELLM, july).models)
    assert set(expected) == listed  # both snapshots' models, removed ones included
    with in_order.connect() as conn:
        held = {
            row.model_id: row.proposed
            for row in conn.execute(select(held_changes).where(held_changes.c.status == "pending"))
        }
    differing = {mid for mid in listed if got[mid] != expected[mid]}
    assert differing == set(held) and len(held) == 24
    for mid in held:
        # Held in time order: March's row alone; the July row the other order wrote is the
        # held proposal, not yet history.
        assert expected[mid] == got[mid][:1]
        assert got[mid][1][3] == held[mid]
    # Real changes between March and July are there, in time order, in both.
    moved = [mid for mid, rows in expected.items() if [r[1] for r in rows] == ["added", "changed"]]
    dropped = [
        mid for mid, rows in expected.items() if [r[1] for r in rows] == ["added", "removed"]
    ]
    assert moved and dropped
    assert all(rows[0][0] < rows[1][0] for rows in expected.values() if len(rows) == 2)
    # Current prices are July's, whatever the order (the held ones still March's in time order).
    in_order_served, reversed_served = served(in_order), served(reversed_order)
    assert {m: p for m, p in in_order_served.items() if m not in held} == {
        m: p for m, p in reversed_served.items() if m not in held
    }
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
        import_snapshot(reference, LITELLM, bodies[n], times[n], settings=UNGUARDED)
    for n in order:
        import_snapshot(engine, LITELLM, bodies[n], times[n], settings=UNGUARDED)
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


# --- an import goes through the refresh's guard and change log -------------------------------

APRIL = datetime(2026, 4, 1, tzinfo=UTC)


def log_entries(engine: Engine) -> list[tuple[Any, ...]]:
    """The change log as a subscriber reads it: (seq, kind, model, old, new)."""
    with engine.connect() as conn:
        return [(c.seq, c.kind, c.model_id, c.old, c.new) for c in read_changes(conn, limit=1000)]


def test_the_newest_import_holds_a_1000x_move_and_logs_what_it_changes(
    engine: Engine, tmp_path: Path, make_settings: SettingsFactory
) -> None:
    first = import_snapshot(
        engine, LITELLM, feed(a=("1e-6", "2e-6"), b=("1e-6", "1e-6"), c=("3e-6", "3e-6")), MARCH
    )
    assert [(e[1], e[2]) for e in log_entries(engine)] == [
        ("added", "a"),
        ("added", "b"),
        ("added", "c"),
    ]
    typo = feed(a=("1e-3", "2e-6"), b=("2e-6", "1e-6"), c=("3e-6", "3e-6"))
    second = import_snapshot(engine, LITELLM, typo, APRIL)

    assert second.newest and second.held == 1 and second.counts.changed == 1
    assert served(engine)["a"]["input_per_token"] == "0.000001"  # the typo is not served
    assert served(engine)["b"]["input_per_token"] == "0.000002"  # the ordinary move is
    new_entries = log_entries(engine)[3:]
    assert [(e[1], e[2]) for e in new_entries] == [("changed", "b"), ("held", "a")]
    assert new_entries[1][4]["input_per_token"] == "0.001"
    assert first.catalog_version is not None and second.catalog_version is not None

    # The live feed, correct again, applies at once: the import did not make it look 1000x off.
    live = tmp_path / "live.json"
    live.write_bytes(feed(a=("1.1e-6", "2e-6"), b=("2e-6", "1e-6"), c=("3e-6", "3e-6")))
    settings = make_settings(sources=sources_setting(litellm=live.as_uri()))
    report = refresh_catalog(make_deps(engine, settings))
    litellm = next(s for s in report.sources if s.source == "litellm")
    assert (litellm.changed, litellm.held) == (1, 0)
    assert served(engine)["a"]["input_per_token"] == "0.0000011"


def test_a_file_of_the_wrong_kind_is_refused_and_records_nothing(
    engine: Engine, feed_data: Path
) -> None:
    import_snapshot(engine, LITELLM, (feed_data / LITELLM_OLD).read_bytes(), MARCH)
    import_snapshot(engine, LITELLM, (feed_data / LITELLM_NEW).read_bytes(), JULY)
    before = (served(engine), history(engine), log_entries(engine), version(engine))
    wrong = (feed_data / OPENROUTER).read_bytes()  # an OpenRouter file, imported as litellm

    # As the newest observation (judged by the guard) and as an older one (against the
    # models listed before it): refused either way.
    for when in (datetime(2026, 8, 1, tzinfo=UTC), APRIL):
        with pytest.raises(BackfillError, match=r"would remove .* more than the 30%.*litellm"):
            import_snapshot(engine, LITELLM, wrong, when)
        assert (served(engine), history(engine), log_entries(engine), version(engine)) == before


def test_an_older_import_never_deletes_a_logged_change(
    engine: Engine, tmp_path: Path, make_settings: SettingsFactory
) -> None:
    """A refresh logs a's move at t3; an archive of t2 already has it: the t3 row goes, its
    entry stays (moved to the t2 row, the same move) with the same seq, old and new."""
    live = tmp_path / "live.json"
    settings = make_settings(sources=sources_setting(litellm=live.as_uri()))
    live.write_bytes(feed(a=("5e-6", "1e-6"), b=("1e-6", "1e-6")))
    refresh_catalog(make_deps(engine, settings))
    live.write_bytes(feed(a=("2.5e-6", "1e-6"), b=("1e-6", "1e-6")))
    refresh_catalog(make_deps(engine, settings))
    logged = log_entries(engine)
    assert [(e[1], e[2]) for e in logged] == [("added", "a"), ("added", "b"), ("changed", "a")]
    with engine.connect() as conn:
        refreshes = sorted(observation_times(conn, "litellm"))
    between = refreshes[0] + (refreshes[1] - refreshes[0]) / 2

    report = import_snapshot(
        engine, LITELLM, feed(a=("2.5e-6", "1e-6"), b=("1e-6", "1e-6")), between
    )

    assert not report.newest and report.rebased == 1
    assert log_entries(engine) == logged
    assert [r[0] for r in history(engine)["a"]] == [
        instant_text(refreshes[0]),
        instant_text(between),
    ]
    with engine.connect() as conn:
        at_t2 = queries.price_at(conn, "litellm", "a", between)
    assert at_t2 is not None and at_t2.price.input_per_token == Decimal("0.0000025")


def test_an_older_import_keeps_a_rejected_entrys_history(engine: Engine) -> None:
    import_snapshot(engine, LITELLM, feed(a=("1e-6", "1e-6"), b=("1e-6", "1e-6")), APRIL)
    garbage = json.loads(feed(a=("1e-6", "1e-6"), b=("1e-6", "1e-6")))
    garbage["b"]["input_cost_per_token"] = "abc"

    report = import_snapshot(engine, LITELLM, json.dumps(garbage).encode(), MARCH)

    assert report.rejected == 1
    # a is recorded at March; b, whose March entry was garbage, is not said to be absent then
    # (no "removed" row): its history starts in April, as before.
    assert [r[1] for r in history(engine)["b"]] == ["added"]
    assert [r[0] for r in history(engine)["a"]] == [instant_text(MARCH)]


@pytest.mark.parametrize(
    "name",
    ["litellm-../../etc", "litellm-<script>", "litellm-\nx", "litellm-" + "x" * 300, "litellm x"],
)
def test_cli_import_refuses_a_source_name_that_cannot_be_one(
    migrated_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    from ratecard.cli import main

    monkeypatch.setenv("DATABASE_URL", migrated_sqlite_url)
    snapshot = tmp_path / "feed.json"
    snapshot.write_bytes(feed(a=("1e-6", "2e-6")))
    args = ["prices", "import", str(snapshot), "--source", name, "--observed-at", "2026-03-14"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "--source" in result.output and "letters, digits" in result.output
    assert "Traceback" not in result.output and len(result.output) < 600

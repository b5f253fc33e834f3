"""The health checks' own database connection, against real PostgreSQL and SQLite files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask

from ratecard.catalog.snapshot import CatalogSnapshot
from ratecard.health.checks import read_catalog_state
from ratecard.health.probe_db import (
    DatabaseMissing,
    MissingTable,
    ProbeDatabase,
    ProbeError,
    pg_conninfo,
    sqlite_path,
)
from ratecard.migrations import HEAD_REVISION
from ratecard.web.health_probes import health_of
from ratecard.web.state import get_state
from tests.support.apps import as_a_worker, python_json
from tests.support.services import PG_ADMIN_DSN
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def probes() -> Iterator[Callable[[str], ProbeDatabase]]:
    """Build probes; their connections are closed after the test (databases get dropped)."""
    built: list[ProbeDatabase] = []

    def build(url: str) -> ProbeDatabase:
        probe = ProbeDatabase(url, connect_timeout=2)
        built.append(probe)
        return probe

    yield build
    for probe in built:
        probe.close()


def test_conninfo_keeps_credentials_and_parameters_and_adds_the_probe_s_own() -> None:
    conninfo = pg_conninfo(
        "postgresql+psycopg://app:p%40ss@db.internal:6432/prices?sslmode=require", 1
    )
    assert conninfo.startswith("postgresql://app:p%40ss@db.internal:6432/prices?")
    assert "sslmode=require" in conninfo
    assert "connect_timeout=2" in conninfo, "libpq's minimum: anything below 2 s means 2 s"
    assert "application_name=ratecard-health" in conninfo
    assert "options" not in conninfo, "PgBouncer 1.18 refuses an `options` startup parameter"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////abs/dir/rc.sqlite3", "/abs/dir/rc.sqlite3"),
        ("sqlite:///relative/rc.sqlite3", "relative/rc.sqlite3"),
        ("sqlite:///rc.sqlite3?timeout=5", "rc.sqlite3"),
        ("sqlite://", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_path_of_a_url(url: str, path: str) -> None:
    assert sqlite_path(url) == path


def test_postgresql_probe_reads_revision_and_catalog_read_only(
    probes: Callable[[str], ProbeDatabase], migrated_pg_url: str
) -> None:
    probe = probes(migrated_pg_url)
    probe.ping()
    assert probe.fetch_all("SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]
    last_success, counts = read_catalog_state(probe)
    assert last_success is None and sum(counts.values()) == 0
    with pytest.raises(ProbeError, match="read-only"):
        probe.fetch_all("DELETE FROM alembic_version")
    assert probe.fetch_all("SELECT count(*) FROM alembic_version") == [(1,)]


def test_postgresql_missing_table_keeps_the_connection(
    probes: Callable[[str], ProbeDatabase], pg_url: str
) -> None:
    probe = probes(pg_url)
    with pytest.raises(MissingTable):
        probe.fetch_all("SELECT version_num FROM alembic_version")
    connection = probe._conn
    probe.ping()
    assert probe._conn is connection, "a missing table is an answer, not a broken connection"


def test_sqlite_probe_reads_a_migrated_file_and_cannot_write(
    probes: Callable[[str], ProbeDatabase], migrated_sqlite_url: str
) -> None:
    probe = probes(migrated_sqlite_url)
    assert probe.fetch_all("SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]
    assert read_catalog_state(probe)[1] == {"priced": 0, "free": 0, "dynamic": 0, "unpriced": 0}
    with pytest.raises(ProbeError, match="readonly"):
        probe.fetch_all("DELETE FROM alembic_version")


def test_sqlite_probe_never_creates_a_missing_file(
    probes: Callable[[str], ProbeDatabase], sqlite_url: str
) -> None:
    probe = probes(sqlite_url)
    path = Path(sqlite_path(sqlite_url))
    for _ in range(2):
        with pytest.raises(DatabaseMissing, match="not found"):
            probe.ping()
    assert not path.exists() and not path.parent.exists()


def test_sqlite_file_without_schema_is_a_missing_table(
    probes: Callable[[str], ProbeDatabase], sqlite_url: str
) -> None:
    import sqlite3

    path = Path(sqlite_path(sqlite_url))
    path.parent.mkdir(parents=True)
    sqlite3.connect(path).close()  # an empty database file, as a failed first migrate leaves
    probe = probes(sqlite_url)
    with pytest.raises(MissingTable):
        probe.fetch_all("SELECT version_num FROM alembic_version")
    probe.ping()


def test_probe_reconnects_once_the_database_is_back(
    probes: Callable[[str], ProbeDatabase], migrated_pg_url: str
) -> None:
    proxy = TcpProxy(target_port=5432).start()
    try:
        name = migrated_pg_url.rsplit("/", 1)[1]
        probe = probes(f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{name}")
        probe.ping()
        proxy.stop()  # cuts the open connection and refuses new ones
        with pytest.raises(ProbeError):
            probe.ping()
        assert probe._conn is None, "a failed query must drop the connection"
        with pytest.raises(ProbeError, match="refused"):
            probe.ping()
        proxy.start()
        probe.ping()
    finally:
        proxy.stop()


def test_a_connection_cut_since_the_last_check_is_replaced_within_the_same_check(
    probes: Callable[[str], ProbeDatabase], migrated_pg_url: str
) -> None:
    probe = probes(migrated_pg_url)
    ((backend_pid,),) = probe.fetch_all("SELECT pg_backend_pid()")
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        # With a timeout, PostgreSQL waits until the backend is gone: no race with the next query.
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (backend_pid,))
    # The database is fine: the check must say so, not fail once over the stale socket.
    ((new_pid,),) = probe.fetch_all("SELECT pg_backend_pid()")
    assert new_pid != backend_pid


def test_readiness_never_builds_the_engine(
    make_app: Callable[..., Flask], migrated_pg_url: str
) -> None:
    app = make_app(database_url=migrated_pg_url)
    # With the catalog in memory (here as the master's preload gives it a worker), readiness
    # checks on its own connection: a saturated app pool must not fail it.
    get_state(app).need_catalog_cache().start_with(CatalogSnapshot.from_data({}))
    assert app.test_client().get("/health/ready").status_code == 200
    assert get_state(app)._engine is None, "a saturated app pool must not fail readiness"
    assert health_of(app).probe_db._conn is not None


def test_start_up_and_the_first_ready_answer_import_no_sqlalchemy(
    migrated_sqlite_url: str,
) -> None:
    code = as_a_worker(
        migrated_sqlite_url,
        "{}",
        "status = app.test_client().get('/health/ready').status_code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'sqlalchemy', 'alembic', 'httpx', 'pydantic'})\n"
        "print(json.dumps([status, heavy]))\n",
    )
    status, heavy = python_json(code)
    assert status == 200
    assert heavy == [], f"imported before the first ready answer: {heavy}"


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_catalog_state_reads_what_the_store_wrote(
    backend: str,
    probes: Callable[[str], ProbeDatabase],
    request: pytest.FixtureRequest,
) -> None:
    from datetime import UTC, datetime, timedelta

    from ratecard.db import build_engine
    from ratecard.schema import models, runs

    url = request.getfixturevalue(f"migrated_{'pg' if backend == 'postgresql' else 'sqlite'}_url")
    finished = datetime(2026, 7, 24, 12, 30, 15, 250000, tzinfo=UTC)
    engine = build_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                runs.insert(),
                [
                    {
                        "job": "refresh",
                        "started_at": finished,
                        "finished_at": finished,
                        "outcome": "success",
                    },
                    # Newer, but neither a success nor the refresh job: both must be ignored.
                    {
                        "job": "refresh",
                        "started_at": finished,
                        "outcome": "failed",
                        "finished_at": finished + timedelta(hours=1),
                    },
                    {
                        "job": "maintenance",
                        "started_at": finished,
                        "outcome": "success",
                        "finished_at": finished + timedelta(hours=2),
                    },
                ],
            )
            rows = [
                ("a", "priced", None),
                ("b", "priced", None),
                ("c", "free", None),
                ("d", "dynamic", finished),
            ]  # d was removed: not counted
            conn.execute(
                models.insert(),
                [
                    {
                        "source": "litellm",
                        "model_id": model_id,
                        "status": status,
                        "first_seen_at": finished,
                        "last_seen_at": finished,
                        "last_changed_at": finished,
                        "removed_at": removed,
                    }
                    for model_id, status, removed in rows
                ],
            )
    finally:
        engine.dispose()
    last_success, counts = read_catalog_state(probes(url))
    assert last_success == finished.timestamp()
    assert counts == {"priced": 2, "free": 1, "dynamic": 0, "unpriced": 0}

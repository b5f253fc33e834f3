"""Fixtures shared by every test: real PostgreSQL databases, Redis, settings."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from ratecard.db import build_engine
from ratecard.settings import Settings
from tests.support import scheduling
from tests.support.feeds import FeedServer
from tests.support.services import (
    FEED_DATA,
    REDIS_URL,
    PostgresDatabases,
    RedisServer,
    delete_keys,
)

# Fixtures of whole areas, used by tests in several folders: apps built from settings
# (`make_app`) and the change-log harness (`changes_app`, `build_changes_app`, `receiver`).
pytest_plugins = ["tests.support.apps", "tests.support.changes_app"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests first, longest first (tests/support/scheduling.py says why)."""
    items.sort(key=scheduling.expected_seconds, reverse=True)  # stable: the rest keep their order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `-n N` (xdist's `load`): load scheduling that keeps the dashboard's tests together."""
    if config.getvalue("dist") != "load":
        return None
    return scheduling.GroupedScheduling(config, log)


@pytest.fixture(scope="session")
def feed_data() -> Path:
    """The real feed snapshots kept in tests/data (exact bytes; see its README)."""
    return FEED_DATA


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture
def pg_url(pg_databases: PostgresDatabases) -> Iterator[str]:
    """A fresh, empty PostgreSQL database of this test's own (dropped soon after the test)."""
    url = pg_databases.create()
    yield url
    pg_databases.release(url)


@pytest.fixture
def migrated_pg_url(pg_databases: PostgresDatabases) -> Iterator[str]:
    """A fresh PostgreSQL database migrated to head (a copy of the session's template)."""
    url = pg_databases.create_migrated()
    yield url
    pg_databases.release(url)


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database, once on PostgreSQL and once on SQLite."""
    fixture = "migrated_pg_url" if request.param == "postgresql" else "migrated_sqlite_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on `db_url` (both kinds of database), disposed after the test."""
    eng = build_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file path (not created yet)."""
    return f"sqlite:///{tmp_path / 'instance' / 'ratecard.sqlite3'}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head per session; tests get copies of it."""
    from ratecard.migrations.upgrade import Migrator

    path = tmp_path_factory.mktemp("sqlite-template") / "ratecard.sqlite3"
    Migrator(f"sqlite:///{path}", echo=lambda _line: None).upgrade(wait=30)
    return path


@pytest.fixture
def migrated_sqlite_url(sqlite_url: str, sqlite_template: Path) -> str:
    """A fresh SQLite database migrated to head (a copy of the session's template file)."""
    target = Path(sqlite_url.removeprefix("sqlite:///"))
    target.parent.mkdir(parents=True, exist_ok=True)
    # The template is closed (its migrator disposed its engine), so a byte copy is a
    # consistent database; no -wal/-journal file is left beside it.
    shutil.copyfile(sqlite_template, target)
    return sqlite_url


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the machine's Redis; its keys are deleted after."""
    prefix = f"rctest:{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    delete_keys(client, prefix)
    client.close()


@pytest.fixture
def redis_url() -> str:
    """The machine's Redis (use with `redis_prefix`; never FLUSHDB it)."""
    return REDIS_URL


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of this test's own on a free port, for tests that stop or restart it."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Build Settings as from an empty environment, with overrides; no coordinator thread."""

    def build(**overrides: Any) -> Settings:
        base = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'rc.sqlite3'}"})
        overrides.setdefault("start_coordinator", False)
        overrides.setdefault("instance_id", f"test-{uuid.uuid4().hex[:6]}")
        return base.with_overrides(**overrides)

    return build


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A real local HTTP server of this test's own serving tests/data; stopped after."""
    with FeedServer() as server:
        yield server


@pytest.fixture
def pg_engine(migrated_pg_url: str) -> Iterator[Engine]:
    """An engine on a fresh migrated PostgreSQL database."""
    engine = build_engine(migrated_pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(migrated_sqlite_url: str) -> Iterator[Engine]:
    """An engine on a fresh migrated SQLite database."""
    engine = build_engine(migrated_sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the machine's Redis (use keys under `redis_prefix` only)."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    yield client
    client.close()

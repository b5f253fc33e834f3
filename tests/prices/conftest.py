"""Fixtures for the price tests: migrated databases of both kinds, engines, a Redis client.

The feed server fixture lives in tests/conftest.py (every area uses it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from ratecard.db import build_engine


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database, once on PostgreSQL and once on SQLite."""
    fixture = "migrated_pg_url" if request.param == "postgresql" else "migrated_sqlite_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = build_engine(db_url)
    yield eng
    eng.dispose()

"""Helpers for migration tests: run the real CLI as a process, list a database's tables."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import create_engine, inspect

from tests.support.services import REPO


def run_cli(
    args: list[str], database_url: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `ratecard ARGS` as a real process with DATABASE_URL set."""
    env = dict(os.environ, DATABASE_URL=database_url)
    return subprocess.run(
        [_ratecard(), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _ratecard() -> str:
    return os.path.join(os.path.dirname(sys.executable), "ratecard")


def table_names(database_url: str) -> set[str]:
    """Return the tables present in the database (empty set for a missing SQLite file)."""
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        if not os.path.exists(path):
            return set()
        database_url = f"sqlite:///file:{path}?mode=ro&uri=true"  # looking must not create
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()

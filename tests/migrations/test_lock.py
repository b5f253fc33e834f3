"""The migration lock: serialized, fail-fast or bounded wait, and never stuck after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from ratecard.db import build_engine
from ratecard.migrations.lock import migration_lock
from tests.migrations.helpers import run_cli, table_names

HOLD_LOCK_SCRIPT = """
import sys, time
from ratecard.db import build_engine
from ratecard.migrations.lock import migration_lock
with migration_lock(build_engine(sys.argv[1]), wait=10):
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_url(request: pytest.FixtureRequest) -> str:
    fixture = "pg_url" if request.param == "postgresql" else "sqlite_url"
    return str(request.getfixturevalue(fixture))


def test_fail_fast_refuses_at_once_while_another_migrate_holds_the_lock(empty_url: str) -> None:
    engine = build_engine(empty_url)
    with migration_lock(engine, wait=5):
        started = time.monotonic()
        result = run_cli(["migrate", "--fail-fast"], empty_url)
        elapsed = time.monotonic() - started
    engine.dispose()

    assert result.returncode == 3
    assert "--fail-fast" in result.stderr
    assert elapsed < 10
    assert "alembic_version" not in table_names(empty_url)


def test_wait_gives_up_after_the_given_seconds(empty_url: str) -> None:
    engine = build_engine(empty_url)
    with migration_lock(engine, wait=5):
        started = time.monotonic()
        result = run_cli(["migrate", "--wait", "1"], empty_url)
        elapsed = time.monotonic() - started
    engine.dispose()

    assert result.returncode == 3
    assert "more than 1 s" in result.stderr
    assert elapsed >= 1.0


def test_a_killed_migrate_leaves_no_stuck_lock(empty_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK_SCRIPT, empty_url],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        blocked = run_cli(["migrate", "--fail-fast"], empty_url)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)

        after_crash = run_cli(["migrate", "--fail-fast"], empty_url)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()

    assert blocked.returncode == 3
    assert after_crash.returncode == 0, after_crash.stderr
    assert "alembic_version" in table_names(empty_url)

"""`ratecard worker` and the documented `python singleton_background_worker.py` entry point."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from ratecard.cli.worker import worker
from ratecard.coordination.schedule import slot_of
from ratecard.db import build_engine
from tests.support.services import REPO, clean_env, free_port

EDGE_FEED = "openrouter=file://{data}/openrouter_models_edge_cases.json"


@pytest.fixture
def env(migrated_sqlite_url: str, feed_data: Path) -> dict[str, str]:
    """A process environment: SQLite database, one tiny real feed, no Redis."""
    base = clean_env()
    base.update(
        DATABASE_URL=migrated_sqlite_url,
        RATECARD_SOURCES=EDGE_FEED.format(data=feed_data),
        RATECARD_LOG_FORMAT="text",
    )
    return base


def entry_point(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the documented command verbatim from the repository root."""
    return subprocess.run(
        [sys.executable, "singleton_background_worker.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_run_once_refreshes_under_the_lease_and_completes_the_slot(env: dict[str, str]) -> None:
    result = entry_point(["--run-once"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refresh: "), result.stdout
    engine = build_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        last_slot = conn.execute(
            text("SELECT last_slot FROM job_state WHERE job = 'refresh'")
        ).scalar()
        outcomes = conn.execute(
            text("SELECT outcome, trigger FROM runs WHERE job = 'refresh'")
        ).all()
        free = conn.execute(text("SELECT count(*) FROM leases WHERE token IS NOT NULL")).scalar()
    engine.dispose()
    assert last_slot == slot_of(time.time(), 10800.0)
    assert [tuple(o) for o in outcomes] == [(outcomes[0][0], "cli")] and outcomes[0][0] != "failed"
    assert free == 0, "the lease is released after the run"


def test_status_shows_slots_runs_and_backend(env: dict[str, str]) -> None:
    assert entry_point(["--run-once"], env).returncode == 0
    result = entry_point(["--status"], env)
    assert result.returncode == 0, result.stderr
    assert "backend: database" in result.stdout
    assert "job refresh: every 10800 s" in result.stdout
    assert "run #1" in result.stdout and " cli " in result.stdout
    data = json.loads(entry_point(["--status", "--json"], env).stdout)
    refresh = data["jobs"]["refresh"]
    assert data["backend"] == "database"
    assert refresh["last_completed_slot"] == slot_of(time.time(), 10800.0)
    assert refresh["lease"]["holder"] is None
    assert refresh["recent_runs"][0]["duration"] is not None
    assert 0 < refresh["next_due_in"] <= 10800
    assert set(data["jobs"]) == {"refresh", "maintenance"}


def test_run_once_exits_non_zero_when_nothing_can_run(env: dict[str, str]) -> None:
    env = env | {"DATABASE_URL": f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/none"}
    result = entry_point(["--run-once"], env)
    assert result.returncode == 1
    assert "unavailable" in result.stdout
    assert "s3cret" not in result.stdout + result.stderr
    status = entry_point(["--status", "--json"], env)
    assert status.returncode == 1
    assert json.loads(status.stdout)["backend"] is None


def test_options_and_subcommand_usage() -> None:
    runner = CliRunner()
    assert runner.invoke(worker, ["--status", "--run-once"]).exit_code == 2
    assert runner.invoke(worker, ["--status", "run"]).exit_code == 2
    shown = runner.invoke(worker, [])
    assert shown.exit_code == 0 and "--run-once" in shown.output and "run" in shown.output


def test_worker_run_stops_on_sigterm_and_releases(env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "ratecard"), "worker", "run"],
        cwd=REPO,
        env=env | {"RATECARD_HEARTBEAT_INTERVAL": "0.2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        engine = build_engine(env["DATABASE_URL"])
        deadline = time.monotonic() + 20
        slot = -1
        while time.monotonic() < deadline and slot < 0:
            with engine.connect() as conn:
                query = "SELECT max(last_slot) FROM job_state WHERE job = 'refresh'"
                found = conn.execute(text(query)).scalar()
                slot = -1 if found is None else int(found)
            time.sleep(0.1)
        assert slot == slot_of(time.time(), 10800.0), "a fresh deploy refreshes within seconds"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        with engine.connect() as conn:
            held = conn.execute(
                text("SELECT count(*) FROM leases WHERE token IS NOT NULL")
            ).scalar()
        engine.dispose()
        assert held == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

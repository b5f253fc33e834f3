"""`ratecard worker` and the documented `python singleton_background_worker.py` entry point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from ratecard.cli.worker import worker
from ratecard.coordination.schedule import slot_of
from ratecard.db import build_engine
from tests.support.logs import root_handlers_kept
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
    assert runner.invoke(worker, ["--run-once", "status"]).exit_code == 2
    # The aliases' options before a subcommand would be ignored silently: refused instead.
    misplaced = runner.invoke(worker, ["--json", "status"])
    assert misplaced.exit_code == 2 and "--json: give options after the subcommand" in (
        misplaced.output
    )
    assert runner.invoke(worker, ["--wait", "3", "run-once"]).exit_code == 2
    shown = runner.invoke(worker, [])
    assert shown.exit_code == 0 and "--run-once" in shown.output and "run" in shown.output
    for name in ("status", "run-once", "run"):
        assert f"ratecard worker {name}" in shown.output, f"--help names `worker {name}`"
    run_once_help = runner.invoke(worker, ["run-once", "--help"]).output
    assert "--wait" in run_once_help and "--json" in run_once_help and "--job" in run_once_help
    assert "--json" in runner.invoke(worker, ["status", "--help"]).output


@pytest.fixture
def restore_logging() -> Iterator[None]:
    with root_handlers_kept():
        yield


def runner_env(env: dict[str, str]) -> dict[str, str | None]:
    """The test's settings for CliRunner, and every other ratecard setting of ours unset."""
    unset: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith("RATECARD_") or name == "REDIS_URL"
    }
    return {**unset, **{k: v for k, v in env.items() if k.startswith(("RATECARD_", "DATABASE"))}}


def test_run_once_and_status_subcommands_through_the_click_runner(
    env: dict[str, str], restore_logging: None
) -> None:
    runner = CliRunner()
    ran = runner.invoke(worker, ["run-once", "--json", "--wait", "5"], env=runner_env(env))
    assert ran.exit_code == 0, ran.output
    result = json.loads(ran.stdout)
    assert result["job"] == "refresh" and result["trigger"] == "cli"
    assert result["outcome"] not in ("failed", "unavailable")
    assert result["slot"] == slot_of(time.time(), 10800.0)

    shown = runner.invoke(worker, ["status", "--json"], env=runner_env(env))
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["backend"] == "database"
    assert data["jobs"]["refresh"]["last_completed_slot"] == result["slot"]
    assert data["jobs"]["refresh"]["recent_runs"][0]["trigger"] == "cli"

    text_status = runner.invoke(worker, ["status"], env=runner_env(env))
    assert text_status.exit_code == 0 and "backend: database" in text_status.stdout
    unknown = runner.invoke(worker, ["run-once", "--job", "nope"], env=runner_env(env))
    assert unknown.exit_code == 2 and "unknown job 'nope'" in unknown.output


def test_run_once_and_status_subcommands_as_real_processes(env: dict[str, str]) -> None:
    ratecard = str(Path(sys.executable).parent / "ratecard")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ratecard, "worker", *args], cwd=REPO, env=env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip

    ran = run("run-once", "--json")
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["trigger"] == "cli" and result["outcome"] not in ("failed", "unavailable")

    shown = run("status", "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["jobs"]["refresh"]["last_completed_slot"] == result["slot"]
    assert data["jobs"]["refresh"]["lease"]["holder"] is None, "released after the run"

    unreachable = env | {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/none"}
    down = subprocess.run(
        [ratecard, "worker", "status"], cwd=REPO, env=unreachable, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert down.returncode == 1, "status exits 1 when no backend answers"
    assert "backend: none" in down.stdout


def test_the_documented_entry_point_takes_the_subcommands_too(env: dict[str, str]) -> None:
    result = entry_point(["run-once"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refresh: "), result.stdout


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


def test_a_run_without_slot_or_fence_is_shown_without_them() -> None:
    """An admin review or an import claims no slot and holds no fence: no `slot None`."""
    from ratecard.cli.worker import format_result, format_status

    run = {"id": 7, "outcome": "success", "trigger": "admin", "slot": None, "fence": None,
           "instance_id": "admin@vm:1", "started_at": 0.0, "duration": 0.5}  # fmt: skip
    data = {
        "backend": "redis",
        "jobs": {
            "held-review": {
                "interval": 10800.0,
                "slot_now": 3,
                "lease": {"store": "redis"},
                "last_completed_slot": 2,
                "next_due_at": 0.0,
                "next_due_in": 1.0,
                "recent_runs": [run, {**run, "id": 8, "slot": 2, "fence": 9}],
            }
        },
    }
    shown = format_status(data)
    assert "None" not in shown
    assert "run #7 success    admin     by admin@vm:1" in shown
    assert "run #8 success    admin     slot 2 fence 9 by admin@vm:1" in shown
    result = {"job": "refresh", "outcome": "fenced", "trigger": "cli", "slot": None,
              "fence": None, "duration": 0.25}  # fmt: skip
    assert format_result(result) == "refresh: fenced (trigger cli, 0.25 s)"
    assert format_result({**result, "slot": 4, "fence": 2}) == (
        "refresh: fenced (trigger cli, slot 4, fence 2, 0.25 s)"
    )

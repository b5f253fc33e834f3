"""`ratecard health [--json]`: the data of /health, exit 1 on fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from ratecard.cli import main
from tests.support.services import REPO

CLEAN_ENV = {"REDIS_URL": "", "RATECARD_ADMIN_TOKEN": "", "RATECARD_COORDINATOR": "false"}


def test_health_json_exits_0_when_nothing_fails(migrated_sqlite_url: str) -> None:
    result = CliRunner().invoke(
        main, ["health", "--json"], env={**CLEAN_ENV, "DATABASE_URL": migrated_sqlite_url}
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] in ("pass", "warn")
    assert data["checks"]["database:schemaRevision"][0]["status"] == "pass"


def test_health_exits_1_on_fail_and_prints_a_table(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["health"], env={**CLEAN_ENV, "DATABASE_URL": sqlite_url})
    assert result.exit_code == 1
    assert "database:schemaRevision" in result.stdout
    assert "ratecard migrate" in result.stdout


def test_health_as_a_real_process_and_through_optimized_startup(pg_url: str) -> None:
    env = {**os.environ, **CLEAN_ENV, "DATABASE_URL": pg_url}
    process = subprocess.run(
        [str(Path(sys.executable).parent / "ratecard"), "health", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert process.returncode == 1, process.stderr
    assert json.loads(process.stdout)["status"] == "fail"
    documented = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from optimized_startup import get_health_check_data; "
            "print(json.dumps(get_health_check_data()))",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert documented.returncode == 0, documented.stderr
    data = json.loads(documented.stdout)
    assert data["checks"]["database:schemaRevision"][0]["status"] == "fail"
    assert "ratecard migrate" in data["checks"]["database:schemaRevision"][0]["output"]


def test_bad_settings_exit_2_in_one_line() -> None:
    result = CliRunner().invoke(main, ["health"], env={"DATABASE_URL": "mysql://x/y"})
    assert result.exit_code == 2
    assert "DATABASE_URL" in result.output

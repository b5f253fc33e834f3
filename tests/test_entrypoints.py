"""The documented root scripts run under an interpreter that lacks ratecard's dependencies."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.services import REPO


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("deploy_migrations.py", ["--status"], "head:"),
        ("singleton_background_worker.py", ["--help"], "--run-once"),
    ],
)
def test_a_bare_python_reruns_the_script_under_the_project_venv(
    script: str, args: list[str], expected: str, sqlite_url: str
) -> None:
    # -S: no site-packages, so none of ratecard's dependencies can be imported directly.
    result = subprocess.run(
        [sys.executable, "-S", script, *args],
        cwd=REPO,
        env=dict(os.environ, DATABASE_URL=sqlite_url),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert expected in result.stdout

"""`ratecard serve`: gunicorn answers /health/live and never migrates on start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.migrations.helpers import table_names
from tests.support.processes import serve
from tests.support.services import free_port


def test_serve_answers_live_and_leaves_an_unmigrated_database_alone(
    pg_url: str, tmp_path: Path
) -> None:
    server = serve(
        tmp_path / "serve.out",
        stderr_path=tmp_path / "serve.err",
        DATABASE_URL=pg_url,
        RATECARD_COORDINATOR="false",
    )
    try:
        server.start().wait_ready(timeout=20)
        url = f"http://127.0.0.1:{server.port}/health/live"
        with urllib.request.urlopen(url, timeout=5) as reply:
            status = reply.status
            content_type = reply.headers["Content-Type"]
        tables = table_names(pg_url)
    finally:
        code = server.stop()

    assert status == 200
    assert content_type.startswith("application/health+json")
    assert tables == set(), "an instance start must never migrate"
    assert code == 0
    # Off a terminal, every line (gunicorn's own included) is one JSON object naming the instance.
    lines = [line for line in server.errors().splitlines() if line.strip()]
    assert any("Booting worker" in line for line in lines)
    for line in lines:
        assert "instance" in json.loads(line), line


def test_serve_refuses_bad_settings_before_starting_gunicorn() -> None:
    env = dict(os.environ, RATECARD_REFRESH_INTERVAL="soon")
    ratecard = os.path.join(os.path.dirname(sys.executable), "ratecard")
    started = time.monotonic()
    result = subprocess.run(
        [ratecard, "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert "RATECARD_REFRESH_INTERVAL must be a number of seconds" in result.stderr
    assert time.monotonic() - started < 20

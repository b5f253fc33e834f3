"""`ratecard serve`: gunicorn answers /health/live and never migrates on start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.migrations.helpers import table_names
from tests.support.processes import ServedProcess
from tests.support.services import REPO, free_port


def test_serve_answers_live_and_leaves_an_unmigrated_database_alone(
    pg_url: str, tmp_path: Path
) -> None:
    port = free_port()
    # The port comes from RATECARD_BIND: `serve` takes what --host/--port leave unsaid from it.
    server = ServedProcess(
        ["serve", "--workers", "1"],
        {
            "DATABASE_URL": pg_url,
            "RATECARD_COORDINATOR": "false",
            "RATECARD_BIND": f"127.0.0.1:{port}",
        },
        tmp_path / "serve.out",
        tmp_path / "serve.err",
        port=port,
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


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "RATECARD_REFRESH_INTERVAL",
            "soon",
            "RATECARD_REFRESH_INTERVAL must be a number of seconds ≥ 0.5, got 'soon'",
        ),
        # gunicorn itself reads WEB_CONCURRENCY with int() at import: a traceback unless caught.
        (
            "WEB_CONCURRENCY",
            "abc",
            "WEB_CONCURRENCY must be a whole number from 1 to 64, got 'abc'",
        ),
        ("RATECARD_THREADS", "x", "RATECARD_THREADS must be a whole number from 1 to 256, got 'x'"),
    ],
)
def test_serve_refuses_bad_settings_in_one_line_before_starting_gunicorn(
    variable: str, value: str, message: str
) -> None:
    ratecard = os.path.join(os.path.dirname(sys.executable), "ratecard")
    started = time.monotonic()
    result = subprocess.run(
        [ratecard, "serve", "--port", str(free_port())],
        env=dict(os.environ, **{variable: value}),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"Error: {message}"]
    assert time.monotonic() - started < 20


def test_gunicorn_started_directly_stops_on_a_bad_setting_in_one_line() -> None:
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    result = subprocess.run(
        [gunicorn, "--config", "python:ratecard.gunicorn_conf", "ratecard.wsgi:app"],
        cwd=REPO,
        env=dict(os.environ, RATECARD_THREADS="x", FORWARDED_ALLOW_IPS="*"),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Error: RATECARD_THREADS must be a whole number from 1 to 256, got 'x'"
    ]


def test_serve_help_gives_the_declared_defaults() -> None:
    from click.testing import CliRunner

    from ratecard.cli.serve import serve

    shown = CliRunner().invoke(serve, ["--help"]).output.replace("\n", " ")
    for text in (
        "$RATECARD_BIND, else 0.0.0.0 with $PORT, else 127.0.0.1",
        "$PORT, else 8000",
        "$WEB_CONCURRENCY or 2",
    ):
        assert text in " ".join(shown.split()), text

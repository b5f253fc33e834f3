"""`ratecard` itself: a plain `serve` reaches gunicorn without click; anything else is click's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from ratecard.launch import gunicorn_argv, listen_problem, plain_serve_options
from ratecard.settings import Settings

RATECARD = os.path.join(os.path.dirname(sys.executable), "ratecard")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], {}),
        (["--port", "8001"], {"port": 8001}),
        (
            ["--host=0.0.0.0", "--port=0", "--workers", "3"],
            {"host": "0.0.0.0", "port": 0, "workers": 3},
        ),
        (["--workers", "64", "--host", "::1"], {"workers": 64, "host": "::1"}),
    ],
)
def test_plain_serve_options_are_read_as_click_reads_them(
    args: list[str], expected: dict[str, object]
) -> None:
    assert plain_serve_options(args) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--port"],
        ["--port", "65536"],
        ["--port", "-1"],
        ["--port", "\uff18\uff10"],  # full-width digits: left to click, whatever it decides
        ["--workers", "0"],
        ["--workers", "65"],
        ["--host", "--port", "80"],
        ["--host="],
        ["--port", "80", "--port", "81"],
        ["--bind", "x"],
        ["extra"],
    ],
)
def test_anything_unusual_is_left_to_click(args: list[str]) -> None:
    assert plain_serve_options(args) is None


def test_options_override_the_bind_setting() -> None:
    settings = Settings(bind="10.0.0.1:9000")
    assert gunicorn_argv(settings)[3:5] == ["--bind", "10.0.0.1:9000"]
    argv = gunicorn_argv(settings, port=81, workers=3)
    assert argv[3:] == ["--bind", "10.0.0.1:81", "--workers", "3", "ratecard.wsgi:app"]


def test_a_platforms_port_is_listened_on_unless_the_bind_says_otherwise() -> None:
    assert Settings.from_env({}).listen == "127.0.0.1:8000"
    assert Settings.from_env({"PORT": "5123"}).listen == "0.0.0.0:5123"
    both = Settings.from_env({"PORT": "5123", "RATECARD_BIND": "127.0.0.1:9000"})
    assert both.listen == "127.0.0.1:9000", "an explicit bind wins over the platform's port"
    assert gunicorn_argv(Settings.from_env({"PORT": "5123"}))[3:5] == ["--bind", "0.0.0.0:5123"]


def test_a_listen_address_that_cannot_be_had_is_explained_before_gunicorn_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert listen_problem("127.0.0.1", port) == "another process listens there"
        env = {**os.environ, "RATECARD_BIND": f"127.0.0.1:{port}", "DATABASE_URL": "sqlite://"}
        started = time.monotonic()
        done = subprocess.run(
            [RATECARD, "serve"], capture_output=True, text=True, env=env, timeout=60
        )
    assert time.monotonic() - started < 10, "no gunicorn retries"
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: cannot listen on 127.0.0.1:{port}: another process listens there. "
        "Set RATECARD_BIND=HOST:PORT (or PORT), or pass --host/--port, to listen elsewhere."
    )
    assert listen_problem("192.0.2.1", 0) == "no interface of this machine has that address"
    assert "resolve" in (listen_problem("no-such-host.invalid", 0) or "")
    assert listen_problem("127.0.0.1", 0) is None


def test_the_serve_path_imports_no_click() -> None:
    code = "import sys, ratecard.launch, ratecard.gunicorn_conf; print('click' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_bad_option_gets_clicks_usage_error() -> None:
    done = subprocess.run(
        [RATECARD, "serve", "--port", "65536"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "Invalid value for '--port'" in done.stderr
    assert "Usage: ratecard serve" in done.stderr

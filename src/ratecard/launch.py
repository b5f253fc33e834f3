"""The `ratecard` command: `serve` goes straight to gunicorn; everything else is the click CLI.

Every instance start runs `ratecard serve`, and importing click and the CLI tree before
gunicorn cost ~20 ms of the exec -> first ready answer. A plain invocation (only
--host, --port and --workers, with values click would accept, and settings that load) starts
gunicorn without importing click. Anything else (--help, an unknown option, a bad value, a
bad setting) goes through click, which answers exactly as it always did.
"""

from __future__ import annotations

import sys
from typing import Any

from ratecard.settings import MAX_WORKERS, Settings, SettingsError, format_bind, split_bind

PORT_RANGE = (0, 65535)
WORKERS_RANGE = (1, MAX_WORKERS)
# `serve`'s options (cli/serve.py declares them for click with the same ranges): each one's
# inclusive range of whole numbers, or None for any text.
SERVE_OPTIONS: dict[str, tuple[int, int] | None] = {
    "--host": None,
    "--port": PORT_RANGE,
    "--workers": WORKERS_RANGE,
}


def main() -> None:
    """Entry point of the `ratecard` console script."""
    args = sys.argv[1:]
    if args[:1] == ["serve"]:
        options = plain_serve_options(args[1:])
        if options is not None:
            try:
                settings = Settings.from_env()
            except SettingsError:
                pass  # click's `serve` words it (one line, exit 2)
            else:
                run_gunicorn(settings, **options)
    # Deferred: click and the command tree (~30 ms) are for every command but `serve`, which
    # goes straight to gunicorn.
    from ratecard.cli import main as cli

    cli()


def plain_serve_options(args: list[str]) -> dict[str, Any] | None:
    """Return `serve`'s options as keyword arguments, or None when click should parse them."""
    found: dict[str, Any] = {}
    rest = list(args)
    while rest:
        name, equals, value = rest.pop(0).partition("=")
        if name not in SERVE_OPTIONS or name[2:] in found:
            return None
        if not equals:
            if not rest:
                return None
            value = rest.pop(0)
        if not value or value.startswith("-"):
            return None
        limits = SERVE_OPTIONS[name]
        if limits is None:
            found[name[2:]] = value
            continue
        if not (value.isascii() and value.isdigit()) or not limits[0] <= int(value) <= limits[1]:
            return None
        found[name[2:]] = int(value)
    return found


def gunicorn_argv(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
) -> list[str]:
    """Return gunicorn's command line for `ratecard serve` (options override the settings)."""
    bind_host, bind_port = split_bind(settings.bind)
    argv = [
        "gunicorn",
        "--config",
        "python:ratecard.gunicorn_conf",
        "--bind",
        format_bind(bind_host if host is None else host, bind_port if port is None else port),
    ]
    if workers is not None:
        argv += ["--workers", str(workers)]
    argv.append("ratecard.wsgi:app")
    return argv


def run_gunicorn(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
) -> None:
    """Run gunicorn in this very process; it exits the process when it stops."""
    # No second interpreter start: signals from the platform (SIGTERM on scale-in) reach
    # gunicorn's master directly, and start-up stays short. Every setting, gunicorn's
    # included, was checked before this import: gunicorn reads WEB_CONCURRENCY with int() at
    # import and would print a traceback.
    from gunicorn.app.wsgiapp import run

    sys.argv = gunicorn_argv(settings, host, port, workers)
    run()

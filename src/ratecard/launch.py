"""The `ratecard` command: `serve` goes straight to gunicorn; everything else is the click CLI.

Every instance start runs `ratecard serve`, and importing click and the CLI tree before
gunicorn cost ~20 ms of the exec -> first ready answer. A plain invocation (only
--host, --port and --workers, with values click would accept, and settings that load) starts
gunicorn without importing click. Anything else (--help, an unknown option, a bad value, a
bad setting) goes through click, which answers exactly as it always did.
"""

from __future__ import annotations

import errno
import gc
import socket
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
    try:
        from ratecard.cli import main as cli
    except ModuleNotFoundError as exc:
        # The library install (`pip install ratecard`) has the client, not the service.
        sys.exit(
            f"ratecard: the command needs the service's packages ({exc.name} is missing): "
            "pip install 'ratecard[server]'"
        )
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


def listen_address(
    settings: Settings, host: str | None = None, port: int | None = None
) -> tuple[str, int]:
    """Where `ratecard serve` listens: the options, else the settings (RATECARD_BIND, PORT)."""
    bind_host, bind_port = split_bind(settings.listen)
    return (bind_host if host is None else host, bind_port if port is None else port)


def gunicorn_argv(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
) -> list[str]:
    """Return gunicorn's command line for `ratecard serve` (options override the settings)."""
    argv = [
        "gunicorn",
        "--config",
        "python:ratecard.gunicorn_conf",
        "--bind",
        format_bind(*listen_address(settings, host, port)),
    ]
    if workers is not None:
        argv += ["--workers", str(workers)]
    argv.append("ratecard.wsgi:app")
    return argv


# Why a listen address cannot be had, by the error binding it raises.
_LISTEN_ERRORS = {
    errno.EADDRINUSE: "another process listens there",
    errno.EADDRNOTAVAIL: "no interface of this machine has that address",
    errno.EACCES: "ports below 1024 need privileges",
}


def listen_problem(host: str, port: int) -> str | None:
    """Why gunicorn could not listen on host:port, or None: found by binding it first, the
    way gunicorn does (SO_REUSEADDR), and letting it go at once.

    gunicorn's own answer to a busy port is five retries, then "Can't connect to ('127.0.0.1',
    8000)": it does not say which setting moves it. A process that takes the port between this
    check and gunicorn's bind still gets gunicorn's answer.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        return f"{host!r} is not a host name or address this machine can resolve"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return _LISTEN_ERRORS.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return None


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
    listen_host, listen_port = listen_address(settings, host, port)
    problem = listen_problem(listen_host, listen_port)
    if problem is not None:
        where = format_bind(listen_host, listen_port)
        print(
            f"Error: cannot listen on {where}: {problem}. Set RATECARD_BIND=HOST:PORT (or PORT), "
            "or pass --host/--port, to listen elsewhere.",
            file=sys.stderr,
        )
        raise SystemExit(1)
    # No collections while gunicorn, its config and the preload import: everything they
    # allocate lives as long as the process. The master's when_ready freezes it and turns the
    # collector back on before forking a worker (gunicorn_conf).
    gc.disable()
    if settings.preload:
        # The readiness helper (its checks, the catalog from Redis) forked now, not in
        # gunicorn's on_starting ~100 ms later (gunicorn's import and config): it imports
        # psycopg and redis (~170 ms) on the other core while this process imports the rest,
        # and had become the last to finish before the workers could fork. on_starting finds
        # it started. Deferred: readiness_seed's imports are for this path only.
        from ratecard import readiness_seed

        readiness_seed.start(settings)
    from gunicorn.app.wsgiapp import run

    sys.argv = gunicorn_argv(settings, host, port, workers)
    run()

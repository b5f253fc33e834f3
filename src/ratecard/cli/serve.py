"""`ratecard serve`: the web instance under gunicorn. It never migrates."""

from __future__ import annotations

import sys

import click

from ratecard.cli.common import load_settings
from ratecard.settings import BY_ENV, MAX_WORKERS, format_bind, split_bind

# For the help texts only: the values themselves come from Settings (one declaration each).
_BIND_HOST, _BIND_PORT = split_bind(BY_ENV["RATECARD_BIND"].default or "")
_WORKERS = BY_ENV["WEB_CONCURRENCY"].default


@click.command()
@click.option(
    "--host",
    default=None,
    help=f"Address to bind [default: the host of $RATECARD_BIND, else {_BIND_HOST}].",
)
@click.option(
    "--port",
    default=None,
    type=click.IntRange(0, 65535),
    help=f"Port to bind [default: the port of $RATECARD_BIND, else {_BIND_PORT}].",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, MAX_WORKERS),
    help=f"gunicorn worker processes [default: $WEB_CONCURRENCY or {_WORKERS}].",
)
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the app under gunicorn (one coordinator thread per worker, started after fork).

    Never runs migrations: run `ratecard migrate` in the release phase. An instance whose
    database is behind still starts; /health/ready reports it.
    """
    # Every setting, gunicorn's included, is checked here, in one line, before gunicorn is
    # imported: gunicorn reads WEB_CONCURRENCY with int() at import and would print a traceback.
    settings = load_settings()
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
    # gunicorn runs in this very process (no second interpreter start): signals from the
    # platform (SIGTERM on scale-in) reach its master directly, and start-up stays short.
    from gunicorn.app.wsgiapp import run

    sys.argv = argv
    run()

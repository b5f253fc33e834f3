"""`ratecard serve`: the web instance under gunicorn. It never migrates."""

from __future__ import annotations

import click

from ratecard.cli.common import load_settings
from ratecard.launch import PORT_RANGE, WORKERS_RANGE, run_gunicorn
from ratecard.settings import BY_ENV, DEFAULT_BIND, split_bind

# For the help texts only: the values themselves come from Settings (one declaration each).
_BIND_HOST, _BIND_PORT = split_bind(DEFAULT_BIND)
_WORKERS = BY_ENV["WEB_CONCURRENCY"].default


@click.command()
@click.option(
    "--host",
    default=None,
    help=f"Address to bind [default: the host of $RATECARD_BIND, else 0.0.0.0 with $PORT, "
    f"else {_BIND_HOST}].",
)
@click.option(
    "--port",
    default=None,
    type=click.IntRange(*PORT_RANGE),
    help=f"Port to bind [default: the port of $RATECARD_BIND, else $PORT, else {_BIND_PORT}].",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(*WORKERS_RANGE),
    help=f"gunicorn worker processes [default: $WEB_CONCURRENCY or {_WORKERS}].",
)
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the app under gunicorn (one coordinator thread per worker, started after fork).

    Never runs migrations: run `ratecard migrate` in the release phase. An instance whose
    database is behind still starts; /health/ready reports it.
    """
    # Every setting, gunicorn's included, is checked here, in one line, before gunicorn is
    # imported: gunicorn reads WEB_CONCURRENCY with int() at import and would print a traceback.
    # (`ratecard serve` with plain options gets here without click: ratecard.launch.)
    run_gunicorn(load_settings(), host, port, workers)

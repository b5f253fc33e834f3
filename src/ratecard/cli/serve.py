"""`ratecard serve`: the web instance under gunicorn. It never migrates."""

from __future__ import annotations

import sys

import click

from ratecard.cli.common import load_settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to bind."
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="gunicorn worker processes [default: $WEB_CONCURRENCY or 2].",
)
def serve(host: str, port: int, workers: int | None) -> None:
    """Serve the app under gunicorn (one coordinator thread per worker, started after fork).

    Never runs migrations: run `ratecard migrate` in the release phase. An instance whose
    database is behind still starts; /health/ready reports it.
    """
    load_settings()  # fail here, in one line, rather than in every worker
    argv = [
        "gunicorn",
        "--config",
        "python:ratecard.gunicorn_conf",
        "--bind",
        f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
    ]
    if workers is not None:
        argv += ["--workers", str(workers)]
    argv.append("ratecard.wsgi:app")
    # gunicorn runs in this very process (no second interpreter start): signals from the
    # platform (SIGTERM on scale-in) reach its master directly, and start-up stays short.
    from gunicorn.app.wsgiapp import run

    sys.argv = argv
    run()

"""The `ratecard` command line (click). Each area's commands live in their own module."""

from __future__ import annotations

import click

from ratecard import __version__
from ratecard.cli.common import LazyGroup

COMMANDS = {
    "serve": "ratecard.cli.serve:serve",
    "migrate": "ratecard.cli.migrate:migrate",
    "worker": "ratecard.cli.worker:worker",
    "prices": "ratecard.cli.prices:prices",
    "models": "ratecard.cli.model_search:models",
    "cost": "ratecard.cli.usage_log:cost",
    "health": "ratecard.cli.health:health",
    "fleet": "ratecard.cli.fleet:fleet",
    "price-books": "ratecard.cli.books:price_books",
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS)
@click.version_option(__version__, prog_name="ratecard")
def main() -> None:
    """ratecard: an AI model price catalog kept current by one instance of a fleet.

    Settings come from the environment (DATABASE_URL, REDIS_URL, RATECARD_SOURCES, ...);
    see the README for the full table.
    """


__all__ = ["main"]

"""`ratecard health [--json]`: run every health check in-process; exit 1 when any fails."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from ratecard.cli.common import load_settings


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the health document as JSON.")
def health(as_json: bool) -> None:
    """Check the database, schema, Redis, catalog and coordinator as /health does.

    Prints every detail (this runs with the operator's own environment); exits 0 on pass or
    warn, 1 on fail.
    """
    from ratecard.probe_app import get_health_check_data, probe_app
    from ratecard.web.state import get_state

    app = probe_app(load_settings())
    # The table already shows every failure; the checks' transition log lines would repeat it.
    health_log = logging.getLogger("ratecard.health")
    level = health_log.level
    health_log.setLevel(logging.ERROR)
    try:
        data = get_health_check_data(app)
    finally:
        health_log.setLevel(level)
        get_state(app).shutdown()
    click.echo(json.dumps(data, indent=2) if as_json else render_table(data))
    sys.exit(1 if data["status"] == "fail" else 0)


def render_table(data: dict[str, Any]) -> str:
    """Render the health document as a human-readable table."""
    rows = []
    for name, entries in data.get("checks", {}).items():
        for entry in entries:
            value = entry.get("observedValue")
            shown = (
                ""
                if value is None
                else f"{value}{' ' + entry['observedUnit'] if entry.get('observedUnit') else ''}"
            )
            rows.append((name, entry["status"], shown, entry.get("output", "")))
    width = max([len(r[0]) for r in rows] + [5])
    lines = [
        f"status: {data['status']}  (service {data.get('serviceId', '?')}, "
        f"version {data.get('version', '?')})"
    ]
    lines += [f"  {n:<{width}}  {s:<4}  {v:<12}  {o}".rstrip() for n, s, v, o in rows]
    return "\n".join(lines)

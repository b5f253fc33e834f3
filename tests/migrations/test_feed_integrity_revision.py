"""Revision 0005: OpenRouter's image price gets its per-token name in stored rows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, text

from ratecard.db import build_engine
from ratecard.migrations.upgrade import Migrator

ROW = (
    "INSERT INTO models (source, model_id, status, units, first_seen_at, last_seen_at,"
    " last_changed_at) VALUES (:source, :model_id, 'priced', :units, :now, :now, :now)"
)


def upgrade(url: str, conn: Connection, target: str) -> None:
    """Upgrade on `conn` the way the runner does (env.py uses the runner's connection)."""
    config = Migrator(url)._config()
    config.attributes["connection"] = conn
    command.upgrade(config, target)


@pytest.mark.parametrize("fixture", ["pg_url", "sqlite_url"])
def test_upgrade_renames_openrouter_image_unit_only(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(fixture)
    engine = build_engine(url)
    units = json.dumps({"input_per_image": "0.000000375", "per_request": "0.01"})
    with engine.begin() as conn:
        upgrade(url, conn, "0002_job_state_generation")
        for source in ("openrouter", "litellm"):
            conn.execute(
                text(ROW),
                {"source": source, "model_id": "m", "units": units, "now": "2026-11-29 00:00:00"},
            )
    with engine.begin() as conn:
        upgrade(url, conn, "head")

    with engine.connect() as conn:
        rows: dict[str, Any] = dict(conn.execute(text("SELECT source, units FROM models")).all())
        marks = conn.execute(text("SELECT rejected_reason, rejected_since FROM models")).all()
    engine.dispose()
    stored = {s: u if isinstance(u, dict) else json.loads(u) for s, u in rows.items()}
    assert stored["openrouter"] == {"input_image_per_token": "0.000000375", "per_request": "0.01"}
    assert stored["litellm"] == {"input_per_image": "0.000000375", "per_request": "0.01"}
    assert marks == [(None, None), (None, None)]

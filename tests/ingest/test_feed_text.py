"""Feed entries whose text the database cannot store, or readers cannot read: each is one
rejected entry, never a failed refresh (on PostgreSQL, where NUL and lone surrogates fail the
INSERT, and on SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import select

from ratecard.schema import run_sources
from tests.support.changes_app import MODELS, ChangesApp, tiny_feed

ENTRY = '{"litellm_provider": %s, "mode": "chat", "input_cost_per_token": 1e-06}'
# (JSON text of the model key, JSON text of its provider, what the rejection must say)
BAD = [
    ('"acme/nul\\u0000id"', '"acme"', "model_id: holds \\u0000"),
    ('"acme/surrogate\\ud800"', '"acme"', "model_id: holds \\ud800"),
    ('"acme/bell\\u0007"', '"acme"', "model_id: holds \\u0007"),
    ('"acme/newline\\nid"', '"acme"', "model_id: holds \\u000a"),
    (json.dumps("acme/" + "x" * 600), '"acme"', "model_id: 605 characters (limit 512)"),
    ('"acme/long-provider"', json.dumps("p" * 200), "provider: 200 characters (limit 128)"),
    ('"acme/nul-provider"', '"ac\\u0000me"', "provider: holds \\u0000"),
]
ESCAPED_IDS = [
    "acme/nul\\u0000id",
    "acme/surrogate\\ud800",
    "acme/bell\\u0007",
    "acme/newline\\u000aid",
    "acme/" + "x" * 600,
    "acme/long-provider",
    "acme/nul-provider",
]


@pytest.fixture(params=["migrated_pg_url", "migrated_sqlite_url"])
def changes_app(request: pytest.FixtureRequest, build_changes_app: Any) -> Iterator[ChangesApp]:
    yield build_changes_app(request.param)


def hostile_feed() -> bytes:
    good = tiny_feed()
    bad = ", ".join(f"{key}: {ENTRY % provider}" for key, provider, _ in BAD)
    return good[:-1] + b", " + bad.encode() + b"}"


def test_unstorable_entries_are_rejected_and_the_rest_is_stored(changes_app: ChangesApp) -> None:
    report = changes_app.refresh(hostile_feed())
    assert report.committed, report.error
    (source,) = report.sources
    assert (source.outcome, source.added, source.rejected) == ("success", len(MODELS), len(BAD))
    served = changes_app.client.get("/api/models?limit=100").get_json()["items"]
    assert sorted(item["id"] for item in served) == sorted(MODELS)
    with changes_app.engine.connect() as conn:
        problems = conn.execute(
            select(run_sources.c.problems).where(run_sources.c.run_id == report.run_id)
        ).scalar_one()
    reasons = {p["model_id"]: p["reason"] for p in problems}
    assert sorted(reasons) == sorted(ESCAPED_IDS), "named by their escaped ids"
    for (_, _, said), model_id in zip(BAD, ESCAPED_IDS, strict=True):
        assert reasons[model_id].startswith(said), (model_id, reasons[model_id])


def test_the_next_refresh_of_a_good_feed_still_runs(changes_app: ChangesApp) -> None:
    changes_app.refresh(hostile_feed())
    again = changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    assert again.committed and again.sources[0].changed == 1
    root = ET.fromstring(changes_app.client.get("/api/changes.atom").data)  # noqa: S314
    titles = [e.findtext("{http://www.w3.org/2005/Atom}title") for e in root]
    assert "gpt-4o (litellm): changed" in titles

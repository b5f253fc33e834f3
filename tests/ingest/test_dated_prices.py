"""Dated price lists (genai-prices' `constraint.start_date`) as the model's history: the entry
in force is served, the whole list is kept with the model, a cost is priced from the entry in
force at its time, `?at=` before ratecard first read the model answers from the list, a start
still ahead is shown as scheduled, and once it passes the feed is read again (even unchanged)
so the move is served and logged."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ratecard.app import create_app
from ratecard.catalog import codec
from ratecard.catalog.model import dated_in_force
from ratecard.changes.changelog import read_changes
from ratecard.changes.records import ChangeFilter
from ratecard.ingest import store
from ratecard.ingest.feeds import genai_prices
from ratecard.ingest.feeds.parsing import load_json
from ratecard.ingest.refresh import refresh_catalog
from ratecard.schema import source_state
from ratecard.web.state import get_state
from tests.support.feeds import FeedServer
from tests.support.store_helpers import SettingsFactory, make_deps, sources_setting

START = "2026-01-01"
SONNET = {
    "id": "sonnet",
    "match": {"equals": "sonnet"},
    "prices": [
        {"prices": {"input_mtok": 2, "output_mtok": 10}},
        {"constraint": {"start_date": START}, "prices": {"input_mtok": 3, "output_mtok": 12}},
    ],
}
PLAIN = {"id": "plain", "prices": {"input_mtok": 1, "output_mtok": 4}}
FEED = [{"id": "acme", "name": "Acme", "models": [SONNET, PLAIN]}]


def read_on(day: str, body: Any = FEED) -> genai_prices.ParsedFeed:
    document = load_json("genai_prices", json.dumps(body).encode())
    return genai_prices.parse("genai_prices", document, now=datetime.fromisoformat(day))


def test_the_list_is_kept_with_the_model_and_the_start_ahead_marked_scheduled() -> None:
    before = read_on("2025-12-31T12:00:00+00:00")
    sonnet = before.models["acme/sonnet"]
    assert sonnet.input_per_token == Decimal("0.000002")
    assert [(d.starts, d.scheduled, d.prices.input_per_token) for d in sonnet.dated] == [
        (None, False, Decimal("0.000002")),
        (datetime(2026, 1, 1, tzinfo=UTC), True, Decimal("0.000003")),
    ]
    assert before.read_again_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert before.models["acme/plain"].dated == ()
    after = read_on("2026-01-01T00:00:00+00:00")
    assert after.models["acme/sonnet"].input_per_token == Decimal("0.000003")
    assert after.read_again_at is None and not any(
        d.scheduled for d in after.models["acme/sonnet"].dated
    )
    # Every stored form carries the list: rows, catalog items, history snapshots.
    assert codec.from_row(_Row(codec.to_row(sonnet))) == sonnet
    assert codec.from_item(codec.to_item(sonnet)) == sonnet
    assert (
        codec.from_snapshot(codec.to_snapshot(sonnet), "genai_prices", "acme/sonnet", sonnet)
        == sonnet
    )
    # A newly announced entry is a change of the model's prices (logged), not a detail.
    assert not sonnet.same_prices(after.models["acme/sonnet"])


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def test_a_cost_is_priced_from_the_entry_in_force_at_its_time() -> None:
    sonnet = read_on("2025-12-31T12:00:00+00:00").models["acme/sonnet"]
    assert dated_in_force(sonnet, datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)) is sonnet
    moved = dated_in_force(sonnet, datetime(2026, 1, 1, tzinfo=UTC))
    assert (moved.input_per_token, moved.output_per_token) == (
        Decimal("0.000003"),
        Decimal("0.000012"),
    )
    # Built once per entry: a batch of a million lines reuses it.
    assert dated_in_force(sonnet, datetime(2026, 6, 1)) is moved


@pytest.mark.parametrize(
    ("starts", "reason"),
    [
        (["2026-02-01", "2026-01-01"], "prices[2].constraint.start_date: dates must increase"),
        (["2026-13-01"], "prices[1].constraint.start_date: expected a date YYYY-MM-DD"),
    ],
)
def test_a_list_whose_dates_are_bad_is_rejected_alone(starts: list[str], reason: str) -> None:
    dated = {
        "id": "bad",
        "prices": [{"prices": {"input_mtok": 1}}]
        + [{"constraint": {"start_date": s}, "prices": {"input_mtok": 2}} for s in starts],
    }
    parsed = read_on("2026-03-01T00:00:00+00:00", [{"id": "acme", "models": [dated, PLAIN]}])
    assert list(parsed.models) == ["acme/plain"]
    assert [r.model_id for r in parsed.rejected] == ["acme/bad"]
    assert parsed.rejected[0].reason.startswith(reason)


def test_scheduled_prices_are_served_priced_and_taken_up_when_they_start(
    engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory
) -> None:
    feed_server.set_body("/genai.json", json.dumps(FEED).encode())
    settings = make_settings(sources=sources_setting(genai_prices=feed_server.url("/genai.json")))
    # Read the day before the start: the first entry is served, the second scheduled.
    eve = datetime(2025, 12, 31, 12, tzinfo=UTC)
    first = refresh_catalog(make_deps(engine, settings, clock=lambda: eve))
    assert (first.outcome, first.committed) == ("success", True), first.error
    with engine.connect() as conn:
        assert store.load_served(conn, "genai_prices")["acme/sonnet"].input_per_token == Decimal(
            "0.000002"
        )
        again = conn.execute(select(source_state.c.read_again_at)).scalar_one()
    assert again is not None and again.replace(tzinfo=UTC) == datetime(2026, 1, 1, tzinfo=UTC)

    app = create_app(settings.with_overrides(database_url=str(engine.url)))
    try:
        client = app.test_client()
        read: Any = client.get("/api/models/acme/sonnet").json
        assert read["prices"]["input"]["per_token"] == "0.000002"
        assert [(d["starts"], d["ends"], d["scheduled"]) for d in read["dated"]] == [
            (None, "2026-01-01T00:00:00Z", False),
            ("2026-01-01T00:00:00Z", None, True),
        ]
        assert read["dated"][1]["prices"]["input"]["per_million"] == "3"

        def cost(**extra: Any) -> Any:
            answer = client.post(
                "/api/cost", json={"model": "acme/sonnet", "input_tokens": 1_000_000, **extra}
            )
            assert answer.status_code == 200, answer.json
            return answer.json

        # Now (past the start): the provider bills the new price, whatever entry is served.
        assert cost()["total"] == "3"
        # Ratecard first read the model today; the source says what was billed before.
        assert cost(at="2025-06-01T00:00:00Z")["total"] == "2"
        assert cost(at="2026-01-01T00:00:00Z")["total"] == "3"
        past: Any = client.get("/api/models/acme/sonnet?at=2025-06-01T00:00:00Z").json
        assert past["prices"]["input"]["per_token"] == "0.000002", past
        # A batch with lines on both sides of the start: each at its own entry.
        lines = "\n".join(
            json.dumps({"model": "acme/sonnet", "input_tokens": 1_000_000, "at": at})
            for at in ("2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z", "2025-03-01T00:00:00Z")
        )
        batch = client.post("/api/cost/batch", data=lines, content_type="application/x-ndjson")
        totals = [json.loads(line)["total"] for line in batch.get_data(as_text=True).splitlines()]
        assert totals == ["2", "3", "2"]
        # The dated price table holds the entry in force since its start.
        table = client.get("/api/prices.csv?history=true&model=acme/sonnet").get_data(as_text=True)
        rows = [
            r for r in csv.DictReader(io.StringIO(table)) if r["price_name"] == "input_per_token"
        ]
        assert [(r["price"], r["valid_from"][:10], r["valid_to"]) for r in rows] == [
            ("0.000003", "2026-01-01", "")
        ]
        # The model page lists the entries; by now the second is the one in force.
        page = client.get("/models/acme/sonnet").get_data(as_text=True)
        assert '<tr class="dated-past">' in page and '<tr class="dated-in-force">' in page
    finally:
        get_state(app).shutdown()

    # The start has passed: the next run reads the feed again though it is byte-identical
    # (no validators, no identical-body skip), serves the new entry and logs the move once.
    later = refresh_catalog(make_deps(engine, settings))
    assert later.committed, later.error
    by_source = {s.source: s for s in later.sources}
    assert by_source["genai_prices"].changed == 1, by_source["genai_prices"]
    with engine.connect() as conn:
        served = store.load_served(conn, "genai_prices")["acme/sonnet"]
        changes = read_changes(conn, where=ChangeFilter(model="acme/sonnet", kind="changed"))
        assert conn.execute(select(source_state.c.read_again_at)).scalar_one() is None
    assert served.input_per_token == Decimal("0.000003")
    assert len(changes) == 1 and changes[0].new is not None
    assert changes[0].new["input_per_token"] == "0.000003"
    # Nothing scheduled any more: an unchanged feed is not parsed again.
    quiet = refresh_catalog(make_deps(engine, settings))
    assert {s.source: s.outcome for s in quiet.sources} == {"genai_prices": "not-modified"}

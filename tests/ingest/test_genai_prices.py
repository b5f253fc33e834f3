"""The genai-prices feed (pydantic's prices/data.json): the real 2026-07-25 snapshot read exactly
(per million and per thousand divided exactly, tiers, audio, dated and time-of-day price
lists), one bad entry rejected alone, a price ratecard can't price dropped by name."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import Engine

from ratecard.app import create_app
from ratecard.catalog.model import ModelPrice
from ratecard.costing.cost import price_usage
from ratecard.costing.usage import Usage
from ratecard.ingest import store
from ratecard.ingest.feed_errors import FeedError
from ratecard.ingest.feeds import ParsedFeed, genai_prices, parse_feed
from ratecard.ingest.feeds.parsing import load_json
from ratecard.ingest.refresh import refresh_catalog
from ratecard.settings import Source
from ratecard.web.state import get_state
from tests.support.feeds import FeedServer
from tests.support.store_helpers import (
    LITELLM_NEW,
    OPENROUTER,
    SettingsFactory,
    make_deps,
    sources_setting,
)

GENAI = Source(name="genai_prices", url="file:///data.json", kind="genai_prices")
SNAPSHOT = "genai_prices_2026-07-25.json"


@pytest.fixture(scope="module")
def document(feed_data: Path) -> Any:
    return json.loads((feed_data / SNAPSHOT).read_text())


@pytest.fixture(scope="module")
def snapshot(feed_data: Path) -> ParsedFeed:
    return parse_feed(GENAI, (feed_data / SNAPSHOT).read_bytes())


def parsed_at(body: Any, when: str) -> ParsedFeed:
    document = load_json("genai_prices", json.dumps(body).encode())
    return genai_prices.parse("genai_prices", document, now=datetime.fromisoformat(when))


def provider(*models: dict[str, Any], provider_id: str = "acme") -> list[dict[str, Any]]:
    return [{"id": provider_id, "name": "Acme", "models": list(models)}]


def test_the_snapshot_is_the_schema_s_and_every_model_is_read(
    feed_data: Path, document: Any, snapshot: ParsedFeed
) -> None:
    schema = json.loads((feed_data / "genai_prices_data.schema.json").read_text())
    jsonschema.validate(document, schema)
    ids = [f"{p['id']}/{m['id']}" for p in document for m in p["models"]]
    assert len(ids) == 1442 and len(document) == 34
    assert sorted(snapshot.models) == sorted(ids)
    assert snapshot.rejected == [] and snapshot.dropped == []
    # A model whose file gives no price is unpriced (missing), never free.
    assert snapshot.models["azure/phi-4-reasoning:free"].status == "unpriced"


def test_prices_per_million_and_per_thousand_are_divided_exactly(snapshot: ParsedFeed) -> None:
    gpt = snapshot.models["openai/gpt-4o"]
    assert (gpt.input_per_token, gpt.output_per_token, gpt.cache_read_per_token) == (
        Decimal("0.0000025"),
        Decimal("0.00001"),
        Decimal("0.00000125"),
    )
    assert gpt.provider == "openai" and gpt.source == "genai_prices"
    sonar = snapshot.models["perplexity/sonar-pro"]
    assert sonar.units["per_request"] == Decimal("0.014")  # $14 per thousand requests
    realtime = snapshot.models["openai/gpt-4o-realtime-preview"]
    assert realtime.units == {
        "input_audio_per_token": Decimal("0.00004"),
        "output_audio_per_token": Decimal("0.00008"),
        "input_audio_cache_read_per_token": Decimal("0.0000025"),
    }
    deepseek = snapshot.models["deepseek/deepseek-chat"]
    assert deepseek.input_per_token == Decimal("0.000000135")  # 0.135 per million, every digit


def test_tiers_apply_past_their_start_to_every_token_of_their_kind(snapshot: ParsedFeed) -> None:
    sonnet = snapshot.models["anthropic/claude-sonnet-4-5"]
    assert [t.above_tokens for t in sonnet.tiers] == [200_000]
    assert sonnet.tiers[0].input_per_token == Decimal("0.000006")
    at_start = price_usage(sonnet, Usage(input_tokens=200_000, output_tokens=1_000))
    past = price_usage(sonnet, Usage(input_tokens=200_001, output_tokens=1_000))
    assert at_start.total == Decimal("0.6") + Decimal("0.015")  # exactly 200,000: base prices
    assert past.total == Decimal("200001") * Decimal("0.000006") + Decimal("0.0225")
    # A kind without tiers keeps its base price in the tier: gpt-5.4 states no cache write.
    gpt54 = snapshot.models["openai/gpt-5.4"]
    assert gpt54.tiers[0].cache_write_per_token is None and gpt54.tiers[0].above_tokens == 272_000


def test_the_dated_price_in_force_is_served() -> None:
    model = {
        "id": "sonnet",
        "match": {"equals": "sonnet"},
        "prices": [
            {"prices": {"input_mtok": 2, "output_mtok": 10}},
            {"constraint": {"start_date": "2026-09-01"}, "prices": {"input_mtok": 3}},
        ],
    }
    before = parsed_at(provider(model), "2026-08-31T23:59:59+00:00").models["acme/sonnet"]
    after = parsed_at(provider(model), "2026-09-01T00:00:00+00:00").models["acme/sonnet"]
    assert (before.input_per_token, before.output_per_token) == (
        Decimal("0.000002"),
        Decimal("0.00001"),
    )
    # The dated entry replaces the whole price set (genai-prices uses the entry, not a merge).
    assert (after.input_per_token, after.output_per_token) == (Decimal("0.000003"), None)


def test_the_real_dated_lists_pick_the_entry_of_the_day(document: Any) -> None:
    def on(day: str) -> dict[str, ModelPrice]:
        return parsed_at(document, f"{day}T00:00:00+00:00").models

    march, december, june = on("2026-03-12"), on("2026-12-06"), on("2025-06-09")
    # Before 2026-03-13 the tiered list; from then on the flat one.
    assert march["anthropic/claude-opus-4-6"].tiers
    assert not december["anthropic/claude-opus-4-6"].tiers
    assert december["anthropic/claude-opus-4-6"].input_per_token == Decimal("0.000005")
    assert june["openai/o3"].input_per_token == Decimal("0.00001")
    assert december["openai/o3"].input_per_token == Decimal("0.000002")


def test_time_of_day_prices_become_a_window(snapshot: ParsedFeed) -> None:
    deepseek = snapshot.models["deepseek/deepseek-chat"]
    (window,) = deepseek.windows
    assert (window.utc_start, window.utc_end) == (30, 1630)
    usage = Usage(input_tokens=1_000_000)
    inside = price_usage(deepseek, usage, at=datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    outside = price_usage(deepseek, usage, at=datetime(2026, 12, 6, 17, 0, tzinfo=UTC))
    at_end = price_usage(deepseek, usage, at=datetime(2026, 12, 6, 16, 30, tzinfo=UTC))
    assert inside.total == Decimal("0.27") and outside.total == at_end.total == Decimal("0.135")


def _entry(prices: Any, model_id: str = "m") -> dict[str, Any]:
    return {"id": model_id, "match": {"equals": model_id}, "prices": prices}


@pytest.mark.parametrize(
    ("prices", "reason"),
    [
        ({"input_mtok": "lots"}, "prices.input_mtok: 'lots' is not a number"),
        ({"input_mtok": -1}, "negative price"),
        ({"input_mtok": {"base": 1}}, "expected a number or {base, tiers}"),
        ({"input_mtok": {"base": 1, "tiers": [{"start": 5, "price": 2}, {"start": 5, "price": 3}]}},
         "increasing order"),
        ([{"prices": {"input_mtok": 1}}, {"constraint": {"start_date": "soon"}, "prices": {}}],
         "expected a date"),
        ([{"prices": {"input_mtok": 1}},
          {"constraint": {"start_time": "25:00:00Z", "end_time": "01:00:00Z"}, "prices": {}}],
         "expected a UTC time"),
        ([{"prices": {"input_mtok": 1}}, {"prices": {"input_mtok": 2}}],
         "only the first price may have no constraint"),
        ("free", "prices: expected an object or a list"),
    ],
)  # fmt: skip
def test_a_bad_entry_is_rejected_alone_and_named(prices: Any, reason: str) -> None:
    body = provider(_entry(prices, "bad"), _entry({"input_mtok": 1, "output_mtok": 2}, "good"))
    parsed = parsed_at(body, "2026-12-06T00:00:00+00:00")
    assert list(parsed.models) == ["acme/good"]
    (rejection,) = parsed.rejected
    assert rejection.model_id == "acme/bad" and reason in rejection.reason, rejection


def test_a_price_ratecard_does_not_read_is_dropped_by_name_not_priced_as_zero() -> None:
    body = provider(_entry({"input_mtok": 1, "output_mtok": 2, "input_video_mtok": 9}))
    parsed = parsed_at(body, "2026-12-06T00:00:00+00:00")
    (dropped,) = parsed.dropped
    assert (dropped.model_id, dropped.field) == ("acme/m", "input_video_mtok")
    assert "not a price ratecard reads" in dropped.reason
    assert parsed.models["acme/m"].units == {}


def test_duplicates_and_providers_without_ids_are_refused_alone() -> None:
    body = [
        *provider(_entry({"input_mtok": 1}, "twice"), _entry({"input_mtok": 2}, "twice"),
                  _entry({"input_mtok": 3}, "once")),
        {"name": "no id", "models": [_entry({"input_mtok": 1})]},
        {"id": "a/b", "models": []},
    ]  # fmt: skip
    parsed = parsed_at(body, "2026-12-06T00:00:00+00:00")
    assert list(parsed.models) == ["acme/once"]
    reasons = {r.model_id: r.reason for r in parsed.rejected}
    assert "listed more than once" in reasons["acme/twice"]
    assert "provider id" in reasons["providers[1]"] and "provider id" in reasons["providers[2]"]


def test_a_body_that_is_not_a_provider_list_is_refused_whole(document: Any) -> None:
    with pytest.raises(FeedError, match="expected a list of providers"):
        parse_feed(GENAI, json.dumps({"providers": document}).encode())
    emptied = copy.deepcopy(document)
    for item in emptied:
        item["models"] = []
    with pytest.raises(FeedError, match="no usable models"):
        parse_feed(GENAI, json.dumps(emptied).encode())


def test_served_ids_are_provider_slash_model_exactly(snapshot: ParsedFeed) -> None:
    model: ModelPrice = snapshot.models["aws/global.anthropic.claude-sonnet-5-v1:0"]
    assert model.provider == "aws"
    assert model.input_per_token == Decimal("0.000003")  # its 2026-09-01 price is in force


def test_a_refresh_serves_the_third_source_beside_the_others_and_counts_agreement(
    engine: Engine, feed_server: FeedServer, make_settings: SettingsFactory
) -> None:
    settings = make_settings(
        sources=sources_setting(
            litellm=feed_server.url(LITELLM_NEW),
            openrouter=feed_server.url(OPENROUTER),
            genai_prices=feed_server.url(SNAPSHOT),
        )
    )
    report = refresh_catalog(make_deps(engine, settings))
    assert (report.outcome, report.committed) == ("success", True), report.error
    by_source = {s.source: s for s in report.sources}
    assert by_source["genai_prices"].added == by_source["genai_prices"].fetched == 1442
    with engine.connect() as conn:
        genai = store.load_served(conn, "genai_prices")
    assert genai["openai/gpt-4o"].input_per_token == Decimal("0.0000025")
    assert genai["deepseek/deepseek-chat"].windows  # stored and read back with its window
    # Served through the API beside LiteLLM's entry, and priced from it.
    app = create_app(settings.with_overrides(database_url=str(engine.url)))
    try:
        client = app.test_client()
        read = client.get("/api/models/openai/gpt-4o?source=genai_prices")
        body: Any = read.json
        assert read.status_code == 200, body
        assert body["source"] == "genai_prices"
        # An id its `match` clause claims answers with that model, and says so.
        dated: Any = client.get("/api/models/gpt-4o-2024-08-06?source=genai_prices").json
        assert (dated["id"], dated["resolved"]) == (
            "openai/gpt-4o",
            {"requested": "gpt-4o-2024-08-06", "by": "match"},
        )
        cost = client.post(
            "/api/cost",
            json={"model": "openai/gpt-4o", "source": "genai_prices", "input_tokens": 1_000_000},
        )
        answer: Any = cost.json
        assert cost.status_code == 200 and answer["total"] == "2.5", answer
        # The three real feeds state gpt-4o's prices: how many agree, per price.
        gpt: Any = client.get("/api/models/gpt-4o?source=litellm").json
        assert gpt["agreement"]["input_per_token"] == {
            "agree": 3,
            "of": 3,
            "sources": {s: "0.0000025" for s in ("genai_prices", "litellm", "openrouter")},
        }
        assert {"genai_prices", "openrouter"} <= set(gpt["other_sources"])
        listed: Any = client.get("/api/disagreements").json
        items = listed["items"]
        assert any("genai_prices" in (i["a"]["source"], i["b"]["source"]) for i in items)

        # Ranked by the best-supported side's share, for the field least agreed on: the
        # most contested first; a pair a third source settles comes later.
        def support(item: Any) -> float:
            return min(max(v["a"], v["b"]) / v["of"] for v in item["agreement"].values())

        shares = [support(i) for i in items if i["agreement"]]
        assert shares == sorted(shares) and shares[0] < shares[-1]
        # The model page says it too, per price.
        page = client.get("/models/gpt-4o").get_data(as_text=True)
        assert "3 of 3 sources agree" in page
        ranked = client.get("/disagreements").get_data(as_text=True)
        assert " of 3 with the first, " in ranked  # how many sources side with each
        settled = next(i for i in items if any(v["of"] == 3 for v in i["agreement"].values()))
        assert all(v["a"] + v["b"] <= v["of"] for v in settled["agreement"].values())
    finally:
        get_state(app).shutdown()

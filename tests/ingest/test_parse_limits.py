"""Strict, bounded, per-entry parsing: nothing inside one entry can fail or poison the feed."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ratecard.ingest.feeds import parse_feed
from ratecard.ingest.feeds.parsing import MAX_ENTRY_DEPTH
from ratecard.settings import Source

LITELLM = Source(name="litellm", url="file:///feed.json", kind="litellm")
OPENROUTER = Source(name="openrouter", url="file:///models.json", kind="openrouter")
GOOD = '"good": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}'


def litellm(*entries: str) -> bytes:
    return ("{" + ", ".join([GOOD, *entries]) + "}").encode()


def openrouter(*models: object) -> bytes:
    good = {"id": "ok/model", "pricing": {"prompt": "0.000001", "completion": "0.000002"}}
    return json.dumps({"data": [good, *models]}).encode()


def rejected(body: bytes, source: Source = LITELLM) -> dict[str, str]:
    parsed = parse_feed(source, body)
    assert ("good" in parsed.models) or ("ok/model" in parsed.models)
    return {r.model_id: r.reason for r in parsed.rejected}


@pytest.mark.parametrize("text", ["\u0663\u0665", "\uff13", "3\u0665", "1e-\u0666"])
def test_non_ascii_digits_are_not_prices(text):
    reasons = rejected(openrouter({"id": "x/y", "pricing": {"prompt": text}}), OPENROUTER)
    assert reasons["x/y"] == f"pricing.prompt: {text!r} is not a number"


def test_a_5000_digit_integer_rejects_only_its_entry_even_in_an_ignored_field():
    huge = "9" * 5000
    reasons = rejected(
        litellm(
            f'"big": {{"input_cost_per_token": {huge}}}',
            f'"ignored": {{"input_cost_per_token": 1e-06, "rpm": {huge}}}',
            f'"long-float": {{"input_cost_per_token": 0.{"1" * 100}}}',
        )
    )
    assert reasons["big"] == "input_cost_per_token: a number of 5000 characters (limit 64)"
    assert reasons["ignored"] == "rpm: a number of 5000 characters (limit 64)"
    assert reasons["long-float"].startswith("input_cost_per_token: a number of 102 characters")


def test_oversized_number_strings_and_counts_are_rejected():
    reasons = rejected(
        openrouter(
            {"id": "a/long", "pricing": {"prompt": "0." + "1" * 80}},
            {"id": "a/count", "pricing": {"prompt": "0"}, "context_length": 10**30},
        ),
        OPENROUTER,
    )
    assert "is not a number" in reasons["a/long"]
    assert "a/count" not in reasons  # a bad count is a secondary field: dropped, not fatal


@pytest.mark.parametrize("depth", [MAX_ENTRY_DEPTH + 5, 5000, 100_000])
def test_deep_nesting_in_an_ignored_field_rejects_only_that_entry(depth):
    deep = "[" * depth + "]" * depth
    reasons = rejected(litellm(f'"deep": {{"input_cost_per_token": 1e-06, "metadata": {deep}}}'))
    assert reasons["deep"].startswith("metadata")
    assert "nested more than" in reasons["deep"]


def test_duplicate_keys_reject_the_entry():
    reasons = rejected(
        litellm(
            '"twice": {"input_cost_per_token": 1e-06, "input_cost_per_token": 1e-03}',
            '"nested": {"input_cost_per_token": 1e-06,'
            ' "search_context_cost_per_query": {"search_context_size_low": 1, '
            '"search_context_size_low": 2}}',
        )
    )
    assert reasons["twice"] == "duplicate key input_cost_per_token (the feed is ambiguous)"
    assert reasons["nested"] == (
        "duplicate key search_context_cost_per_query.search_context_size_low "
        "(the feed is ambiguous)"
    )


def test_duplicate_litellm_model_keys_are_reported_and_not_served():
    body = litellm(
        '"dup": {"input_cost_per_token": 1e-06}', '"dup": {"input_cost_per_token": 1e-03}'
    )
    parsed = parse_feed(LITELLM, body)
    assert "dup" not in parsed.models
    assert [(r.model_id, r.reason) for r in parsed.rejected] == [
        ("dup", "model key listed more than once in the feed")
    ]


@pytest.mark.parametrize(
    ("entry", "field", "reason"),
    [
        ('"output_cost_per_pixel": true', "output_per_pixel", "expected a number, got boolean"),
        ('"max_tokens": "128k"', "context_window", "expected a whole number, got string"),
        ('"input_cost_per_second": "abc"', "input_per_second", "is not a number"),
        ('"mode": 7', "mode", "expected a string, got number"),
        ('"search_context_cost_per_query": 5', "web_search_low", "expected an object"),
    ],
)
def test_a_bad_secondary_field_drops_that_field_not_the_model(entry, field, reason):
    body = litellm(f'"m": {{"input_cost_per_token": 3e-06, "input_cost_per_image": 0.04, {entry}}}')
    parsed = parse_feed(LITELLM, body)
    model = parsed.models["m"]
    assert model.input_per_token == Decimal("0.000003")
    assert model.units["input_per_image"] == Decimal("0.04")
    assert field not in model.units
    assert parsed.rejected == []
    drops = [(d.model_id, d.field) for d in parsed.dropped]
    assert ("m", field) in drops
    assert reason in parsed.dropped[0].reason


@pytest.mark.parametrize("value", ["-1", "-1.0", "-1.00", " -1 ", -1, -1.0])
def test_openrouter_minus_one_in_any_spelling_is_dynamic(value):
    body = openrouter({"id": "openrouter/auto", "pricing": {"prompt": value, "completion": value}})
    parsed = parse_feed(OPENROUTER, body)
    assert parsed.models["openrouter/auto"].status == "dynamic"
    assert parsed.models["openrouter/auto"].input_per_token is None


@pytest.mark.parametrize("value", ["-2", "-0.5", "-1.5"])
def test_other_negative_prices_are_still_rejected(value):
    reasons = rejected(openrouter({"id": "x/neg", "pricing": {"prompt": value}}), OPENROUTER)
    assert "negative price" in reasons["x/neg"]


def test_openrouter_image_price_is_per_token_not_per_image(feed_data):
    parsed = parse_feed(OPENROUTER, (feed_data / "openrouter_models_2026-08-19.json").read_bytes())
    with_image = [m for m in parsed.models.values() if "input_image_per_token" in m.units]
    assert with_image, "the real snapshot has models with an image price"
    assert all("input_per_image" not in m.units for m in parsed.models.values())
    # OpenRouter's image price equals the prompt price: a per-token price, as the name says.
    same = [m for m in with_image if m.units["input_image_per_token"] == m.input_per_token]
    assert len(same) >= len(with_image) // 2


def test_real_snapshots_parse_without_drops_or_new_rejections(feed_data):
    for name, source in (
        ("litellm_2026-07-24.json", LITELLM),
        ("litellm_2026-03-14.json", LITELLM),
        ("openrouter_models_2026-08-19.json", OPENROUTER),
    ):
        parsed = parse_feed(source, (feed_data / name).read_bytes())
        assert parsed.dropped == [], name
        assert not any("duplicate" in r.reason or "nested" in r.reason for r in parsed.rejected)

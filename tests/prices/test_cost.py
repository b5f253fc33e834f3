"""Cost arithmetic against hand-computed Decimals: cache, tiers, huge counts, NotPriceable."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ratecard.prices.cost import NotPriceable, applicable_tier, price_request
from ratecard.prices.feeds import ParsedFeed, parse_feed
from ratecard.prices.model import ModelPrice, Tier
from ratecard.settings import Source


@pytest.fixture(scope="module")
def litellm(feed_data: Path) -> ParsedFeed:
    source = Source(name="litellm", url="file:///f.json", kind="litellm")
    return parse_feed(source, (feed_data / "litellm_2026-07-24.json").read_bytes())


@pytest.fixture(scope="module")
def openrouter(feed_data: Path) -> ParsedFeed:
    source = Source(name="openrouter", url="file:///m.json", kind="openrouter")
    edges = parse_feed(source, (feed_data / "openrouter_models_edge_cases.json").read_bytes())
    full = parse_feed(source, (feed_data / "openrouter_models_2026-08-19.json").read_bytes())
    full.models.update(edges.models)
    return full


def test_gpt_4o_with_cache_reads(litellm):
    cost = price_request(
        litellm.models["gpt-4o"], input_tokens=1000, output_tokens=500, cache_read_tokens=200
    )
    # 1000 x 0.0000025 = 0.0025; 500 x 0.00001 = 0.005; 200 x 0.00000125 = 0.00025
    assert cost.components == {
        "input": Decimal("0.0025"),
        "output": Decimal("0.005"),
        "cache_read": Decimal("0.00025"),
        "cache_write": Decimal(0),
    }
    assert cost.total == Decimal("0.00775")
    assert cost.prices == {
        "input": Decimal("0.0000025"),
        "output": Decimal("0.00001"),
        "cache_read": Decimal("0.00000125"),
    }
    assert cost.tier_above_tokens is None


def test_cache_write_without_a_cache_write_price_is_not_guessed(litellm):
    with pytest.raises(NotPriceable) as caught:
        price_request(
            litellm.models["gpt-4o"], input_tokens=10, output_tokens=10, cache_write_tokens=5
        )
    assert caught.value.model_id == "gpt-4o"
    assert caught.value.reason == (
        "cache_write_tokens given but the model has no cache_write_per_token price"
    )


def test_cache_read_without_a_cache_read_price_is_not_billed_at_input(openrouter):
    audio = openrouter.models["openai/gpt-audio"]  # prompt and completion only
    assert audio.cache_read_per_token is None
    with pytest.raises(NotPriceable, match="no cache_read_per_token price"):
        price_request(audio, input_tokens=100, output_tokens=100, cache_read_tokens=1)


def test_sonnet_at_exactly_200k_prompt_tokens_uses_base_prices(litellm):
    cost = price_request(
        litellm.models["claude-sonnet-4-5"],
        input_tokens=150_000,
        output_tokens=1_000,
        cache_read_tokens=50_000,
    )
    # Not above 200000: 150000 x 0.000003 = 0.45; 1000 x 0.000015 = 0.015;
    # 50000 x 0.0000003 = 0.015
    assert cost.tier_above_tokens is None
    assert cost.components["input"] == Decimal("0.45")
    assert cost.components["cache_read"] == Decimal("0.015")
    assert cost.total == Decimal("0.48")


def test_sonnet_above_200k_prompt_tokens_uses_the_tier_for_the_whole_request(litellm):
    cost = price_request(
        litellm.models["claude-sonnet-4-5"],
        input_tokens=150_001,
        output_tokens=1_000,
        cache_read_tokens=50_000,
        cache_write_tokens=0,
    )
    # 150001 x 0.000006 = 0.900006; 1000 x 0.0000225 = 0.0225; 50000 x 0.0000006 = 0.03
    assert cost.tier_above_tokens == 200_000
    assert cost.components == {
        "input": Decimal("0.900006"),
        "output": Decimal("0.0225"),
        "cache_read": Decimal("0.03"),
        "cache_write": Decimal(0),
    }
    assert cost.total == Decimal("0.952506")
    assert cost.prices["output"] == Decimal("0.0000225")


def test_cache_tokens_count_towards_the_tier_threshold(litellm):
    cost = price_request(
        litellm.models["claude-sonnet-4-5"],
        input_tokens=1,
        output_tokens=0,
        cache_write_tokens=200_000,
    )
    # 1 x 0.000006 + 200000 x 0.0000075 = 0.000006 + 1.5
    assert cost.tier_above_tokens == 200_000
    assert cost.total == Decimal("1.500006")


def test_tier_replaces_only_the_prices_it_defines(openrouter):
    alias = openrouter.models["~google/gemini-pro-latest"]
    cost = price_request(
        alias, input_tokens=300_000, output_tokens=2_000, cache_write_tokens=10_000
    )
    # Tier: 300000 x 0.000004 = 1.2; 2000 x 0.000018 = 0.036.
    # The tier defines no cache write price: base 10000 x 0.000000375 = 0.00375.
    assert cost.tier_above_tokens == 200_000
    assert cost.components["input"] == Decimal("1.2")
    assert cost.components["output"] == Decimal("0.036")
    assert cost.components["cache_write"] == Decimal("0.00375")
    assert cost.total == Decimal("1.23975")


def test_highest_exceeded_tier_wins_whatever_the_order():
    model = ModelPrice(
        source="t",
        model_id="tiered",
        status="priced",
        input_per_token=Decimal("0.000001"),
        output_per_token=Decimal("0.000002"),
        tiers=(
            Tier(above_tokens=256_000, input_per_token=Decimal("0.000003")),
            Tier(above_tokens=128_000, input_per_token=Decimal("0.000002")),
        ),
    )
    assert price_request(model, input_tokens=128_000, output_tokens=0).total == Decimal("0.128")
    mid = price_request(model, input_tokens=200_000, output_tokens=10)
    assert mid.tier_above_tokens == 128_000
    assert mid.total == Decimal("0.40002")  # 200000 x 0.000002 + 10 x 0.000002 (base output)
    high = price_request(model, input_tokens=300_000, output_tokens=0)
    assert high.tier_above_tokens == 256_000 and high.total == Decimal("0.9")
    assert applicable_tier(model.tiers, 0) is None


def test_huge_token_counts_are_never_rounded(litellm):
    model = litellm.models["databricks/databricks-claude-3-7-sonnet"]
    cost = price_request(model, input_tokens=987_654_321_987, output_tokens=123_456_789)
    # 987654321987 x 29999900000000002 = 29629530894177803275308643974  (x 10^-22)
    # 123456789 x 15000020000000002 = 1851854304135780246913578          (x 10^-21)
    assert cost.components["input"] == Decimal("2962953.0894177803275308643974")
    assert cost.components["output"] == Decimal("1851.854304135780246913578")
    assert cost.total == Decimal("2964804.9437219161077777779754")


def test_repeating_decimal_price_times_a_trillion(openrouter):
    flash = openrouter.models["google/gemini-3.7-flash"]
    cost = price_request(flash, input_tokens=0, output_tokens=0, cache_write_tokens=10**12)
    assert cost.total == Decimal("20833.3333333333")  # 0.0000000208333333333333 x 10^12


def test_per_request_fee_is_a_component():
    model = ModelPrice(
        source="t",
        model_id="search",
        status="priced",
        input_per_token=Decimal("0.000001"),
        output_per_token=Decimal("0.000004"),
        units={"per_request": Decimal("0.005")},
    )
    cost = price_request(model, input_tokens=1000, output_tokens=250)
    # 0.001 + 0.001 + 0.005
    assert cost.components["request"] == Decimal("0.005")
    assert cost.prices["request"] == Decimal("0.005")
    assert cost.total == Decimal("0.007")


def test_free_model_costs_zero(litellm):
    cost = price_request(
        litellm.models["fireworks-ai-default"], input_tokens=10**9, output_tokens=1
    )
    assert cost.total == 0


@pytest.mark.parametrize(
    ("model_id", "status"),
    [("openrouter/auto-beta", "dynamic"), ("a/none", "unpriced")],
)
def test_dynamic_and_unpriced_are_not_priceable(openrouter, model_id, status):
    model = openrouter.models.get(model_id) or ModelPrice("openrouter", model_id, "unpriced")
    assert model.status == status
    with pytest.raises(NotPriceable, match=f"prices are {status}"):
        price_request(model, input_tokens=1, output_tokens=1)


def test_unit_priced_model_has_no_token_price(litellm):
    dalle = litellm.models["1024-x-1024/dall-e-2"]
    with pytest.raises(NotPriceable, match="input_tokens given but the model has no input"):
        price_request(dalle, input_tokens=1, output_tokens=0)
    assert price_request(dalle, input_tokens=0, output_tokens=0).total == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"input_tokens": -1, "output_tokens": 0},
        {"input_tokens": 1, "output_tokens": 1.5},
        {"input_tokens": True, "output_tokens": 0},
        {"input_tokens": 1, "output_tokens": 0, "cache_read_tokens": "3"},
    ],
)
def test_bad_token_counts_are_value_errors(litellm, bad):
    with pytest.raises(ValueError, match="must be a non-negative integer"):
        price_request(litellm.models["gpt-4o"], **bad)

"""Cost arithmetic against hand-computed Decimals: every dimension, the issue's examples.

The golden file (test_conformance.py) checks the engine against LiteLLM case by case; these
tests spell out, by hand, the rules and the figures the engine was specified from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ratecard.catalog.model import ModelPrice, PriceSet, Tier, TimeWindow
from ratecard.costing.cost import Component, Cost, NotPriceable, price_usage
from ratecard.costing.usage import StatedUplift, UsageError, usage_from_counts
from ratecard.ingest.feeds import ParsedFeed, parse_feed
from ratecard.settings import Source


def priced(model: ModelPrice, **counts: Any) -> Cost:
    options = {k: counts.pop(k) for k in ("service_tier", "region", "at") if k in counts}
    return price_usage(model, usage_from_counts(counts), **options)


def amounts(cost: Cost) -> dict[str, Decimal]:
    return {c.name: c.cost for c in cost.components}


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
    cost = priced(
        litellm.models["gpt-4o"], input_tokens=1000, output_tokens=500, cache_read_tokens=200
    )
    # 1000 x 0.0000025 = 0.0025; 500 x 0.00001 = 0.005; 200 x 0.00000125 = 0.00025
    assert amounts(cost) == {
        "input_tokens": Decimal("0.0025"),
        "cache_read_tokens": Decimal("0.00025"),
        "output_tokens": Decimal("0.005"),
    }
    assert cost.total == Decimal("0.00775")
    assert [(c.name, c.quantity, c.unit, c.price, c.price_name) for c in cost.components] == [
        ("input_tokens", 1000, "token", Decimal("0.0000025"), "input_per_token"),
        ("cache_read_tokens", 200, "token", Decimal("0.00000125"), "cache_read_per_token"),
        ("output_tokens", 500, "token", Decimal("0.00001"), "output_per_token"),
    ]
    assert cost.tier_above_tokens is None


def test_cache_write_without_a_cache_write_price_is_not_guessed(litellm):
    with pytest.raises(NotPriceable) as caught:
        priced(litellm.models["gpt-4o"], input_tokens=10, output_tokens=10, cache_write_tokens=5)
    assert caught.value.model_id == "gpt-4o"
    assert caught.value.price == "cache_write_per_token"
    assert caught.value.reason == (
        "cache_write_tokens given but the model has no cache_write_per_token price"
    )


def test_cache_read_without_a_cache_read_price_is_not_billed_at_input(openrouter):
    audio = openrouter.models["openai/gpt-audio"]  # prompt and completion only
    assert audio.cache_read_per_token is None
    with pytest.raises(NotPriceable, match="no cache_read_per_token price"):
        priced(audio, input_tokens=100, output_tokens=100, cache_read_tokens=1)


def test_sonnet_at_exactly_200k_prompt_tokens_uses_base_prices(litellm):
    cost = priced(
        litellm.models["claude-sonnet-4-5"],
        input_tokens=150_000,
        output_tokens=1_000,
        cache_read_tokens=50_000,
    )
    # Not above 200000: 150000 x 0.000003 = 0.45; 1000 x 0.000015 = 0.015;
    # 50000 x 0.0000003 = 0.015
    assert cost.tier_above_tokens is None
    assert amounts(cost)["input_tokens"] == Decimal("0.45")
    assert amounts(cost)["cache_read_tokens"] == Decimal("0.015")
    assert cost.total == Decimal("0.48")


def test_sonnet_above_200k_prompt_tokens_uses_the_tier_for_the_whole_request(litellm):
    cost = priced(
        litellm.models["claude-sonnet-4-5"],
        input_tokens=150_001,
        output_tokens=1_000,
        cache_read_tokens=50_000,
        cache_write_tokens=0,
    )
    # 150001 x 0.000006 = 0.900006; 1000 x 0.0000225 = 0.0225; 50000 x 0.0000006 = 0.03
    assert cost.tier_above_tokens == 200_000
    assert amounts(cost) == {
        "input_tokens": Decimal("0.900006"),
        "cache_read_tokens": Decimal("0.03"),
        "output_tokens": Decimal("0.0225"),
    }
    assert cost.total == Decimal("0.952506")
    assert cost.components[-1].price_name == "tiers[>200000].output_per_token"


def test_cache_tokens_count_towards_the_tier_threshold(litellm):
    cost = priced(
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
    cost = priced(alias, input_tokens=300_000, output_tokens=2_000, cache_write_tokens=10_000)
    # Tier: 300000 x 0.000004 = 1.2; 2000 x 0.000018 = 0.036.
    # The tier defines no cache write price: base 10000 x 0.000000375 = 0.00375.
    assert cost.tier_above_tokens == 200_000
    assert amounts(cost)["input_tokens"] == Decimal("1.2")
    assert amounts(cost)["output_tokens"] == Decimal("0.036")
    assert amounts(cost)["cache_write_tokens"] == Decimal("0.00375")
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
    assert priced(model, input_tokens=128_000, output_tokens=0).total == Decimal("0.128")
    mid = priced(model, input_tokens=200_000, output_tokens=10)
    assert mid.tier_above_tokens == 128_000
    assert mid.total == Decimal("0.40002")  # 200000 x 0.000002 + 10 x 0.000002 (base output)
    high = priced(model, input_tokens=300_000, output_tokens=0)
    assert high.tier_above_tokens == 256_000 and high.total == Decimal("0.9")


def test_huge_token_counts_are_never_rounded(litellm):
    model = litellm.models["databricks/databricks-claude-3-7-sonnet"]
    cost = priced(model, input_tokens=987_654_321_987, output_tokens=123_456_789)
    # 987654321987 x 29999900000000002 = 29629530894177803275308643974  (x 10^-22)
    # 123456789 x 15000020000000002 = 1851854304135780246913578          (x 10^-21)
    assert amounts(cost)["input_tokens"] == Decimal("2962953.0894177803275308643974")
    assert amounts(cost)["output_tokens"] == Decimal("1851.854304135780246913578")
    assert cost.total == Decimal("2964804.9437219161077777779754")


def test_repeating_decimal_price_times_a_trillion(openrouter):
    flash = openrouter.models["google/gemini-3.7-flash"]
    cost = priced(flash, input_tokens=0, output_tokens=0, cache_write_tokens=10**12)
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
    cost = priced(model, input_tokens=1000, output_tokens=250)
    # 0.001 + 0.001 + 0.005
    assert cost.components[-1] == Component(
        "requests", 1, "request", Decimal("0.005"), "units.per_request", Decimal("0.005")
    )
    assert cost.total == Decimal("0.007")
    # A line standing for 3 requests pays the fee 3 times.
    assert priced(model, requests=3).total == Decimal("0.015")


def test_free_model_costs_zero(litellm):
    cost = priced(litellm.models["fireworks-ai-default"], input_tokens=10**9, output_tokens=1)
    assert cost.total == 0


@pytest.mark.parametrize(
    ("model_id", "status"),
    [("openrouter/auto-beta", "dynamic"), ("a/none", "unpriced")],
)
def test_dynamic_and_unpriced_are_not_priceable(openrouter, model_id, status):
    model = openrouter.models.get(model_id) or ModelPrice("openrouter", model_id, "unpriced")
    assert model.status == status
    with pytest.raises(NotPriceable, match=f"prices are {status}"):
        priced(model, input_tokens=1, output_tokens=1)


def test_unit_priced_model_has_no_token_price(litellm):
    dalle = litellm.models["1024-x-1024/dall-e-2"]
    with pytest.raises(NotPriceable, match="input_tokens given but the model has no input"):
        priced(dalle, input_tokens=1, output_tokens=0)
    assert priced(dalle, input_tokens=0, output_tokens=0).total == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"input_tokens": -1, "output_tokens": 0},
        {"input_tokens": 1, "output_tokens": 1.5},
        {"input_tokens": True, "output_tokens": 0},
        {"input_tokens": 1, "output_tokens": 0, "cache_read_tokens": "3"},
    ],
)
def test_bad_token_counts_are_usage_errors_naming_the_field(litellm, bad):
    with pytest.raises(UsageError, match="must be a non-negative integer") as caught:
        priced(litellm.models["gpt-4o"], **bad)
    assert caught.value.field in bad


# --- the specification's examples, each priced as LiteLLM 1.110.2 prices it -----------------


def test_reasoning_tokens_at_their_own_price(litellm):
    # dashscope/qwen-turbo: output 0.0000002 (text), reasoning 0.000002 per token.
    model = litellm.models["dashscope/qwen-turbo"]
    reasoning = model.units["output_reasoning_per_token"]
    cost = priced(model, input_tokens=1000, output_tokens=100, reasoning_tokens=500)
    assert amounts(cost)["reasoning_tokens"] == 500 * reasoning
    assert cost.total == 1000 * model.input_per_token + 100 * model.output_per_token + 500 * (
        reasoning
    )


def test_reasoning_without_its_own_price_is_output_and_xai_always_is(litellm):
    o3 = litellm.models["o3"]
    assert "output_reasoning_per_token" not in o3.units
    cost = priced(o3, input_tokens=10, output_tokens=10, reasoning_tokens=90)
    assert cost.components[-1].price == o3.output_per_token
    assert cost.components[-1].price_name == "output_per_token"


def test_audio_tokens_at_the_audio_prices(litellm):
    # gpt-4o-audio-preview: text 2.5/10 per M, audio 40/80 per M (issue: 0.08075; billed as
    # text it would be 0.00825).
    model = litellm.models["gpt-4o-audio-preview"]
    cost = priced(
        model, input_tokens=100, audio_input_tokens=1000, output_tokens=50, audio_output_tokens=500
    )
    assert cost.total == Decimal("0.08075")
    assert amounts(cost)["audio_output_tokens"] == Decimal("0.04")


def test_one_hour_cache_writes_at_their_price(litellm):
    # claude-sonnet-4: 100,000 one-hour writes (2 x 0.000003) + 700 output (0.000015).
    cost = priced(
        litellm.models["claude-sonnet-4-20250514"], cache_write_1h_tokens=100_000, output_tokens=700
    )
    assert cost.total == Decimal("0.6105")  # 0.3855 if the writes were 5-minute writes
    assert cost.components[0].price_name == "units.cache_write_1h_per_token"


def test_batch_is_the_stated_batch_price_else_half(litellm):
    gpt4o = litellm.models["gpt-4o"]
    cost = priced(gpt4o, input_tokens=1_000_000, output_tokens=1_000_000, service_tier="batch")
    assert cost.total == Decimal("6.25")  # 12.5 at standard
    assert [c.price_name for c in cost.components] == [
        "variants.batch.input_per_token",
        "variants.batch.output_per_token",
    ]
    sonnet = litellm.models["claude-sonnet-4-5"]  # no batch prices stated: half, no tiers
    half = priced(sonnet, input_tokens=300_000, output_tokens=1000, service_tier="batch")
    assert half.total == (300_000 * sonnet.input_per_token + 1000 * sonnet.output_per_token) / 2
    assert half.tier_above_tokens is None and half.service_tier == "batch"


def test_flex_and_priority_fall_back_price_by_price(litellm):
    gpt4o = litellm.models["gpt-4o"]
    cost = priced(gpt4o, input_tokens=1000, cache_read_tokens=1000, service_tier="priority")
    assert [c.price_name for c in cost.components] == ["input_per_token", "cache_read_per_token"]
    assert [c.price for c in cost.components] == [Decimal("0.00000425"), Decimal("0.000002125")]
    with pytest.raises(NotPriceable, match=r"no cache_write_per_token price \(priority\)"):
        priced(gpt4o, cache_write_tokens=1, service_tier="priority")


def test_a_tier_the_model_has_no_prices_at_is_refused_not_priced_at_standard(litellm):
    # claude-sonnet-4 states no priority prices (Anthropic's Priority Tier is a capacity
    # commitment, its per-token price not published): the standard ones would be a guess.
    sonnet = litellm.models["claude-sonnet-4-20250514"]
    assert "priority" not in sonnet.variants and "flex" not in sonnet.variants
    for tier in ("priority", "flex"):
        with pytest.raises(NotPriceable, match=rf"no input_per_token price \({tier}\)") as caught:
            priced(sonnet, input_tokens=10, output_tokens=1, service_tier=tier)
        assert (caught.value.price, caught.value.quantity) == ("input_per_token", "input_tokens")
    assert priced(sonnet, input_tokens=10, service_tier="standard").total > 0


def test_text_priced_modalities_take_the_input_price_where_the_model_has_none(litellm):
    pro = litellm.models["gemini-2.5-pro"]
    assert "input_image_per_token" not in pro.units
    with pytest.raises(NotPriceable, match="input_image_per_token"):
        priced(pro, input_tokens=14, image_input_tokens=1032)
    usage = usage_from_counts({"input_tokens": 14, "image_input_tokens": 1032})
    cost = price_usage(pro, usage, text_priced=frozenset({"image_input_tokens"}))
    image = cost.components[1]
    assert (image.name, image.price, image.price_name) == (
        "image_input_tokens", pro.input_per_token, "input_per_token"
    )  # fmt: skip
    assert cost.total == 1046 * pro.input_per_token
    assert cost.notes == (
        "image_input_tokens priced at the text input price: the provider bills them as text, "
        "and the model lists no input_image_per_token price",
    )
    # A model with a price of its own keeps it (Gemini's Live models price image tokens).
    live = litellm.models["gemini-3.1-flash-live-preview"]
    own = price_usage(live, usage, text_priced=frozenset({"image_input_tokens"}))
    assert own.components[1].price_name == "units.input_image_per_token" and own.notes == ()
    # Audio is not text-priced: its own price, or refused.
    with pytest.raises(NotPriceable, match="input_audio_per_token"):
        price_usage(
            litellm.models["gpt-4o"],
            usage_from_counts({"audio_input_tokens": 5}),
            text_priced=frozenset({"image_input_tokens"}),
        )


def test_a_body_stated_multiplier_is_applied_or_refused(litellm):
    opus = litellm.models["claude-opus-4-6"]  # provider_specific_entry: us 1.1, fast 6.0
    assert opus.uplifts == {"us": Decimal("1.1"), "fast": Decimal("6.0")}
    usage = usage_from_counts({"input_tokens": 1000, "output_tokens": 100})
    plain = price_usage(opus, usage)
    geo = StatedUplift("region", "us", "response.usage.inference_geo")
    fast = StatedUplift("speed", "fast", "response.usage.speed")
    us = price_usage(opus, usage, uplifts=(geo,))
    assert us.total == plain.total * Decimal("1.1") and us.region == "us"
    assert us.components[-1][:5] == ("regional_uplift", 1, "multiplier", Decimal("1.1"),
                                     "uplifts.us")  # fmt: skip
    both = price_usage(opus, usage, uplifts=(geo, fast))
    assert both.total == plain.total * Decimal("1.1") * Decimal("6.0")
    assert [c.name for c in both.components[-2:]] == ["regional_uplift", "speed_uplift"]
    # The request's own region saying the same is applied once.
    assert price_usage(opus, usage, region="us", uplifts=(geo,)).total == us.total
    sonnet = litellm.models["claude-sonnet-4-6"]  # the snapshot lists no multiplier for it
    with pytest.raises(NotPriceable) as caught:
        price_usage(sonnet, usage, uplifts=(geo,))
    assert (caught.value.price, caught.value.quantity) == (
        "uplifts.us", "response.usage.inference_geo"
    )  # fmt: skip
    assert caught.value.reason.startswith("response.usage.inference_geo says")


def test_annotated_ocr_pages_at_the_annotation_price(litellm):
    ocr = litellm.models["mistral/mistral-ocr-latest"]
    cost = priced(ocr, pages=2, annotation_pages=2)
    assert amounts(cost) == {
        "pages": 2 * ocr.units["per_page"],
        "annotation_pages": 2 * ocr.units["annotation_per_page"],
    }
    with pytest.raises(NotPriceable, match="annotation_per_page"):
        priced(litellm.models["gpt-4o"], annotation_pages=1)


def test_xai_threshold_is_reached_at_the_threshold(litellm):
    grok = litellm.models["xai/grok-4-0709"]
    at = priced(grok, input_tokens=128_000, output_tokens=2000)
    below = priced(grok, input_tokens=127_999, output_tokens=2000)
    assert at.total == Decimal("0.828") and at.tier_above_tokens == 128_000
    assert below.total == Decimal("0.413997") and below.tier_above_tokens is None


def test_dashscope_bands_price_every_token_in_the_one_band(litellm):
    flash = litellm.models["dashscope/qwen-flash"]
    band = flash.tiers[0]
    at_edge = priced(flash, input_tokens=256_000, output_tokens=10)  # (128k, 256k]: lower band
    past = priced(flash, input_tokens=256_001, output_tokens=10)
    assert at_edge.tier_above_tokens is None
    assert past.tier_above_tokens == 256_000
    assert past.total == 256_001 * band.input_per_token + 10 * band.output_per_token


def test_openrouter_time_of_day_windows_follow_at(openrouter):
    # deepseek-v4-pro: peak 01:00-04:00 and 06:00-10:00 UTC at twice the off-peak prices.
    model = openrouter.models["deepseek/deepseek-v4-pro-0813"]

    def at(hh: int, mm: int = 0) -> Cost:
        when = datetime(2026, 11, 29, hh, mm, tzinfo=UTC)
        return priced(model, input_tokens=1_000_000, output_tokens=1_000_000, at=when)

    assert (at(0, 59).total, at(0, 59).window) == (Decimal("2.64"), "1000-0100")
    assert (at(1).total, at(1).window) == (Decimal("5.28"), "0100-0400")
    assert at(3, 59).total == Decimal("5.28")
    assert (at(4).total, at(5, 59).total) == (Decimal("2.64"), Decimal("2.64"))
    assert (at(6).total, at(9, 59).total) == (Decimal("5.28"), Decimal("5.28"))
    assert (at(10).total, at(23, 59).total) == (Decimal("2.64"), Decimal("2.64"))
    assert at(2).components[0].price_name == "windows[0100-0400].input_per_token"


def test_a_window_contains_its_start_not_its_end_and_wraps_midnight():
    late = TimeWindow(2200, 200, PriceSet())
    assert late.contains(2200) and late.contains(0) and late.contains(159)
    assert not late.contains(200) and not late.contains(2159)
    assert TimeWindow(100, 400, PriceSet()).contains(100)


def test_regional_uplift_is_its_own_component(litellm):
    model = next(m for m in litellm.models.values() if m.uplifts.get("eu") == Decimal("1.1"))
    plain = priced(model, input_tokens=1000, output_tokens=1000)
    eu = priced(model, input_tokens=1000, output_tokens=1000, region="eu")
    assert eu.total == plain.total * Decimal("1.1") and eu.region == "eu"
    assert eu.components[-1].name == "regional_uplift"
    assert eu.components[-1].cost == eu.total - plain.total
    apac = priced(model, input_tokens=1000, output_tokens=1000, region="apac")
    assert apac.total == plain.total and apac.region is None
    assert apac.notes == ("no regional uplift for 'apac': none applied",)


def test_whisper_per_second_is_not_free(litellm):
    whisper = litellm.models["whisper-1"]
    cost = priced(whisper, seconds=60)
    assert cost.total == 60 * whisper.units["input_per_second"] and cost.total > 0
    assert (
        priced(whisper, seconds="12.5").total == Decimal("12.5") * whisper.units["input_per_second"]
    )


@pytest.mark.parametrize(
    ("quantity", "unit_price"),
    [
        ("characters", "input_per_character"),
        ("pages", "per_page"),
        ("queries", "per_query"),
    ],
)
def test_per_unit_quantities(litellm, quantity, unit_price):
    model = next(m for m in litellm.models.values() if unit_price in m.units)
    cost = priced(model, **{quantity: 7})
    assert cost.components == (
        Component(
            quantity,
            7,
            {"characters": "character", "pages": "page", "queries": "query"}[quantity],
            model.units[unit_price],
            f"units.{unit_price}",
            7 * model.units[unit_price],
        ),
    )


def test_images_and_web_search(litellm, openrouter):
    gen = litellm.models["dall-e-3"]
    assert priced(gen, images_out=3).total == 3 * gen.units["input_per_image"]
    # Gemini 2.x grounding is billed per grounded prompt, whatever the number of queries.
    flash = litellm.models["gemini-2.5-flash"]
    cost = priced(flash, web_search_calls=4)
    assert cost.components[0].quantity == 1
    assert cost.total == flash.units["web_search_medium"]
    sonar = next(m for m in openrouter.models.values() if "web_search" in m.units)
    assert priced(sonar, web_search_calls=4).total == 4 * sonar.units["web_search"]


def test_a_missing_price_is_refused_never_zero(litellm, openrouter):
    gpt4o = litellm.models["gpt-4o"]
    for counts, price in [
        ({"seconds": 3}, "input_per_second"),
        ({"pages": 1}, "per_page"),
        ({"cache_write_1h_tokens": 1}, "cache_write_1h_per_token"),
        ({"audio_input_tokens": 1}, "input_audio_per_token"),
    ]:
        with pytest.raises(NotPriceable) as caught:
            priced(gpt4o, **counts)
        assert caught.value.price == price
    plain = openrouter.models["openai/gpt-audio"]
    with pytest.raises(NotPriceable, match=r"input_per_token price \(batch\)"):
        priced(plain, input_tokens=1, service_tier="batch")

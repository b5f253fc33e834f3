"""Normalization: exact Decimals from the real feeds, per-entry garbage rejected, bodies refused."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from ratecard.catalog.model import PriceSet, Tier, decimal_text
from ratecard.catalog.money import EXACT
from ratecard.ingest.feed_errors import FeedError
from ratecard.ingest.feeds import ParsedFeed, parse_feed
from ratecard.settings import Source

LITELLM = Source(name="litellm", url="file:///feed.json", kind="litellm")
OPENROUTER = Source(name="openrouter", url="file:///models.json", kind="openrouter")


@pytest.fixture(scope="module")
def litellm_july(feed_data: Path) -> ParsedFeed:
    return parse_feed(LITELLM, (feed_data / "litellm_2026-07-24.json").read_bytes())


@pytest.fixture(scope="module")
def openrouter_august(feed_data: Path) -> ParsedFeed:
    return parse_feed(OPENROUTER, (feed_data / "openrouter_models_2026-08-19.json").read_bytes())


@pytest.fixture(scope="module")
def openrouter_edges(feed_data: Path) -> ParsedFeed:
    return parse_feed(OPENROUTER, (feed_data / "openrouter_models_edge_cases.json").read_bytes())


def litellm_body(entries: dict[str, object]) -> bytes:
    return json.dumps(entries).encode()


def openrouter_body(models: list[object]) -> bytes:
    return json.dumps({"data": models}).encode()


# -- LiteLLM, real file ----------------------------------------------------------------------


def test_litellm_counts_skip_pseudo_entries_and_read_the_snapshot_date(litellm_july):
    assert len(litellm_july.models) == 2982
    assert "sample_spec" not in litellm_july.models
    assert "fallback_generalizations" not in litellm_july.models
    assert "last_updated" not in litellm_july.models
    assert litellm_july.skipped == 3
    assert litellm_july.rejected == []
    assert litellm_july.snapshot_date == "2026-07-24"
    assert litellm_july.unknown_fields == 0  # every key of this file is a known one


def test_litellm_gpt_4o_exact(litellm_july):
    model = litellm_july.models["gpt-4o"]
    assert model.source == "litellm"
    assert model.status == "priced"
    assert model.provider == "openai"
    assert model.mode == "chat"
    assert model.context_window == 128000
    assert model.max_output_tokens == 16384
    assert model.input_per_token == Decimal("0.0000025")
    assert model.output_per_token == Decimal("0.00001")
    assert model.cache_read_per_token == Decimal("0.00000125")
    assert model.cache_write_per_token is None
    assert model.tiers == ()
    # Batch and priority rates are price variants we do not serve.
    assert dict(model.units) == {}


def test_litellm_float_text_stays_exactly_that_decimal(litellm_july):
    model = litellm_july.models["databricks/databricks-claude-3-7-sonnet"]
    # The file says 2.9999900000000002e-06: that exact decimal, not the nearest binary float.
    assert model.input_per_token == Decimal("0.0000029999900000000002")
    assert decimal_text(model.input_per_token) == "0.0000029999900000000002"
    assert model.input_per_token != Decimal(float("2.9999900000000002e-06"))  # the binary float
    assert model.output_per_token == Decimal("0.000015000020000000002")
    whisper = litellm_july.models["azure/gpt-realtime-whisper"]
    assert whisper.units["input_per_second"] == Decimal("0.0002833333333333333")
    assert whisper.input_per_token is None
    assert whisper.status == "priced"


def test_litellm_above_k_tokens_become_tiers_and_units(litellm_july):
    model = litellm_july.models["claude-sonnet-4-5"]
    assert model.input_per_token == Decimal("0.000003")
    assert model.cache_write_per_token == Decimal("0.00000375")
    assert model.tiers == (
        Tier(
            above_tokens=200000,
            input_per_token=Decimal("0.000006"),
            output_per_token=Decimal("0.0000225"),
            cache_read_per_token=Decimal("6E-7"),
            cache_write_per_token=Decimal("0.0000075"),
            # cache_creation_input_token_cost_above_1hr_above_200k_tokens
            units={"cache_write_1h_per_token": Decimal("0.000012")},
        ),
    )
    assert model.units["cache_write_1h_per_token"] == Decimal("0.000006")
    assert model.units["web_search_medium"] == Decimal("0.01")


def test_litellm_service_tier_variants_uplifts_and_rules(litellm_july):
    gpt4o = litellm_july.models["gpt-4o"]
    # input_cost_per_token_batches / _priority ... become variants, stated prices only.
    assert gpt4o.variants["batch"] == PriceSet(
        input_per_token=Decimal("0.00000125"), output_per_token=Decimal("0.000005")
    )
    assert gpt4o.variants["priority"].input_per_token == Decimal("0.00000425")
    assert gpt4o.variants["priority"].cache_read_per_token == Decimal("0.000002125")
    assert gpt4o.rules == {"batch": "half"}
    grok = litellm_july.models["xai/grok-4-0709"]
    assert grok.rules == {"batch": "half", "reasoning": "output", "threshold": "inclusive"}
    # A tier of a variant: input_cost_per_token_above_272k_tokens_priority.
    gpt54 = next(
        m
        for m in litellm_july.models.values()
        if any(t.above_tokens == 272_000 for t in m.variants.get("priority", PriceSet()).tiers)
    )
    assert gpt54.tiers and gpt54.variants["priority"].tiers[0].input_per_token is not None
    uplifted = [m for m in litellm_july.models.values() if m.uplifts]
    regional = [m for m in uplifted if m.provider != "anthropic"]
    assert len(regional) == 18
    assert all(m.uplifts == {"eu": Decimal("1.1"), "us": Decimal("1.1")} for m in regional)
    # provider_specific_entry: Anthropic's data residency and fast-mode multipliers; its other
    # values (a Bedrock invocation schema) are no prices.
    anthropic = {m.model_id: m.uplifts for m in uplifted if m.provider == "anthropic"}
    assert len(anthropic) == 8
    assert anthropic["claude-sonnet-5"] == {"us": Decimal("1.1")}
    assert anthropic["claude-opus-4-6"] == {"us": Decimal("1.1"), "fast": Decimal("6.0")}
    assert litellm_july.models["amazon.titan-embed-text-v2:0"].uplifts == {}
    assert litellm_july.models["dashscope/qwen-flash"].rules["tiers"] == "bands"
    assert litellm_july.models["gemini-2.5-flash"].rules["web_search_billing_unit"] == (
        "per_prompt"
    )


def test_litellm_tiered_pricing_ranges(litellm_july):
    model = litellm_july.models["dashscope/qwen-flash"]
    assert model.input_per_token == Decimal("5E-8")
    assert model.output_per_token == Decimal("4E-7")
    assert model.tiers == (
        Tier(
            above_tokens=256000,
            input_per_token=Decimal("2.5E-7"),
            output_per_token=Decimal("0.000002"),
        ),
    )


def test_litellm_statuses_free_unpriced_and_unit_priced(litellm_july):
    assert litellm_july.models["fireworks-ai-default"].status == "free"
    assert litellm_july.models["fireworks-ai-default"].input_per_token == 0
    unpriced = litellm_july.models["dashscope/qwen3-30b-a3b"]
    assert unpriced.status == "unpriced"
    assert unpriced.input_per_token is None and unpriced.context_window == 129024
    dalle = litellm_july.models["1024-x-1024/dall-e-2"]
    assert dalle.status == "priced"
    assert dalle.units == {"input_per_pixel": Decimal("1.9E-8"), "output_per_pixel": Decimal(0)}


def test_litellm_whole_number_floats_are_counts(litellm_july):
    assert litellm_july.models["xai/grok-4-fast-reasoning"].context_window == 2000000


def test_litellm_context_window_falls_back_to_max_tokens():
    parsed = parse_feed(LITELLM, litellm_body({"m": {"max_tokens": 4096, "mode": "chat"}}))
    assert parsed.models["m"].context_window == 4096


def test_unknown_fields_are_counted_not_fatal():
    body = litellm_body(
        {
            "m": {"input_cost_per_token": 1e-6, "brand_new_cost_per_token": 5, "vibe": "ok"},
            "n": {"output_cost_per_token": 2e-6, "supports_teleport": True},
        }
    )
    parsed = parse_feed(LITELLM, body)
    assert parsed.unknown_fields == 2  # supports_* is a known family
    assert parsed.models["m"].input_per_token == Decimal("0.000001")


def test_older_snapshot_counts_its_retired_keys_as_unknown(feed_data):
    parsed = parse_feed(LITELLM, (feed_data / "litellm_2026-03-14.json").read_bytes())
    assert len(parsed.models) == 2581
    assert parsed.snapshot_date == "2026-03-14"
    assert parsed.unknown_fields > 0


# -- OpenRouter, real files ------------------------------------------------------------------


def test_openrouter_gpt_4o_exact(openrouter_august):
    assert len(openrouter_august.models) == 414
    assert openrouter_august.rejected == []
    model = openrouter_august.models["openai/gpt-4o"]
    assert model.source == "openrouter"
    assert model.provider == "openai"
    assert model.status == "priced"
    assert model.context_window == 128000
    assert model.max_output_tokens == 16384
    assert model.input_per_token == Decimal("0.0000025")
    assert model.output_per_token == Decimal("0.00001")
    assert model.cache_read_per_token == Decimal("0.00000125")
    assert openrouter_august.snapshot_date is None


def test_openrouter_strings_kept_verbatim(openrouter_august):
    model = openrouter_august.models["google/gemini-3.7-flash"]
    assert model.cache_write_per_token == Decimal("0.0000000208333333333333")
    assert decimal_text(model.cache_write_per_token) == "0.0000000208333333333333"
    assert model.units["web_search"] == Decimal("0.014")
    assert model.units["input_audio_per_token"] == Decimal("0.000000375")


def test_openrouter_overrides_become_tiers(openrouter_august):
    model = openrouter_august.models["anthropic/claude-sonnet-4.5"]
    assert model.tiers == (
        Tier(
            above_tokens=200000,
            input_per_token=Decimal("0.000006"),
            output_per_token=Decimal("0.0000225"),
            cache_read_per_token=Decimal("0.0000006"),
            cache_write_per_token=Decimal("0.0000075"),
            units={"cache_write_1h_per_token": Decimal("0.000012")},
        ),
    )
    assert model.units["cache_write_1h_per_token"] == Decimal("0.000006")
    # Time-of-day overrides are not prompt-size tiers.
    assert openrouter_august.models["deepseek/deepseek-v4-pro-0813"].tiers == ()


def test_openrouter_free_and_dynamic(openrouter_august):
    free = openrouter_august.models["dots-studio/dots-3-note-preview:free"]
    assert free.status == "free"
    assert free.input_per_token == 0 and free.output_per_token == 0
    dynamic = [m for m in openrouter_august.models.values() if m.status == "dynamic"]
    assert len(dynamic) == 5
    for model in dynamic:
        assert model.input_per_token is None and model.output_per_token is None


def test_openrouter_edge_cases(openrouter_edges):
    assert set(openrouter_edges.models) == {
        "anthropic/claude-opus-5",
        "google/gemini-3-pro-image",
        "~google/gemini-pro-latest",
        "openai/gpt-audio",
        "perplexity/sonar-deep-research",
        "openrouter/auto-beta",
    }
    router = openrouter_edges.models["openrouter/auto-beta"]
    assert router.status == "dynamic"
    assert router.context_window == 2000000
    alias = openrouter_edges.models["~google/gemini-pro-latest"]
    assert alias.model_id == "~google/gemini-pro-latest"
    assert alias.provider == "google"
    assert alias.tiers == (
        Tier(
            above_tokens=200000,
            input_per_token=Decimal("0.000004"),
            output_per_token=Decimal("0.000018"),
            cache_read_per_token=Decimal("0.0000004"),
            units={
                "input_audio_cache_read_per_token": Decimal("4E-7"),
                "input_audio_per_token": Decimal("0.000004"),
            },
        ),
    )
    audio = openrouter_edges.models["openai/gpt-audio"]
    assert audio.units == {
        "input_audio_per_token": Decimal("0.000032"),
        "output_audio_per_token": Decimal("0.000064"),
    }
    image = openrouter_edges.models["google/gemini-3-pro-image"]
    assert image.units["output_image_per_token"] == Decimal("0.00012")
    opus = openrouter_edges.models["anthropic/claude-opus-5"]
    assert opus.cache_write_per_token == Decimal("0.00000625")
    assert opus.max_output_tokens == 128000


def test_openrouter_dynamic_extra_unit_is_left_out_not_the_model():
    body = openrouter_body(
        [
            {"id": "a/search", "pricing": {"prompt": "0.000001", "web_search": "-1"}},
            {"id": "b/router", "pricing": {"prompt": "-1", "completion": "0.00001"}},
        ]
    )
    parsed = parse_feed(OPENROUTER, body)
    assert parsed.models["a/search"].status == "priced"
    assert parsed.models["a/search"].units == {}
    router = parsed.models["b/router"]
    assert router.status == "dynamic"
    assert router.input_per_token is None
    assert router.output_per_token == Decimal("0.00001")


def test_openrouter_no_pricing_is_unpriced_and_unknown_keys_counted():
    body = openrouter_body(
        [
            {"id": "a/none", "pricing": {}},
            {"id": "b/new", "pricing": {"prompt": "0.000001", "teleport": "1"}, "aura": 1},
        ]
    )
    parsed = parse_feed(OPENROUTER, body)
    assert parsed.models["a/none"].status == "unpriced"
    assert parsed.models["b/new"].status == "priced"
    assert parsed.unknown_fields == 2


# -- per-entry garbage -----------------------------------------------------------------------


def test_litellm_garbage_entries_rejected_and_counted():
    body = (
        b'{"good": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06},'
        b' "word": {"input_cost_per_token": "cheap"},'
        b' "negative": {"input_cost_per_token": -0.001},'
        b' "nan": {"input_cost_per_token": NaN},'
        b' "infinite": {"output_cost_per_token": Infinity},'
        b' "list": {"input_cost_per_token": [1]},'
        b' "bool": {"input_cost_per_token": true},'
        b' "context": {"input_cost_per_token": 1e-06, "max_input_tokens": "lots"},'
        b' "huge": {"input_cost_per_token": 1e300},'
        b' "tiny": {"input_cost_per_token": 1e-300},'
        b' "not-a-model": 42}'
    )
    parsed = parse_feed(LITELLM, body)
    # A bad secondary field (a token limit) drops that field, not the model.
    assert list(parsed.models) == ["good", "context"]
    assert parsed.models["context"].context_window is None
    assert [(d.model_id, d.field) for d in parsed.dropped] == [("context", "context_window")]
    assert parsed.dropped[0].reason.startswith("max_input_tokens:")
    assert parsed.models["good"].output_per_token == Decimal("0.000002")
    reasons = {r.model_id: r.reason for r in parsed.rejected}
    assert set(reasons) == {
        "word",
        "negative",
        "nan",
        "infinite",
        "list",
        "bool",
        "huge",
        "tiny",
    }
    assert reasons["word"] == "input_cost_per_token: 'cheap' is not a number"
    assert "negative price" in reasons["negative"]
    assert "not a finite number" in reasons["nan"]
    assert "not a finite number" in reasons["infinite"]
    assert reasons["list"] == "input_cost_per_token: expected a number, got list"
    assert reasons["bool"] == "input_cost_per_token: expected a number, got boolean"
    assert "implausible" in reasons["huge"] and "implausible" in reasons["tiny"]
    assert parsed.skipped == 1


def test_openrouter_garbage_entries_rejected_never_negative():
    body = openrouter_body(
        [
            {"id": "ok/model", "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
            {"id": "bad/word", "pricing": {"prompt": "free!", "completion": "0"}},
            {"id": "bad/negative", "pricing": {"prompt": "-0.5", "completion": "0"}},
            {"id": "bad/nan", "pricing": {"prompt": "NaN", "completion": "0"}},
            {"id": "bad/pricing", "pricing": ["0.1"]},
            {"id": "bad/override", "pricing": {"prompt": "1e-6", "overrides": "soon"}},
            {"pricing": {"prompt": "0"}},
            "just a string",
            {"id": "ok/model", "pricing": {"prompt": "0.9"}},
            {"id": "ok/other", "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
        ]
    )
    parsed = parse_feed(OPENROUTER, body)
    # An id listed twice: neither entry is trusted (the guard keeps its last good prices).
    assert list(parsed.models) == ["ok/other"]
    assert parsed.models["ok/other"].input_per_token == Decimal("0.000001")
    reasons = {r.model_id: r.reason for r in parsed.rejected}
    assert reasons["bad/word"] == "pricing.prompt: 'free!' is not a number"
    assert "negative price -0.5" in reasons["bad/negative"]
    assert "not a number" in reasons["bad/nan"]
    assert reasons["bad/pricing"] == "pricing: expected an object, got list"
    assert reasons["bad/override"].startswith("pricing.overrides:")
    assert reasons["data[6]"] == "id: expected a non-empty string"
    assert reasons["data[7]"] == "expected an object, got string"
    assert len(parsed.rejected) == 8  # the duplicate ok/model once
    assert reasons["ok/model"] == "id listed more than once in the feed"


# -- whole-body failures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "body is empty"),
        (b"   \n", "body is empty"),
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "body is HTML, not JSON"),
        (b"\n  <html><head><title>Just a moment...</title>", "body is HTML, not JSON"),
        (b"[1, 2, 3]", "expected an object of models, got list"),
        (b'"models"', "expected an object of models, got string"),
        (b"\xff\xfe{}", "body is not UTF-8 text (bad byte at 0)"),
        (b'{"a": {"input_cost_per_token": 1e-6} oops}', "invalid JSON at byte 37"),
        (b'{"a": {"input_cost_per_token": "x"}}', "no usable models (1 rejected, 0 skipped)"),
        (b'{"sample_spec": {}, "last_updated": "2026-01-01"}', "no usable models"),
        (b"{}", "no usable models (0 rejected, 0 skipped)"),
        (b"1" * 5000, "expected an object of models, got number"),
    ],
)
def test_litellm_body_failures(body, reason):
    with pytest.raises(FeedError) as caught:
        parse_feed(LITELLM, body)
    assert caught.value.source == "litellm"
    assert caught.value.reason.startswith(reason)
    assert str(caught.value) == f"litellm: {caught.value.reason}"


@pytest.mark.parametrize("cut", [1, 100, 12345, 700_000, -3])
def test_truncated_real_file_is_refused(feed_data, cut):
    body = (feed_data / "litellm_2026-07-24.json").read_bytes()
    truncated = body[:cut]
    with pytest.raises(FeedError) as caught:
        parse_feed(LITELLM, truncated)
    assert caught.value.reason == f"truncated JSON at byte {len(truncated)}"


def test_truncated_inside_a_literal_is_truncation():
    with pytest.raises(FeedError, match=r"truncated JSON at byte \d+"):
        parse_feed(LITELLM, b'{"m": {"supports_vision": tr')


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"models": []}', "expected an object with a data list, got no data list"),
        (b'{"data": {"id": "x"}}', "expected an object with a data list, got no data list"),
        (b"[]", "expected an object with a data list, got list"),
        (b'{"data": []}', "no usable models (0 rejected, 0 skipped)"),
    ],
)
def test_openrouter_body_failures(body, reason):
    with pytest.raises(FeedError) as caught:
        parse_feed(OPENROUTER, body)
    assert caught.value.reason == reason


def test_unknown_kind_is_a_feed_error():
    with pytest.raises(FeedError, match="unknown feed kind"):
        parse_feed(Source("other", "file:///x", "other"), b"{}")


def test_exact_context_multiplies_without_rounding():
    price = Decimal("0.0000029999900000000002")  # databricks-claude-3-7-sonnet input
    product = EXACT.multiply(Decimal(987_654_321_987), price)
    # 987654321987 x 29999900000000002 = 29629530894177803275308643974, scaled by 10^-22.
    assert product == Decimal("2962953.0894177803275308643974")
    assert Decimal(987_654_321_987) * price != product  # the default 28-digit context rounds

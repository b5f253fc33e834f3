"""A body that contradicts itself, or a count that is no count, is refused naming the field."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from ratecard.costing.formats import read_response, read_usage
from tests.costing.formats.helpers import RESPONSES, refused

MISSING = object()


def body(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((RESPONSES / f"{name}.json").read_text())
    return loaded


def edited(document: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy with each dotted path set to its value (MISSING deletes it)."""
    result = copy.deepcopy(document)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node: Any = result
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is MISSING:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return result


CHAT = body("openai_chat/gpt-4o_cached")["usage"]  # prompt 2006 (1920 cached), completion 300
RESPONSES_USAGE = body("openai_responses/gpt-5_flex")["usage"]  # in 15000 (12032), out 2200 (1600)
ANTHROPIC = body("anthropic/claude-sonnet-4_cache_5m_1h")["usage"]  # writes 2048 + 51200
GEMINI = body("gemini/gemini-2.5-flash_implicit_cache_audio")["usageMetadata"]
BEDROCK = body("bedrock/converse_cache_1h")["usage"]  # writes 38400 1h + 1368 5m

# (format, base usage block, changes, the field the error must name, words the message holds)
CASES = [
    # OpenAI Chat Completions
    ("openai.chat", CHAT, {"prompt_tokens_details.cached_tokens": 2007},
     "usage.prompt_tokens_details.cached_tokens", "more than prompt_tokens"),
    ("openai.chat", CHAT, {"prompt_tokens_details.audio_tokens": 100},
     "usage.prompt_tokens_details", "cached_tokens + audio_tokens + image_tokens"),
    ("openai.chat", CHAT, {"completion_tokens_details.reasoning_tokens": 301},
     "usage.completion_tokens_details.reasoning_tokens", "more than completion_tokens"),
    ("openai.chat", CHAT, {"completion_tokens_details.reasoning_tokens": 200,
                           "completion_tokens_details.audio_tokens": 200},
     "usage.completion_tokens_details", "reasoning_tokens + audio_tokens"),
    ("openai.chat", CHAT, {"completion_tokens_details.rejected_prediction_tokens": 301},
     "usage.completion_tokens_details.rejected_prediction_tokens", "more than"),
    ("openai.chat", CHAT, {"total_tokens": "2306"}, "usage.total_tokens", "'2306'"),
    ("openai.chat", CHAT, {"prompt_tokens": MISSING}, "usage.prompt_tokens", "required"),
    ("openai.chat", CHAT, {"completion_tokens": None}, "usage.completion_tokens", "null"),
    ("openai.chat", CHAT, {"prompt_tokens": -1}, "usage.prompt_tokens", "-1"),
    ("openai.chat", CHAT, {"prompt_tokens": True}, "usage.prompt_tokens", "true"),
    ("openai.chat", CHAT, {"prompt_tokens": "2006"}, "usage.prompt_tokens", "'2006'"),
    ("openai.chat", CHAT, {"prompt_tokens": 2006.0}, "usage.prompt_tokens", "without a fraction"),
    ("openai.chat", CHAT, {"prompt_tokens": 2006.5}, "usage.prompt_tokens", "2006.5"),
    ("openai.chat", CHAT, {"prompt_tokens_details": [1920]},
     "usage.prompt_tokens_details", "must be an object"),
    ("openai.chat", CHAT, {"prompt_tokens_details.cached_tokens": False},
     "usage.prompt_tokens_details.cached_tokens", "false"),
    # OpenAI Responses
    ("openai.responses", RESPONSES_USAGE, {"input_tokens_details.cached_tokens": 15001},
     "usage.input_tokens_details.cached_tokens", "more than input_tokens"),
    ("openai.responses", RESPONSES_USAGE, {"output_tokens_details.reasoning_tokens": 2201},
     "usage.output_tokens_details.reasoning_tokens", "more than output_tokens"),
    ("openai.responses", RESPONSES_USAGE, {"output_tokens": MISSING},
     "usage.output_tokens", "required"),
    ("openai.responses", RESPONSES_USAGE, {"input_tokens": {"n": 1}},
     "usage.input_tokens", "an object"),
    # Anthropic
    ("anthropic", ANTHROPIC, {"cache_creation.ephemeral_1h_input_tokens": "51200"},
     "usage.cache_creation.ephemeral_1h_input_tokens", "non-negative integer"),
    ("anthropic", ANTHROPIC, {"server_tool_use": {"web_search_requests": -2}},
     "usage.server_tool_use.web_search_requests", "-2"),
    ("anthropic", ANTHROPIC, {"server_tool_use": 2}, "usage.server_tool_use", "an object"),
    ("anthropic", ANTHROPIC, {"service_tier": "gold"}, "usage.service_tier", "batch, priority"),
    ("anthropic", ANTHROPIC, {"input_tokens": MISSING}, "usage.input_tokens", "required"),
    ("anthropic", ANTHROPIC, {"cache_read_input_tokens": 1.5},
     "usage.cache_read_input_tokens", "1.5"),
    # Gemini (a usageMetadata given as `usage`)
    ("gemini", GEMINI, {"cachedContentTokenCount": 12001},
     "usage.cachedContentTokenCount", "more than promptTokenCount"),
    ("gemini", GEMINI, {"promptTokensDetails.1.tokenCount": 10001},
     "usage.promptTokensDetails", "more than promptTokenCount"),
    ("gemini", GEMINI, {"cacheTokensDetails.0.tokenCount": 1001},
     "usage.cacheTokensDetails", "more than cachedContentTokenCount"),
    ("gemini", GEMINI, {"cacheTokensDetails.0.tokenCount": 0,
                        "cacheTokensDetails.1.tokenCount": 9000,
                        "promptTokensDetails.0.tokenCount": 3500,
                        "promptTokensDetails.1.tokenCount": 8500},
     "usage.cacheTokensDetails", "cached AUDIO"),
    ("gemini", GEMINI, {"cacheTokensDetails": MISSING, "promptTokensDetails.0.tokenCount": 500,
                        "promptTokensDetails.1.tokenCount": 11500},
     "usage.cachedContentTokenCount", "does not say which modalities"),
    ("gemini", GEMINI, {"promptTokensDetails.1.tokenCount": -5},
     "usage.promptTokensDetails[1].tokenCount", "-5"),
    ("gemini", GEMINI, {"promptTokensDetails.1": "AUDIO"},
     "usage.promptTokensDetails[1]", "must be an object"),
    ("gemini", GEMINI, {"promptTokensDetails.1.modality": 2},
     "usage.promptTokensDetails[1].modality", "must be a string"),
    ("gemini", GEMINI, {"cacheTokensDetails": {"TEXT": 1000}},
     "usage.cacheTokensDetails", "must be a list"),
    ("gemini", GEMINI, {"candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 301}]},
     "usage.candidatesTokensDetails", "more than candidatesTokenCount"),
    ("gemini", GEMINI, {"promptTokenCount": MISSING}, "usage.promptTokenCount", "required"),
    ("gemini", GEMINI, {"trafficType": 1}, "usage.trafficType", "must be a string"),
    # Bedrock
    ("bedrock", BEDROCK, {"cacheDetails.0.ttl": "2h"}, "usage.cacheDetails[0].ttl", "'2h'"),
    ("bedrock", BEDROCK, {"cacheDetails.1.inputTokens": MISSING},
     "usage.cacheDetails[1].inputTokens", "required"),
    ("bedrock", BEDROCK, {"cacheDetails.0": 38400}, "usage.cacheDetails[0]", "must be an object"),
    ("bedrock", BEDROCK, {"inputTokens": MISSING}, "usage.inputTokens", "required"),
    ("bedrock", BEDROCK, {"outputTokens": 1e3}, "usage.outputTokens", "without a fraction"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("format_name", "base", "changes", "field", "words"),
    CASES,
    ids=[f"{case[0]}:{case[3]}:{index}" for index, case in enumerate(CASES)],
)
def test_a_contradiction_or_bad_count_names_its_field(
    format_name: str, base: dict[str, Any], changes: dict[str, Any], field: str, words: str
) -> None:
    usage = edited(base, changes)
    error = refused(read_usage, usage, format_name)
    assert error.field == field
    assert words in error.message
    # The same body detected rather than named fails alike (details never change the format).
    assert refused(read_usage, usage).field == field


# (format, base usage block, a stated total that is not the sum of its parts, the note's start)
TOTALS = [
    ("openai.chat", CHAT, {"total_tokens": 2307}, "usage.total_tokens 2307 is not"),
    ("openai.responses", RESPONSES_USAGE, {"total_tokens": 17000}, "usage.total_tokens 17000"),
    ("anthropic", ANTHROPIC, {"cache_creation_input_tokens": 53000},
     "usage.cache_creation_input_tokens 53000 is not"),
    ("gemini", GEMINI, {"totalTokenCount": 12299}, "usage.totalTokenCount 12299 is not"),
    ("bedrock", BEDROCK, {"cacheWriteInputTokens": 39000}, "usage.cacheWriteInputTokens 39000"),
    ("bedrock", BEDROCK, {"totalTokens": 40230}, "usage.totalTokens 40230 is not"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("format_name", "base", "changes", "note"), TOTALS, ids=[case[3] for case in TOTALS]
)
def test_a_stated_total_that_is_not_its_parts_sum_is_priced_by_the_parts_with_a_note(
    format_name: str, base: dict[str, Any], changes: dict[str, Any], note: str
) -> None:
    # Real providers send such totals: the parts are what is billed.
    read = read_usage(edited(base, changes), format_name)
    assert read.usage == read_usage(base, format_name).usage
    assert len(read.notes) == 1 and read.notes[0].startswith(note), read.notes
    assert read.notes[0].endswith("the parts are priced")
    assert read_usage(base, format_name).notes == ()


def test_fields_are_named_by_where_the_request_holds_them() -> None:
    bad = edited(body("gemini/gemini-2.5-flash_implicit_cache_audio"), {})
    bad["usageMetadata"]["cachedContentTokenCount"] = 12001
    assert refused(read_response, bad).field == "usageMetadata.cachedContentTokenCount"
    error = refused(read_response, bad, path="response")
    assert error.field == "response.usageMetadata.cachedContentTokenCount"
    error = refused(read_usage, bad["usageMetadata"], "gemini", path="items[3].usage")
    assert error.field == "items[3].usage.cachedContentTokenCount"


def test_openai_null_details_are_absent() -> None:
    usage = edited(CHAT, {"prompt_tokens_details": None, "completion_tokens_details": None})
    read = read_usage(usage, "openai.chat").usage
    assert (read.input_tokens, read.cache_read_tokens, read.output_tokens) == (2006, 0, 300)
    assert read_usage({"prompt_tokens": 5, "completion_tokens": 1}).usage.input_tokens == 5


def test_unknown_extra_keys_are_ignored() -> None:
    usage = edited(CHAT, {"prompt_tokens_details.future_tokens": "soon", "x_vendor": [1]})
    assert read_usage(usage).usage == read_usage(CHAT).usage


def test_openai_response_tiers_and_their_errors() -> None:
    response = body("openai_chat/gpt-4o_cached")
    for stated, tier in [("default", "standard"), ("auto", "standard"), ("scale", "standard"),
                         ("flex", "flex"), ("priority", "priority"), (None, None)]:  # fmt: skip
        assert read_response(edited(response, {"service_tier": stated})).service_tier == tier
    assert read_response(edited(response, {"service_tier": MISSING})).service_tier is None
    error = refused(read_response, edited(response, {"service_tier": "turbo"}))
    assert error.field == "service_tier" and "'turbo'" in error.message
    assert refused(read_response, edited(response, {"model": 4})).field == "model"


def test_responses_web_search_items_must_be_a_list_of_objects() -> None:
    response = body("openai_responses/gpt-4.1_web_search")
    assert refused(read_response, edited(response, {"output": {"type": "x"}})).field == "output"
    error = refused(read_response, edited(response, {"output.1": "message"}), path="response")
    assert error.field == "response.output[1]"
    many = edited(response, {})
    many["output"] = [*many["output"], *many["output"][:1] * 3]
    assert read_response(many).usage.web_search_calls == 4


def test_anthropic_writes_without_a_split_are_five_minute_writes() -> None:
    for split in (MISSING, None, {}):
        read = read_usage(edited(ANTHROPIC, {"cache_creation": split})).usage
        assert (read.cache_write_tokens, read.cache_write_1h_tokens) == (53248, 0)
    # A split given without the total is enough.
    read = read_usage(edited(ANTHROPIC, {"cache_creation_input_tokens": MISSING})).usage
    assert (read.cache_write_tokens, read.cache_write_1h_tokens) == (2048, 51200)


def test_gemini_splits_output_by_modality_and_maps_traffic_types() -> None:
    image_out = edited(
        GEMINI,
        {
            "candidatesTokenCount": 1300,
            "totalTokenCount": 13300,
            "candidatesTokensDetails": [
                {"modality": "TEXT", "tokenCount": 10},
                {"modality": "IMAGE", "tokenCount": 1290},
            ],
        },
    )
    read = read_usage(image_out).usage
    assert (read.output_tokens, read.image_output_tokens, read.audio_output_tokens) == (10, 1290, 0)
    for traffic, tier in [("ON_DEMAND_PRIORITY", "priority"), ("FLEX", "flex"),
                          ("ON_DEMAND_FLEX", "flex"),
                          ("BATCH", "flex"), ("ON_DEMAND", "standard"),
                          ("PROVISIONED_THROUGHPUT", "standard")]:  # fmt: skip
        assert read_usage(edited(GEMINI, {"trafficType": traffic})).service_tier == tier
    assert read_usage(GEMINI).service_tier is None
    # proto3 JSON leaves zero counts out: no candidatesTokenCount is no output.
    assert read_usage({"promptTokenCount": 7}).usage.output_tokens == 0


def test_gemini_tool_tokens_are_input_unless_google_search_grounded_the_response() -> None:
    grounded = body("gemini/gemini-2.5-flash_grounded")
    url_context = edited(grounded, {"candidates.0.groundingMetadata": MISSING})
    read = read_response(url_context)
    assert (read.usage.input_tokens, read.usage.web_search_calls) == (14 + 391, 0)
    assert read.unpriced is None
    no_queries = edited(grounded, {"candidates.0.groundingMetadata.webSearchQueries": []})
    assert read_response(no_queries).usage.input_tokens == 405
    # Two candidates grounded by their own queries: every distinct query counts once.
    two = edited(grounded, {})
    two["candidates"].append(copy.deepcopy(two["candidates"][0]))
    assert read_response(two).usage.web_search_calls == 2
    two["candidates"][1]["groundingMetadata"]["webSearchQueries"] = ["other", "", "other"]
    assert read_response(two).usage.web_search_calls == 3
    # Google Maps alone grounded it: its queries are Maps lookups, not web searches.
    maps = edited(grounded, {"candidates.0.groundingMetadata.groundingChunks": [{"maps": {}}]})
    assert read_response(maps).usage.web_search_calls == 0
    for queries in ("q", ["q", 1]):
        bad = edited(grounded, {"candidates.0.groundingMetadata.webSearchQueries": queries})
        error = refused(read_response, bad)
        assert error.field == "candidates[0].groundingMetadata.webSearchQueries"
    no_tool_tokens = edited(
        grounded,
        {"usageMetadata.toolUsePromptTokenCount": MISSING, "usageMetadata.totalTokenCount": 110},
    )
    assert read_response(no_tool_tokens).unpriced is None


def test_bedrock_details_alone_split_writes_and_the_response_tier_is_read() -> None:
    read = read_usage(edited(BEDROCK, {"cacheWriteInputTokens": MISSING})).usage
    assert (read.cache_write_tokens, read.cache_write_1h_tokens) == (1368, 38400)
    read = read_usage(edited(BEDROCK, {"cacheDetails": []})).usage
    assert (read.cache_write_tokens, read.cache_write_1h_tokens) == (39768, 0)
    response = body("bedrock/converse_plain")
    for stated, tier in [({"type": "priority"}, "priority"), ({"type": "default"}, "standard"),
                         ("flex", "flex")]:  # fmt: skip
        assert read_response(edited(response, {"serviceTier": stated})).service_tier == tier
    error = refused(read_response, edited(response, {"serviceTier": {"type": "gold"}}))
    assert error.field == "serviceTier.type"


def test_gemini_thoughts_counted_inside_candidates_are_taken_out_once() -> None:
    # An early Gemini 2.5 body: candidates 400 include the 300 thoughts; the total has them once.
    inclusive = {"promptTokenCount": 50, "candidatesTokenCount": 400, "thoughtsTokenCount": 300,
                 "totalTokenCount": 450}  # fmt: skip
    read = read_usage(inclusive).usage
    assert (read.output_tokens, read.reasoning_tokens, read.completion_tokens) == (100, 300, 400)
    exclusive = {**inclusive, "totalTokenCount": 750}
    assert read_usage(exclusive).usage.output_tokens == 400
    # A total that fits neither reading: the parts as stated (thoughts outside), with a note.
    neither = read_usage({**inclusive, "totalTokenCount": 451})
    assert (neither.usage.output_tokens, neither.usage.reasoning_tokens) == (400, 300)
    assert neither.notes[0].startswith("usage.totalTokenCount 451 is not")


def with_unknown_keys(value: Any) -> Any:
    """`value` with an unknown key of every JSON type added to each object inside it."""
    if isinstance(value, dict):
        extra = {"x_future": {"n": [1, 2.5, "a", None, True]}, "x_ratio": 0.75, "x_flag": False}
        return {**{k: with_unknown_keys(v) for k, v in value.items()}, **extra}
    if isinstance(value, list):
        return [with_unknown_keys(item) for item in value]
    return value


@pytest.mark.parametrize(
    "path", sorted(RESPONSES.glob("*/*.expected.json")), ids=lambda p: p.name.split(".exp")[0]
)
def test_an_unknown_key_anywhere_in_a_usage_block_is_never_an_error(path: Any) -> None:
    whole = json.loads(path.with_name(path.name.replace(".expected", "")).read_text())
    fmt = json.loads(path.read_text())["format"]
    key = next(k for k in ("usage", "usageMetadata", "usage_info") if k in whole)
    noisy = {**whole, key: with_unknown_keys(whole[key]), "x_vendor": {"id": "req_1"}}
    assert read_response(noisy, fmt) == read_response(whole, fmt)
    assert read_response(noisy) == read_response(whole)


def test_reasoning_outside_the_completion_is_told_by_the_total() -> None:
    # An xAI body relayed as plain Chat Completions: the total says the reasoning is apart.
    usage = {"prompt_tokens": 21, "completion_tokens": 563, "total_tokens": 847,
             "completion_tokens_details": {"reasoning_tokens": 263}}  # fmt: skip
    read = read_usage(usage, "openai.chat")
    assert (read.usage.output_tokens, read.usage.reasoning_tokens) == (563, 263)
    assert read.notes == (
        "usage.total_tokens is prompt_tokens + completion_tokens + reasoning_tokens: reasoning "
        "counted outside completion_tokens",
    )
    # The OpenAI way (total = prompt + completion): inside, no note.
    inside = read_usage({**usage, "total_tokens": 584}, "openai.chat")
    assert (inside.usage.output_tokens, inside.notes) == (300, ())
    # xAI's own body: apart, as xAI counts; re-counted by a proxy (total = prompt +
    # completion): inside, with a note; no total at all: xAI's way, with a note.
    xai = {**usage, "num_sources_used": 0}
    assert read_usage(xai).usage.output_tokens == 563 and read_usage(xai).notes == ()
    recounted = read_usage({**xai, "total_tokens": 584})
    assert recounted.usage.output_tokens == 300
    assert recounted.notes[0].endswith("reasoning counted inside completion_tokens")
    untold = read_usage({k: v for k, v in xai.items() if k != "total_tokens"})
    assert untold.usage.output_tokens == 563 and "as xAI counts them" in untold.notes[0]


def test_deepseek_hits_and_misses_are_the_parts_billed() -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 5, "prompt_cache_hit_tokens": 60,
             "prompt_cache_miss_tokens": 40}  # fmt: skip
    read = read_usage(usage)
    assert (read.usage.input_tokens, read.usage.cache_read_tokens, read.notes) == (40, 60, ())
    off = read_usage({**usage, "prompt_cache_miss_tokens": 45})
    assert (off.usage.input_tokens, off.usage.cache_read_tokens) == (45, 60)
    assert off.notes[0].startswith("usage.prompt_tokens 100 is not prompt_cache_hit_tokens")
    # One counter given: the other is what is left of the prompt.
    hits_only = read_usage({k: v for k, v in usage.items() if k != "prompt_cache_miss_tokens"})
    assert (hits_only.usage.input_tokens, hits_only.usage.cache_read_tokens) == (40, 60)
    error = refused(read_usage, {**usage, "prompt_cache_hit_tokens": 101})
    assert error.field == "usage.prompt_cache_hit_tokens"


def test_embeddings_with_only_a_total_price_it_as_input() -> None:
    read = read_usage({"total_tokens": 12}, "openai.embeddings")
    assert (read.usage.input_tokens, read.usage.output_tokens) == (12, 0)
    assert read.notes[0].startswith("usage.total_tokens priced as input tokens")
    assert refused(read_usage, {}, "openai.embeddings").field == "usage.prompt_tokens"
    off = read_usage({"prompt_tokens": 8, "total_tokens": 9})
    assert off.usage.input_tokens == 8 and off.notes[0].startswith("usage.total_tokens 9")


def test_transcription_seconds_keep_their_fraction_exactly() -> None:
    read = read_usage({"type": "duration", "seconds": 8.47}).usage
    assert read.seconds == Decimal("8.47") and read.nonzero() == {"seconds": Decimal("8.47")}
    assert read_usage({"seconds": 12}).usage.seconds == 12  # `type` left out: the keys tell
    assert refused(read_usage, {"type": "duration"}).field == "usage.seconds"
    for bad in (True, "8", float("nan"), -0.5):
        error = refused(read_usage, {"type": "duration", "seconds": bad})
        assert error.field == "usage.seconds"
    tokens = {"type": "tokens", "input_tokens": 10, "output_tokens": 3,
              "input_token_details": {"audio_tokens": 6, "text_tokens": 3}}  # fmt: skip
    read_tokens = read_usage(tokens)
    assert (read_tokens.usage.input_tokens, read_tokens.usage.audio_input_tokens) == (4, 6)
    assert "the rest priced as text tokens" in read_tokens.notes[0]


def test_image_usage_without_output_details_is_all_image_output() -> None:
    usage = {"input_tokens": 50, "output_tokens": 4160, "total_tokens": 4210,
             "input_tokens_details": {"text_tokens": 50, "image_tokens": 0}}  # fmt: skip
    read = read_usage(usage).usage
    assert (read.input_tokens, read.image_output_tokens, read.output_tokens) == (50, 4160, 0)
    short = read_usage({**usage, "input_tokens_details": {"text_tokens": 40, "image_tokens": 0}})
    assert short.usage.input_tokens == 50 and "the rest priced as text" in short.notes[0]


def test_cohere_prices_billed_units_and_else_the_processed_tokens() -> None:
    read = read_usage({"billed_units": {"search_units": 3}}).usage
    assert read.nonzero() == {"queries": 3}
    processed = read_usage({"tokens": {"input_tokens": 70, "output_tokens": 9}})
    assert (processed.usage.input_tokens, processed.usage.output_tokens) == (70, 9)
    assert processed.notes[0].startswith("usage.billed_units not given")
    error = refused(read_usage, {"billed_units": {"input_tokens": 1.5}})
    assert error.field == "usage.billed_units.input_tokens"


def test_anthropic_iterations_and_stated_multipliers() -> None:
    base = {"input_tokens": 10, "output_tokens": 5}
    compaction = {"type": "compaction", "input_tokens": 100, "output_tokens": 7,
                  "cache_read_input_tokens": 30, "cache_creation_input_tokens": 20,
                  "cache_creation": {"ephemeral_5m_input_tokens": 5,
                                     "ephemeral_1h_input_tokens": 15}}  # fmt: skip
    read = read_usage({**base, "iterations": [compaction, {"type": "message", **base}]})
    assert read.usage.nonzero() == {
        "input_tokens": 110, "output_tokens": 12, "cache_read_tokens": 30,
        "cache_write_tokens": 5, "cache_write_1h_tokens": 15,
    }  # fmt: skip
    unknown = read_usage({**base, "iterations": [{"type": "planning", "input_tokens": 3}]})
    assert unknown.usage == read_usage(base, "anthropic").usage
    assert unknown.notes == ("usage.iterations[0]: iteration type 'planning' not priced",)
    error = refused(read_usage, {**base, "iterations": [{"type": "fallback_message"}]})
    assert error.field == "usage.iterations[0]" and "one cost request prices one model" in (
        error.message
    )
    assert refused(read_usage, {**base, "iterations": [{"type": 3}]}).field == (
        "usage.iterations[0].type"
    )
    assert refused(read_usage, {**base, "iterations": {"type": "message"}}).field == (
        "usage.iterations"
    )
    for geo in ("global", "not_available"):
        assert read_usage({**base, "inference_geo": geo}, "anthropic").uplifts == ()
    assert read_usage({**base, "inference_geo": "eu"}, "anthropic").uplifts == (
        ("region", "eu", "usage.inference_geo"),
    )
    assert refused(read_usage, {**base, "inference_geo": 1}).field == "usage.inference_geo"


def test_groq_tiers_are_groqs_not_openais() -> None:
    body = {"object": "chat.completion", "model": "llama", "x_groq": {"id": "r"},
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_time": 0.1}}  # fmt: skip
    for stated, billed in [("on_demand", "standard"), ("flex", "standard"),
                           ("auto", "standard"), ("performance", "priority")]:  # fmt: skip
        assert read_response({**body, "service_tier": stated}).service_tier == billed
    assert refused(read_response, {**body, "service_tier": "turbo"}).field == "service_tier"


def test_ocr_needs_its_page_count() -> None:
    assert refused(read_usage, {"doc_size_bytes": 3}, "mistral.ocr").field == (
        "usage.pages_processed"
    )

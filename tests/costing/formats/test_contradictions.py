"""A body that contradicts itself, or a count that is no count, is refused naming the field."""

from __future__ import annotations

import copy
import json
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
    ("openai.chat", CHAT, {"total_tokens": 2307}, "usage.total_tokens", "2306"),
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
    ("openai.responses", RESPONSES_USAGE, {"total_tokens": 17000}, "usage.total_tokens", "17000"),
    ("openai.responses", RESPONSES_USAGE, {"output_tokens": MISSING},
     "usage.output_tokens", "required"),
    ("openai.responses", RESPONSES_USAGE, {"input_tokens": {"n": 1}},
     "usage.input_tokens", "an object"),
    # Anthropic
    ("anthropic", ANTHROPIC, {"cache_creation_input_tokens": 53000},
     "usage.cache_creation_input_tokens", "53248"),
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
    ("gemini", GEMINI, {"totalTokenCount": 12299}, "usage.totalTokenCount", "(12300)"),
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
    ("bedrock", BEDROCK, {"cacheWriteInputTokens": 39000},
     "usage.cacheWriteInputTokens", "39768"),
    ("bedrock", BEDROCK, {"cacheDetails.0.ttl": "2h"}, "usage.cacheDetails[0].ttl", "'2h'"),
    ("bedrock", BEDROCK, {"cacheDetails.1.inputTokens": MISSING},
     "usage.cacheDetails[1].inputTokens", "required"),
    ("bedrock", BEDROCK, {"cacheDetails.0": 38400}, "usage.cacheDetails[0]", "must be an object"),
    ("bedrock", BEDROCK, {"totalTokens": 40230}, "usage.totalTokens", "40231"),
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
    assert (
        refused(read_usage, {**inclusive, "totalTokenCount": 451}).field == "usage.totalTokenCount"
    )

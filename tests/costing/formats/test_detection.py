"""Format detection: a usage object's keys name its format, or the error says what they could be."""

from __future__ import annotations

from typing import Any

import pytest

from ratecard.costing.formats import FORMATS, detect_format, read_response, read_usage
from ratecard.vocabulary import UsageFormat
from tests.costing.formats.helpers import refused


def test_the_registry_is_the_vocabulary() -> None:
    assert tuple(FORMATS) == tuple(UsageFormat)
    assert [str(name) for name in FORMATS] == [
        "openai.chat",
        "openai.responses",
        "anthropic",
        "gemini",
        "bedrock",
        "openai.embeddings",
        "openai.images",
        "openai.transcription",
        "openai.speech",
        "deepseek",
        "xai",
        "groq",
        "cohere",
        "mistral.ocr",
    ]
    assert all(reader.name == name for name, reader in FORMATS.items())


ANTHROPIC_2026 = {  # a Messages usage with the fields added in 2026
    "input_tokens": 2095,
    "output_tokens": 503,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "output_tokens_details": {"thinking_tokens": 211},
    "inference_geo": "global",
    "iterations": [{"type": "message", "input_tokens": 2095, "output_tokens": 503}],
    "server_tool_use": {"web_fetch_requests": 2, "web_search_requests": 0},
    "service_tier": "standard",
}


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"prompt_tokens": 1, "completion_tokens": 1}, UsageFormat.OPENAI_CHAT),
        ({"prompt_tokens": 8, "total_tokens": 8}, "openai.embeddings"),
        ({"input_tokens": 1, "output_tokens": 1, "input_tokens_details": {"cached_tokens": 0}},
         "openai.responses"),
        ({"input_tokens": 1, "output_tokens": 1,
          "output_tokens_details": {"reasoning_tokens": 0}}, "openai.responses"),
        ({"input_tokens": 1, "output_tokens": 1, "cache_read_input_tokens": 0}, "anthropic"),
        ({"input_tokens": 1, "output_tokens": 1, "server_tool_use": {}}, "anthropic"),
        (ANTHROPIC_2026, "anthropic"),
        ({"input_tokens": 1, "output_tokens": 3, "output_tokens_details": {"thinking_tokens": 2}},
         "anthropic"),
        ({"input_tokens": 1, "output_tokens": 3, "inference_geo": "us"}, "anthropic"),
        ({"promptTokenCount": 1}, "gemini"),
        ({"inputTokens": 1, "outputTokens": 1}, "bedrock"),
        ({"input_tokens": 5, "output_tokens": 9,
          "input_tokens_details": {"text_tokens": 5, "image_tokens": 0}}, "openai.images"),
        ({"type": "duration", "seconds": 3.5}, "openai.transcription"),
        ({"type": "tokens", "input_tokens": 4, "output_tokens": 2,
          "input_token_details": {"audio_tokens": 4}}, "openai.transcription"),
        ({"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 4,
          "prompt_cache_miss_tokens": 6}, "deepseek"),
        ({"prompt_tokens": 10, "completion_tokens": 2, "num_sources_used": 0}, "xai"),
        ({"prompt_tokens": 10, "completion_tokens": 2, "queue_time": 0.03}, "groq"),
        ({"billed_units": {"input_tokens": 3, "output_tokens": 4}}, "cohere"),
        ({"pages_processed": 2, "doc_size_bytes": 1024}, "mistral.ocr"),
    ],
)  # fmt: skip
def test_each_format_is_told_by_its_own_keys(usage: dict[str, Any], expected: str) -> None:
    assert detect_format(usage) == expected
    assert read_usage(usage).format == expected


def test_a_marker_weighs_more_than_keys_another_format_shares() -> None:
    # `output_tokens_details` is Anthropic's and the Responses API's: the counters inside it,
    # and the cache counters only Anthropic has, name Anthropic.
    assert detect_format(ANTHROPIC_2026) == "anthropic"
    responses = {"input_tokens": 1, "output_tokens": 1, "output_tokens_details": {}}
    assert refused(read_usage, responses).field == "format"  # nothing inside: no marker
    # A null details object says nothing either.
    error = refused(
        read_usage, {"input_tokens": 1, "output_tokens": 1, "input_tokens_details": None}
    )
    assert "anthropic, openai.responses, openai.speech" in error.message


def test_input_and_output_tokens_alone_could_be_several_formats() -> None:
    error = refused(read_usage, {"input_tokens": 10, "output_tokens": 2})
    assert error.field == "format"
    assert "anthropic, openai.responses, openai.speech" in error.message
    # Named, either reads it.
    assert (
        read_usage({"input_tokens": 10, "output_tokens": 2}, "anthropic").usage.input_tokens == 10
    )
    speech = read_usage({"input_tokens": 10, "output_tokens": 2}, "openai.speech").usage
    assert (speech.input_tokens, speech.audio_output_tokens) == (10, 2)


def test_keys_of_two_formats_are_ambiguous_and_named() -> None:
    error = refused(read_usage, {"prompt_tokens": 1, "inputTokens": 2, "completion_tokens": 0})
    assert error.field == "format"
    assert "bedrock, openai.chat" in error.message
    both = {"input_tokens": 1, "output_tokens": 1, "cache_read_input_tokens": 0,
            "input_tokens_details": {"cached_tokens": 0}}  # fmt: skip
    assert "openai.responses, anthropic" in refused(read_usage, both).message
    # A body that says what it is settles it.
    assert read_response({"type": "message", "usage": both}).format == "anthropic"


def test_unknown_keys_are_listed_briefly() -> None:
    error = refused(read_usage, {"tokens_in": 1, "x" * 5000: 2})
    assert error.field == "format"
    assert "tokens_in" in error.message and "openai.chat" in error.message
    assert len(error.message) < 400, "a hostile key is cut, not echoed whole"
    many = {f"k{n}": n for n in range(100)}
    assert "and 88 more" in refused(read_usage, many).message
    assert "(none)" in refused(read_usage, {}).message


def test_an_unknown_or_malformed_format_name_is_refused() -> None:
    for name in ("openai", "OpenAI.chat", ["gemini"], 3):
        error = refused(read_usage, {"promptTokenCount": 1}, name)
        assert error.field == "format"
    assert "openai.chat, openai.responses, anthropic, gemini, bedrock, openai." in error.message


def test_a_usage_or_response_that_is_not_an_object_is_refused() -> None:
    assert refused(read_usage, [1, 2]).field == "usage"
    assert refused(read_usage, "12", path="items[0].usage").field == "items[0].usage"
    assert refused(read_response, [{"usage": {}}]).field == "response"
    assert refused(read_response, None, path="response").field == "response"


def test_a_response_without_usage_says_so() -> None:
    error = refused(read_response, {"model": "gpt-4o", "choices": []}, path="response")
    assert (error.field, "no usage block" in error.message) == ("response.usage", True)
    # A body that names its kind reports its own missing usage.
    error = refused(read_response, {"object": "chat.completion", "usage": None})
    assert error.field == "usage" and "required" in error.message
    error = refused(read_response, {"candidates": []}, "gemini")
    assert error.field == "usageMetadata"
    error = refused(read_response, {"usage": [1]}, "bedrock")
    assert (error.field, error.message) == ("usage", "must be an object, got a list")


def test_a_response_settles_an_ambiguous_usage_block_by_what_it_says_it_is() -> None:
    usage = {"input_tokens": 10, "output_tokens": 2}
    assert read_response({"type": "message", "usage": usage}).format == "anthropic"
    assert read_response({"object": "response", "usage": usage}).format == "openai.responses"
    speech = {"type": "speech.audio.done", "usage": {**usage, "total_tokens": 12}}
    assert read_response(speech).format == "openai.speech"
    embeddings = {"object": "list", "data": [], "model": "e", "usage": {"total_tokens": 3}}
    assert read_response(embeddings).format == "openai.embeddings"
    error = refused(read_response, {"usage": usage})
    assert error.field == "format"
    # What the body says does not overrule usage keys that name another format.
    assert (
        read_response({"type": "message", "usage": {"inputTokens": 1, "outputTokens": 1}}).format
        == "bedrock"
    )
    chat = {"object": "chat.completion", "usage": {"prompt_tokens": 3, "completion_tokens": 1,
            "prompt_cache_hit_tokens": 1, "prompt_cache_miss_tokens": 2}}  # fmt: skip
    assert read_response(chat).format == "deepseek"
    # Markers of two formats: the body's kind picks between them (xAI's Responses body).
    xai_responses = {"object": "response", "usage": {
        "input_tokens": 9, "output_tokens": 2, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0}, "num_sources_used": 0}}  # fmt: skip
    assert read_response(xai_responses).format == "openai.responses"
    assert refused(read_usage, xai_responses["usage"]).field == "format"


def test_bodies_whose_usage_has_a_key_of_its_own_are_told_by_it() -> None:
    assert read_response({"usageMetadata": {"promptTokenCount": 2}}).format == "gemini"
    ocr = {"model": "mistral-ocr-latest", "pages": [], "usage_info": {"pages_processed": 3}}
    read = read_response(ocr)
    assert (read.format, read.model, read.usage.pages) == ("mistral.ocr", "mistral-ocr-latest", 3)

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
    ]
    assert all(reader.name == name for name, reader in FORMATS.items())


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"prompt_tokens": 1, "completion_tokens": 1}, UsageFormat.OPENAI_CHAT),
        ({"input_tokens": 1, "output_tokens": 1, "input_tokens_details": None}, "openai.responses"),
        ({"input_tokens": 1, "output_tokens": 1, "cache_read_input_tokens": 0}, "anthropic"),
        ({"input_tokens": 1, "output_tokens": 1, "server_tool_use": {}}, "anthropic"),
        ({"promptTokenCount": 1}, "gemini"),
        ({"inputTokens": 1, "outputTokens": 1}, "bedrock"),
    ],
)
def test_each_format_is_told_by_its_own_keys(usage: dict[str, Any], expected: str) -> None:
    assert detect_format(usage) == expected
    assert read_usage(usage).format == expected


def test_input_and_output_tokens_alone_could_be_anthropic_or_responses() -> None:
    error = refused(read_usage, {"input_tokens": 10, "output_tokens": 2})
    assert error.field == "format"
    assert "anthropic" in error.message and "openai.responses" in error.message
    # Named, either reads it.
    assert (
        read_usage({"input_tokens": 10, "output_tokens": 2}, "anthropic").usage.input_tokens == 10
    )


def test_keys_of_two_formats_are_ambiguous_and_named() -> None:
    error = refused(read_usage, {"prompt_tokens": 1, "inputTokens": 2, "completion_tokens": 0})
    assert error.field == "format"
    assert "openai.chat, bedrock" in error.message


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
    assert "openai.chat, openai.responses, anthropic, gemini, bedrock" in error.message


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
    error = refused(read_response, {"usage": usage})
    assert error.field == "format"
    # What the body says does not overrule usage keys that name another format.
    assert (
        read_response({"type": "message", "usage": {"inputTokens": 1, "outputTokens": 1}}).format
        == "bedrock"
    )

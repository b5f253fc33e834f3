"""Every recorded provider body in tests/data/responses reads to exactly its `.expected.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ratecard.costing.formats import FORMATS, read_response, read_usage
from ratecard.costing.usage import Usage
from ratecard.vocabulary import UsageFormat
from tests.costing.formats.helpers import RESPONSES

EXPECTED = sorted(RESPONSES.glob("*/*.expected.json"))
# The quantities a recorded partition lists (every file lists every one, zeros included).
PARTS = tuple(json.loads(EXPECTED[0].read_text())["partition"])

# Formats whose billed tier is stated inside the usage block (the others: beside it).
TIER_IN_USAGE = {UsageFormat.ANTHROPIC, UsageFormat.GEMINI}


def case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name.removesuffix('.expected.json')}"


def load(expected_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    body_path = expected_path.with_name(expected_path.name.replace(".expected.json", ".json"))
    return json.loads(body_path.read_text()), json.loads(expected_path.read_text())


def partition(usage: Usage) -> dict[str, int]:
    assert set(usage.nonzero()) <= set(PARTS), "a recorded body yields only token/search parts"
    return {name: getattr(usage, name) for name in PARTS}


def test_every_format_has_recorded_bodies_listing_every_part() -> None:
    assert all(tuple(load(path)[1]["partition"]) == PARTS for path in EXPECTED)
    assert "web_search_calls" in PARTS and len(PARTS) == 11
    formats = {load(path)[1]["format"] for path in EXPECTED}
    assert formats == set(UsageFormat) == set(FORMATS)
    assert len(EXPECTED) >= 29


@pytest.mark.parametrize("expected_path", EXPECTED, ids=case_id)
@pytest.mark.parametrize("given_format", [False, True], ids=["detected", "named"])
def test_a_whole_response_reads_to_its_recorded_partition(
    expected_path: Path, given_format: bool
) -> None:
    body, want = load(expected_path)
    read = read_response(body, want["format"] if given_format else None)
    assert read.format == want["format"]
    assert read.model == want["model"]
    # None means the body states no tier: the caller prices at the request's tier or standard.
    assert (read.service_tier or "standard") == want["service_tier"]
    assert partition(read.usage) == want["partition"]
    assert read.unpriced == want.get("unpriced")


@pytest.mark.parametrize("expected_path", EXPECTED, ids=case_id)
def test_the_usage_block_alone_reads_the_same_but_for_what_lives_outside_it(
    expected_path: Path,
) -> None:
    body, want = load(expected_path)
    block = body[FORMATS[want["format"]].usage_key]
    read = read_usage(block)  # detected from the keys alone
    assert read.format == want["format"]
    assert read.model is None
    expected = dict(want["partition"])
    if want["format"] in (UsageFormat.OPENAI_RESPONSES, UsageFormat.GEMINI):
        expected["web_search_calls"] = 0  # `output[]` items, `groundingMetadata`: not in usage
    # Without the response, nothing says Google Search produced the tool tokens: they are input.
    expected["input_tokens"] += (want.get("unpriced") or {}).get("tool_use_prompt_tokens", 0)
    assert partition(read.usage) == expected
    assert read.unpriced is None
    whole = read_response(body)
    assert read.service_tier == (whole.service_tier if read.format in TIER_IN_USAGE else None)
    assert read_usage(block, want["format"]) == read


def test_the_partition_adds_back_up_to_the_providers_own_totals() -> None:
    # Disjoint parts: every input token is in exactly one part (or in `unpriced`).
    for expected_path in EXPECTED:
        body, _ = load(expected_path)
        read = read_response(body)
        usage, unpriced = read.usage, sum((read.unpriced or {}).values())
        if read.format == UsageFormat.OPENAI_CHAT:
            totals = (body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"])
        elif read.format == UsageFormat.OPENAI_RESPONSES:
            totals = (body["usage"]["input_tokens"], body["usage"]["output_tokens"])
        elif read.format == UsageFormat.ANTHROPIC:
            u = body["usage"]
            inputs = (
                u["input_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"]
            )
            totals = (inputs, u["output_tokens"])
        elif read.format == UsageFormat.GEMINI:
            m = body["usageMetadata"]
            totals = (
                m["promptTokenCount"] + m.get("toolUsePromptTokenCount", 0),
                m["candidatesTokenCount"] + m.get("thoughtsTokenCount", 0),
            )
        else:
            u = body["usage"]
            totals = (u["totalTokens"] - u["outputTokens"], u["outputTokens"])
        assert (usage.prompt_tokens + unpriced, usage.completion_tokens) == totals, expected_path

"""Every recorded provider body in tests/data/responses reads to exactly its `.expected.json`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ratecard.costing.formats import FORMATS, read_response, read_usage
from ratecard.costing.usage import ReadUsage, Usage
from ratecard.vocabulary import UsageFormat
from tests.costing.formats.helpers import RESPONSES, refused

EXPECTED = sorted(RESPONSES.glob("*/*.expected.json"))
# The quantities a recorded partition lists (every file lists every one, zeros included).
PARTS = tuple(json.loads(EXPECTED[0].read_text())["partition"])

# Formats whose billed tier is stated inside the usage block (the others: beside it).
TIER_IN_USAGE = {UsageFormat.ANTHROPIC, UsageFormat.GEMINI}
# Formats that count something outside the usage block (web searches of the whole response).
COUNTED_OUTSIDE = {UsageFormat.OPENAI_RESPONSES, UsageFormat.GEMINI}


def case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name.removesuffix('.expected.json')}"


def load(expected_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    body_path = expected_path.with_name(expected_path.name.replace(".expected.json", ".json"))
    return json.loads(body_path.read_text()), json.loads(expected_path.read_text())


def partition(usage: Usage) -> dict[str, int]:
    assert set(usage.nonzero()) <= set(PARTS), "a recorded body yields only the listed parts"
    return {name: getattr(usage, name) for name in PARTS}


def uplifts(read: ReadUsage) -> list[list[str]]:
    return [list(stated) for stated in read.uplifts]


def test_every_format_has_recorded_bodies_listing_every_part() -> None:
    assert all(tuple(load(path)[1]["partition"]) == PARTS for path in EXPECTED)
    assert {"web_search_calls", "seconds", "pages", "annotation_pages"} <= set(PARTS)
    assert len(PARTS) == 15
    per_format = Counter(load(path)[1]["format"] for path in EXPECTED)
    assert set(per_format) == set(UsageFormat) == set(FORMATS)
    # One folder per format, named after it.
    for path in EXPECTED:
        assert path.parent.name == load(path)[1]["format"].replace(".", "_")
    assert len(EXPECTED) == 54 and min(per_format.values()) >= 1


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
    assert list(read.notes) == want.get("notes", [])
    assert uplifts(read) == want.get("uplifts", [])


@pytest.mark.parametrize("expected_path", EXPECTED, ids=case_id)
def test_the_usage_block_alone_reads_the_same_but_for_what_lives_outside_it(
    expected_path: Path,
) -> None:
    body, want = load(expected_path)
    block = body[FORMATS[want["format"]].usage_key]
    # A block without its body can say less: Mistral's embeddings usage is Chat Completions',
    # and a text-to-speech usage has only keys other formats share (null: none detected).
    usage_format = want.get("usage_format", want["format"])
    if usage_format is None:
        assert refused(read_usage, block).field == "format"
        usage_format = want["format"]
        read = read_usage(block, usage_format)
    else:
        read = read_usage(block)  # detected from the keys alone
    assert read.format == usage_format
    assert read.model is None
    expected = dict(want["partition"])
    if want["format"] in COUNTED_OUTSIDE:
        expected["web_search_calls"] = 0  # `output[]` items, `groundingMetadata`: not in usage
    # Without the response, nothing says Google Search produced the tool tokens: they are input.
    expected["input_tokens"] += (want.get("unpriced") or {}).get("tool_use_prompt_tokens", 0)
    assert partition(read.usage) == expected
    assert read.unpriced is None
    whole = read_response(body)
    assert read.service_tier == (whole.service_tier if read.format in TIER_IN_USAGE else None)
    # The same notes and multipliers, but for the grounding note (about the body's candidates).
    assert [n for n in whole.notes if "Grounding" not in n] == list(read.notes)
    assert read.uplifts == whole.uplifts
    assert read_usage(block, read.format) == read


def provider_totals(fmt: str, body: dict[str, Any]) -> tuple[int, int]:
    """(all input, all output) tokens as the provider's own counters give them."""
    if fmt in (UsageFormat.OPENAI_CHAT, UsageFormat.DEEPSEEK, UsageFormat.GROQ):
        return body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"]
    if fmt == UsageFormat.XAI:  # reasoning counted apart from the completion
        u = body["usage"]
        return u["prompt_tokens"], u["completion_tokens"] + u["completion_tokens_details"][
            "reasoning_tokens"
        ]
    if fmt == UsageFormat.OPENAI_EMBEDDINGS:
        return body["usage"]["prompt_tokens"], 0
    if fmt in (
        UsageFormat.OPENAI_RESPONSES,
        UsageFormat.OPENAI_IMAGES,
        UsageFormat.OPENAI_SPEECH,
        UsageFormat.OPENAI_TRANSCRIPTION,
    ):
        u = body["usage"]
        return u.get("input_tokens", 0), u.get("output_tokens", 0)
    if fmt == UsageFormat.ANTHROPIC:
        inputs = outputs = 0
        compactions = [i for i in body["usage"].get("iterations", []) if i["type"] == "compaction"]
        for u in [body["usage"], *compactions]:  # compactions are billed beside the top level
            inputs += (
                u["input_tokens"]
                + u.get("cache_creation_input_tokens", 0)
                + u.get("cache_read_input_tokens", 0)
            )
            outputs += u["output_tokens"]
        return inputs, outputs
    if fmt == UsageFormat.GEMINI:
        m = body["usageMetadata"]
        return (
            m["promptTokenCount"] + m.get("toolUsePromptTokenCount", 0),
            m["candidatesTokenCount"] + m.get("thoughtsTokenCount", 0),
        )
    if fmt == UsageFormat.BEDROCK:
        u = body["usage"]
        return u["totalTokens"] - u["outputTokens"], u["outputTokens"]
    if fmt == UsageFormat.COHERE:
        billed = body["usage"]["billed_units"]
        return billed["input_tokens"], billed["output_tokens"]
    assert fmt == UsageFormat.MISTRAL_OCR  # pages, no tokens
    return 0, 0


def test_the_partition_adds_back_up_to_the_providers_own_totals() -> None:
    # Disjoint parts: every input token is in exactly one part (or in `unpriced`).
    for expected_path in EXPECTED:
        body, _ = load(expected_path)
        read = read_response(body)
        usage, unpriced = read.usage, sum((read.unpriced or {}).values())
        totals = provider_totals(read.format, body)
        assert (usage.prompt_tokens + unpriced, usage.completion_tokens) == totals, expected_path

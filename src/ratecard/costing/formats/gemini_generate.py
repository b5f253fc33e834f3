"""Gemini `generateContent` (Gemini API and Vertex AI): `usageMetadata`, split by modality.

`promptTokenCount` INCLUDES `cachedContentTokenCount`; `promptTokensDetails[]` splits the prompt
by modality (TEXT, AUDIO, IMAGE, VIDEO, DOCUMENT) and `cacheTokensDetails[]` the cached part;
`candidatesTokenCount` EXCLUDES `thoughtsTokenCount` (early Gemini 2.5 responses included them:
their `totalTokenCount` tells), and `candidatesTokensDetails[]` splits it by modality
(image-generating models bill IMAGE output at its own price);
`totalTokenCount = prompt + candidates + thoughts + toolUsePromptTokenCount`. Zero counts are
left out (proto3 JSON), so only `promptTokenCount` is required.

AUDIO input has its own price (Google's pricing page lists "audio" apart); Google bills
image and video input at the text input price ("text / image / video"), as LiteLLM and
genai-prices price them: IMAGE tokens stay a quantity of their own (a model may list an
image-token price: the Live models do), priced as text input where the model lists none
(TEXT_PRICED: the answer's `notes` say so); TEXT, DOCUMENT, VIDEO and anything else are text
input. Cache reads are all of `cachedContentTokenCount`, whatever their modality; the
cached AUDIO and IMAGE tokens are taken out of their modality's uncached count. Without
`cacheTokensDetails` the cached tokens are taken to be text.

`toolUsePromptTokenCount` is what tools added to the prompt. For URL context, code execution
and file search it is billed as input. For Grounding with Google Search, Google bills the
retrieved context through the per-search fee instead (LiteLLM's reading of the pricing page;
tests/data/responses/README.md lists it as an open question): a response whose candidates list
`groundingMetadata.webSearchQueries` keeps those tokens in `unpriced`, and counts its distinct
queries as `web_search_calls` (the price applies the model's `web_search_billing_unit`:
`per_prompt`, Gemini 2.x, bills min(n, 1); `per_query`, Gemini 3, bills n). A usage block
alone does not say which tool ran: `read_usage` prices the tool tokens as input. Grounding
with Google Maps (its own fee) is not priced here: its tool tokens count as input.

Vertex AI states the tier in `usageMetadata.trafficType`, and its bodies carry `createTime`
and `responseId` beside `modelVersion`: one format for both APIs. A `totalTokenCount` that is
not the sum of its parts is priced by the parts, with a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ratecard.costing.formats.counts import (
    count,
    count_or_none,
    describe,
    field_path,
    model_name,
    new_read,
    new_usage,
    object_at,
    objects_at,
    optional_count,
    parts_overflow,
    total_note,
    usage_block,
)
from ratecard.costing.usage import ReadUsage, Usage, UsageError
from ratecard.vocabulary import ServiceTier, UsageFormat

FORMAT = UsageFormat.GEMINI
USAGE_KEY = "usageMetadata"
MARKERS = frozenset(
    {
        "promptTokenCount",
        "candidatesTokenCount",
        "totalTokenCount",
        "cachedContentTokenCount",
        "thoughtsTokenCount",
        "toolUsePromptTokenCount",
        "promptTokensDetails",
    }
)
KINDS: tuple[tuple[str, str], ...] = ()  # a body with `usageMetadata` is this format's
TEXT_PRICED = frozenset({"image_input_tokens"})
_TOTAL = "promptTokenCount + candidatesTokenCount + thoughtsTokenCount + toolUsePromptTokenCount"
# The name `unpriced` gives the grounding-search context tokens.
TOOL_USE_PROMPT_TOKENS = "tool_use_prompt_tokens"

# Vertex AI's trafficType; every other value (ON_DEMAND, PROVISIONED_THROUGHPUT, ...) is billed
# at standard prices (docs/cost-semantics.md §4: FLEX and BATCH both map to the flex prices).
GEMINI_TIERS: Mapping[str, str] = MappingProxyType(
    {
        "ON_DEMAND_PRIORITY": ServiceTier.PRIORITY,
        "FLEX": ServiceTier.FLEX,
        "ON_DEMAND_FLEX": ServiceTier.FLEX,  # what Vertex AI reports for flex traffic
        "BATCH": ServiceTier.FLEX,
    }
)


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a `usageMetadata` object given at `path` (tool-use tokens priced as input)."""
    partition, _, note = _partition(usage, path, searches=0)
    return new_read(
        usage=partition,
        format=FORMAT,
        service_tier=_tier(usage, path),
        notes=() if note is None else (note,),
    )


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole `generateContent` response body given at `path`."""
    metadata = usage_block(body, USAGE_KEY, path)
    where = field_path(path, USAGE_KEY)
    searches = _search_queries(body, path)
    partition, search_context, note = _partition(metadata, where, searches=searches)
    notes = () if note is None else (note,)
    if search_context:
        notes = (
            *notes,
            f"{field_path(where, 'toolUsePromptTokenCount')} ({search_context}) not priced: "
            "Google bills the context of Grounding with Google Search through its search fee",
        )
    return new_read(
        usage=partition,
        format=FORMAT,
        model=model_name(body, "modelVersion", path),
        service_tier=_tier(metadata, where),
        unpriced={TOOL_USE_PROMPT_TOKENS: search_context} if search_context else None,
        notes=notes,
    )


def _partition(
    metadata: Mapping[str, Any], path: str, *, searches: int
) -> tuple[Usage, int, str | None]:
    """The partition, the grounding-search context tokens it leaves unpriced, and the note on
    a stated total that is not the sum of its parts."""
    prompt = count(metadata, "promptTokenCount", path)
    candidates = optional_count(metadata, "candidatesTokenCount", path)
    thoughts = optional_count(metadata, "thoughtsTokenCount", path)
    tool = optional_count(metadata, "toolUsePromptTokenCount", path)
    cached = optional_count(metadata, "cachedContentTokenCount", path)
    stated_total = count_or_none(metadata, "totalTokenCount", path)
    if thoughts and thoughts <= candidates and stated_total == prompt + candidates + tool:
        # Early Gemini 2.5 responses counted thoughts INSIDE candidatesTokenCount; their total
        # has them once. Told apart by that total, as LiteLLM's is_candidate_token_count_inclusive.
        candidates -= thoughts
    if cached > prompt:
        raise parts_overflow({"cachedContentTokenCount": cached}, "promptTokenCount", prompt, path)

    audio_in, image_in, listed = _modalities(metadata, "promptTokensDetails", path)
    if listed > prompt:
        raise _details_overflow("promptTokensDetails", listed, "promptTokenCount", prompt, path)
    cached_audio, cached_image, listed = _modalities(metadata, "cacheTokensDetails", path)
    if listed > cached:
        raise _details_overflow(
            "cacheTokensDetails", listed, "cachedContentTokenCount", cached, path
        )
    audio_in -= cached_audio
    image_in -= cached_image
    if audio_in < 0 or image_in < 0:
        modality = "AUDIO" if audio_in < 0 else "IMAGE"
        raise UsageError(
            field_path(path, "cacheTokensDetails"),
            f"more cached {modality} tokens than promptTokensDetails lists for {modality}",
        )
    text_in = prompt - cached - audio_in - image_in
    if text_in < 0:
        raise UsageError(
            field_path(path, "cachedContentTokenCount"),
            f"{cached} cached tokens are more than the prompt's text tokens, and "
            "cacheTokensDetails does not say which modalities were cached",
        )

    audio_out, image_out, listed = _modalities(metadata, "candidatesTokensDetails", path)
    if listed > candidates:
        raise _details_overflow(
            "candidatesTokensDetails", listed, "candidatesTokenCount", candidates, path
        )

    note = total_note(
        metadata, "totalTokenCount", prompt + candidates + thoughts + tool, _TOTAL, path
    )
    usage = new_usage(
        input_tokens=text_in if searches else text_in + tool,
        output_tokens=candidates - audio_out - image_out,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
        audio_input_tokens=audio_in,
        audio_output_tokens=audio_out,
        image_input_tokens=image_in,
        image_output_tokens=image_out,
        web_search_calls=searches,
    )
    return usage, tool if searches else 0, note


def _modalities(metadata: Mapping[str, Any], key: str, path: str) -> tuple[int, int, int]:
    """(AUDIO tokens, IMAGE tokens, all tokens) a `[{modality, tokenCount}]` list gives."""
    audio = image = listed = 0
    for index, entry in enumerate(objects_at(metadata, key, path)):
        tokens = entry.get("tokenCount")
        if type(tokens) is not int or tokens < 0:
            # Absent or null is 0 (proto3 leaves zeros out); anything else raises, naming it.
            tokens = optional_count(entry, "tokenCount", path, f"{key}[{index}]")
        modality = entry.get("modality")
        if modality == "AUDIO":
            audio += tokens
        elif modality == "IMAGE":
            image += tokens
        elif modality is not None and not isinstance(modality, str):
            name = field_path(path, f"{key}[{index}]", "modality")
            raise UsageError(name, f"must be a string, got {describe(modality)}")
        listed += tokens
    return audio, image, listed


def _details_overflow(key: str, listed: int, total_name: str, total: int, path: str) -> UsageError:
    return UsageError(
        field_path(path, key), f"lists {listed} tokens, more than {total_name} ({total})"
    )


def _search_queries(body: Mapping[str, Any], path: str) -> int:
    """How many distinct Google Search queries grounded the response (0: not grounded by search).

    A query repeated (in one candidate or across candidates) is one search, and an empty one is
    none (as LiteLLM counts since its #36377). Queries of a candidate grounded by Google Maps
    alone (`groundingChunks` of kind `maps`, none `web`) are Maps lookups, not web searches.
    """
    queries: set[str] = set()
    for index, candidate in enumerate(objects_at(body, "candidates", path)):
        if candidate.get("groundingMetadata") is None:
            continue
        where = (path, f"candidates[{index}]", "groundingMetadata")
        grounding = object_at(candidate, "groundingMetadata", *where[:2])
        listed = grounding.get("webSearchQueries")
        if listed is None or _maps_only(grounding):
            continue
        if not isinstance(listed, list) or not all(isinstance(query, str) for query in listed):
            name = field_path(*where, "webSearchQueries")
            raise UsageError(name, f"must be a list of strings, got {describe(listed)}")
        queries.update(query for query in listed if query)
    return len(queries)


def _maps_only(grounding: Mapping[str, Any]) -> bool:
    """Whether Google Maps alone grounded a candidate (its queries are no web searches)."""
    chunks = grounding.get("groundingChunks")
    kinds: set[str] = set()
    if isinstance(chunks, list):
        kinds = {kind for chunk in chunks if isinstance(chunk, Mapping) for kind in chunk}
    maps = "maps" in kinds or bool(grounding.get("googleMapsWidgetContextToken"))
    return maps and "web" not in kinds


def _tier(metadata: Mapping[str, Any], path: str) -> str | None:
    traffic = metadata.get("trafficType")
    if traffic is None:
        return None
    if not isinstance(traffic, str):
        raise UsageError(
            field_path(path, "trafficType"), f"must be a string, got {describe(traffic)}"
        )
    return GEMINI_TIERS.get(traffic, ServiceTier.STANDARD)

"""The LiteLLM feed: `model_prices_and_context_window.json`, an object of models by id.

Per-token prices are `*_cost_per_token` keys, long-context tiers `*_above_<N>k_tokens` keys
(or a `tiered_pricing` list), other units (`*_per_request`, per image, per second...) go to
`units`. Pseudo-entries (`sample_spec`) are skipped; keys we do not know are counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from typing import Any

from ratecard.prices.feed_errors import FeedError
from ratecard.prices.feeds.parsing import (
    DroppedField,
    EntryRejected,
    ParsedFeed,
    Rejection,
    SecondaryFields,
    all_prices,
    duplicate_keys,
    entry_problem,
    fail,
    json_type,
    read_price,
    read_text,
    read_whole_number,
    status_of,
    tiers_from,
    words,
)
from ratecard.prices.model import ModelPrice

# Top-level keys of model_prices_and_context_window.json that are not models.
LITELLM_SKIPPED_KEYS = frozenset({"sample_spec", "fallback_generalizations", "last_updated"})

LITELLM_TOKEN_FIELDS = {
    "input_cost_per_token": "input_per_token",
    "output_cost_per_token": "output_per_token",
    "cache_read_input_token_cost": "cache_read_per_token",
    "cache_creation_input_token_cost": "cache_write_per_token",
}
# "<token field>_above_<N>k_tokens": the price when the prompt exceeds N*1000 tokens.
LITELLM_TIER_KEY = re.compile(
    r"(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost"
    r"|cache_creation_input_token_cost)_above_(\d+)k_tokens"
)
LITELLM_UNIT_FIELDS = {
    "input_cost_per_request": "per_request",
    "input_cost_per_query": "per_query",
    "input_cost_per_image": "input_per_image",
    "output_cost_per_image": "output_per_image",
    "input_cost_per_pixel": "input_per_pixel",
    "output_cost_per_pixel": "output_per_pixel",
    "input_cost_per_second": "input_per_second",
    "output_cost_per_second": "output_per_second",
    "input_cost_per_character": "input_per_character",
    "output_cost_per_character": "output_per_character",
    "input_cost_per_audio_token": "input_audio_per_token",
    "output_cost_per_audio_token": "output_audio_per_token",
    "cache_read_input_audio_token_cost": "input_audio_cache_read_per_token",
    "cache_creation_input_audio_token_cost": "input_audio_cache_write_per_token",
    "input_cost_per_audio_per_second": "input_audio_per_second",
    "input_cost_per_video_per_second": "input_video_per_second",
    "output_cost_per_video_per_second": "output_video_per_second",
    "input_cost_per_image_token": "input_image_per_token",
    "output_cost_per_image_token": "output_image_per_token",
    "output_cost_per_reasoning_token": "output_reasoning_per_token",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h_per_token",
    "ocr_cost_per_page": "per_page",
    "annotation_cost_per_page": "annotation_per_page",
    "code_interpreter_cost_per_session": "code_interpreter_per_session",
}
LITELLM_SEARCH_SIZES = ("low", "medium", "high")
# Fields we know and deliberately do not serve (descriptive, or price variants such as
# batch/priority/flex rates); anything else is counted as unknown.
LITELLM_KNOWN_OTHER = words(
    """
    litellm_provider mode max_input_tokens max_output_tokens max_tokens
    search_context_cost_per_query tiered_pricing source metadata comment deprecation_date
    tpm rpm output_vector_size prompt_cache_min_tokens provider_specific_entry
    web_search_billing_unit supported_endpoints supported_modalities
    supported_output_modalities supported_regions audio_transcription_config
    bedrock_converse_supports_strict_tools bedrock_output_config_effort_ceiling
    gemini_audio_only_live gemini_native_audio use_openai_responses_path uses_embed_content
    regional_processing_uplift_multiplier_eu regional_processing_uplift_multiplier_us
    input_cost_per_token_cache_hit input_dbu_cost_per_token output_dbu_cost_per_token
    citation_cost_per_token computer_use_input_cost_per_1k_tokens
    computer_use_output_cost_per_1k_tokens file_search_cost_per_1k_calls
    file_search_cost_per_gb_per_day vector_store_cost_per_gb_per_day ocr_cost_per_credit
    output_cost_per_second_1080p output_cost_per_video_token
    """
)
LITELLM_KNOWN_PATTERN = re.compile(
    r"supports_\w+|\w+_(?:priority|flex|batches)|\w+_above_\d+k_tokens(?:_priority)?"
    r"|\w+_above_\d+s_interval"
)


def parse(source: str, document: Any) -> ParsedFeed:
    """Parse a LiteLLM document (already loaded as JSON with Decimals)."""
    if not isinstance(document, dict):
        raise FeedError(source, f"expected an object of models, got {json_type(document)}")
    parsed = ParsedFeed(source=source, models={})
    last_updated = document.get("last_updated")
    if isinstance(last_updated, str) and re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", last_updated):
        parsed.snapshot_date = last_updated[:10]
    # A model key listed twice: json keeps the last entry, which may be the wrong one. Neither
    # is trusted; the model keeps its last good prices until the feed says it once.
    twice = frozenset(duplicate_keys(document))
    for model_id, entry in document.items():
        if model_id in LITELLM_SKIPPED_KEYS or not isinstance(entry, dict):
            parsed.skipped += 1
            continue
        try:
            if model_id in twice:
                raise EntryRejected("model key listed more than once in the feed")
            problem = entry_problem(entry)
            if problem is not None:
                raise EntryRejected(problem)
            parsed.models[model_id] = _litellm_model(source, model_id, entry, parsed.dropped)
        except EntryRejected as exc:
            parsed.rejected.append(Rejection(model_id, str(exc)))
            continue
        parsed.unknown_fields += sum(1 for key in entry if not _litellm_known(key))
    return parsed


def _litellm_known(key: str) -> bool:
    return (
        key in LITELLM_TOKEN_FIELDS
        or key in LITELLM_UNIT_FIELDS
        or key in LITELLM_KNOWN_OTHER
        or LITELLM_KNOWN_PATTERN.fullmatch(key) is not None
    )


def _litellm_model(
    source: str, model_id: str, entry: Mapping[str, Any], dropped: list[DroppedField]
) -> ModelPrice:
    if not model_id.strip():
        raise EntryRejected("empty model id")
    secondary = SecondaryFields(model_id, dropped)
    token = {
        attr: read_price(key, entry[key])
        for key, attr in LITELLM_TOKEN_FIELDS.items()
        if entry.get(key) is not None
    }
    units: dict[str, Decimal] = {}
    for key, name in LITELLM_UNIT_FIELDS.items():
        if entry.get(key) is not None:
            value = secondary.read(name, partial(read_price, key, entry[key]))
            if value is not None:
                units[name] = value
    search = entry.get("search_context_cost_per_query")
    if search is not None and not isinstance(search, dict):
        for size in LITELLM_SEARCH_SIZES:
            secondary.read(
                f"web_search_{size}",
                partial(
                    fail,
                    f"search_context_cost_per_query: expected an object, got {json_type(search)}",
                ),
            )
    elif search is not None:
        for size in LITELLM_SEARCH_SIZES:
            key = f"search_context_size_{size}"
            if search.get(key) is not None:
                value = secondary.read(
                    f"web_search_{size}",
                    partial(read_price, f"search_context_cost_per_query.{key}", search[key]),
                )
                if value is not None:
                    units[f"web_search_{size}"] = value
    by_threshold: dict[int, dict[str, Decimal]] = {}
    for key, value in entry.items():
        match = LITELLM_TIER_KEY.fullmatch(key)
        if match is not None and value is not None:
            threshold = int(match.group(2)) * 1000
            by_threshold.setdefault(threshold, {})[LITELLM_TOKEN_FIELDS[match.group(1)]] = (
                read_price(key, value)
            )
    _litellm_tiered_pricing(entry.get("tiered_pricing"), token, by_threshold)
    tiers = tiers_from(by_threshold)
    # Both limits are read (and a bad one reported) even when max_input_tokens wins.
    max_input = secondary.read(
        "context_window",
        partial(read_whole_number, "max_input_tokens", entry.get("max_input_tokens")),
    )
    max_tokens = secondary.read(
        "context_window", partial(read_whole_number, "max_tokens", entry.get("max_tokens"))
    )
    return ModelPrice(
        source=source,
        model_id=model_id,
        status=status_of(all_prices(token, tiers, units)),
        provider=secondary.read(
            "provider", partial(read_text, "litellm_provider", entry.get("litellm_provider"))
        ),
        mode=secondary.read("mode", partial(read_text, "mode", entry.get("mode"))),
        context_window=max_input if max_input is not None else max_tokens,
        max_output_tokens=secondary.read(
            "max_output_tokens",
            partial(read_whole_number, "max_output_tokens", entry.get("max_output_tokens")),
        ),
        tiers=tiers,
        units=units,
        alias_target=None,  # named, so that **token cannot be taken to fill it
        **token,
    )


def _litellm_tiered_pricing(
    tiered: Any, token: dict[str, Decimal], by_threshold: dict[int, dict[str, Decimal]]
) -> None:
    """Read `tiered_pricing: [{"range": [lo, hi], <token fields>}]` (e.g. DashScope).

    The range starting at 0 gives the base prices when the entry has none of its own;
    a range starting at lo > 0 is the tier "above lo prompt tokens". Ranges over
    something else (`max_results_range`, search queries) are not token tiers.
    """
    if tiered is None:
        return
    if not isinstance(tiered, list):
        raise EntryRejected(f"tiered_pricing: expected a list, got {json_type(tiered)}")
    for index, band in enumerate(tiered):
        if not isinstance(band, dict):
            raise EntryRejected(f"tiered_pricing[{index}]: expected an object")
        if "range" not in band:
            continue
        bounds = band["range"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise EntryRejected(f"tiered_pricing[{index}].range: expected [low, high]")
        low = read_whole_number(f"tiered_pricing[{index}].range", bounds[0])
        prices = {
            attr: read_price(f"tiered_pricing[{index}].{key}", band[key])
            for key, attr in LITELLM_TOKEN_FIELDS.items()
            if band.get(key) is not None
        }
        if not low:
            for attr, value in prices.items():
                token.setdefault(attr, value)
        else:
            by_threshold.setdefault(low, {}).update(prices)

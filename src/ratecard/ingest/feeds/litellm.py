"""The LiteLLM feed: `model_prices_and_context_window.json`, an object of models by id.

Per-token prices are `*_cost_per_token` keys, long-context tiers `*_above_<N>k_tokens` keys
(or a `tiered_pricing` list), other units (`*_per_request`, per image, per second...) go to
`units`. Pseudo-entries (`sample_spec`) are skipped; keys we do not know are counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import lru_cache, partial
from itertools import chain
from typing import Any

from ratecard.catalog.model import TOKEN_PRICE_FIELDS, ModelPrice
from ratecard.ingest.feed_errors import FeedError
from ratecard.ingest.feeds.parsing import (
    DroppedField,
    EntryRejected,
    ParsedFeed,
    PriceSetParts,
    Rejection,
    SecondaryFields,
    duplicate_keys,
    entry_problem,
    fail,
    json_type,
    read_price,
    read_text,
    read_whole_number,
    status_of,
    words,
)
from ratecard.vocabulary import PricingRule, ServiceTier

# Top-level keys of model_prices_and_context_window.json that are not models.
LITELLM_SKIPPED_KEYS = frozenset({"sample_spec", "fallback_generalizations", "last_updated"})

LITELLM_TOKEN_FIELDS = {
    "input_cost_per_token": "input_per_token",
    "output_cost_per_token": "output_per_token",
    "cache_read_input_token_cost": "cache_read_per_token",
    "cache_creation_input_token_cost": "cache_write_per_token",
}
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
# A price key may carry a service-tier suffix and a long-context tier part, in that order from
# the end: `input_cost_per_token_above_272k_tokens_priority`, `output_cost_per_token_batches`,
# `cache_creation_input_token_cost_above_1hr_above_200k_tokens` (a 1-hour write, tier 200k).
LITELLM_VARIANT_SUFFIXES = (
    ("_priority", ServiceTier.PRIORITY),
    ("_flex", ServiceTier.FLEX),
    ("_batches", ServiceTier.BATCH),
)
LITELLM_TIER_PART = re.compile(r"(?P<base>\w+?)_above_(?P<n>[0-9]+)(?P<k>k?)_tokens")
LITELLM_UPLIFTS = {
    "regional_processing_uplift_multiplier_eu": "eu",
    "regional_processing_uplift_multiplier_us": "us",
}
# `provider_specific_entry` (read by _provider_multipliers) holds more multipliers: Anthropic's
# data residency (`us`) and fast mode (`fast`).
LITELLM_SEARCH_SIZES = ("low", "medium", "high")
# LiteLLM's own provider rules (litellm_core_utils/llm_cost_calc/utils.py and the provider
# calculators; docs/cost-semantics.md §2, §5, §6): xAI thresholds are reached AT the threshold
# and its reasoning tokens are output tokens; DashScope's `tiered_pricing` bands price every
# token of a request at the one band its prompt falls in.
LITELLM_PROVIDER_RULES: dict[str, dict[str, str]] = {
    "xai": {PricingRule.THRESHOLD: "inclusive", PricingRule.REASONING: "output"},
}
# Modes whose token prices LiteLLM's batch calculator halves when no batch price is stated.
LITELLM_BATCH_MODES = frozenset({"chat", "responses", "completion", "embedding"})
# Fields we know and deliberately do not serve (descriptive, or prices no cost path uses);
# anything else is counted as unknown.
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


# A feed's ~3,000 entries repeat a few hundred keys, each split and looked up once per entry:
# remembered, the parse of the LiteLLM file takes ~20% less (136 -> 106 ms here). Bounded: a
# hostile feed may carry any number of keys of its own.
KEY_CACHE_SIZE = 4096


@lru_cache(maxsize=KEY_CACHE_SIZE)
def split_price_key(key: str) -> tuple[str, ServiceTier | None, int | None]:
    """`input_cost_per_token_above_272k_tokens_priority` -> (input_cost_per_token, priority,
    272000). The base is a key of LITELLM_TOKEN_FIELDS/LITELLM_UNIT_FIELDS when it is a price
    we serve. `above_128k` is 128,000 (LiteLLM multiplies by 1000, not 1024)."""
    variant = None
    for suffix, tier in LITELLM_VARIANT_SUFFIXES:
        if key.endswith(suffix):
            key, variant = key[: -len(suffix)], tier
            break
    threshold = None
    match = LITELLM_TIER_PART.fullmatch(key)
    if match is not None:
        key = match.group("base")
        threshold = int(match.group("n")) * (1000 if match.group("k") else 1)
    return key, variant, threshold


def parse(source: str, document: Any, now: datetime | None = None) -> ParsedFeed:
    """Parse a LiteLLM document (already loaded as JSON with Decimals); its prices are not
    dated, so `now` changes nothing."""
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


@lru_cache(maxsize=KEY_CACHE_SIZE)
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
    standard = PriceSetParts()
    variants: dict[str, PriceSetParts] = {}
    for key, value in entry.items():
        if value is None:
            continue
        base, variant, threshold = split_price_key(key)
        name = LITELLM_TOKEN_FIELDS.get(base) or LITELLM_UNIT_FIELDS.get(base)
        if name is None:
            continue
        if variant is None and name in TOKEN_PRICE_FIELDS:
            # A bad standard token price rejects the entry: serving the model without it
            # would price its requests wrong. Anything else is a secondary field.
            price: Decimal | None = read_price(key, value)
        else:
            # Dropped-field names as prices.codec.flat_prices names them (`units.` only
            # inside tiers and variants: a standard unit price is named bare, as it always was).
            stored = name
            if threshold is not None:
                unit = "" if name in TOKEN_PRICE_FIELDS else "units."
                stored = f"tiers[>{threshold}].{unit}{name}"
            if variant is not None:
                stored = f"variants.{variant}.{stored}"
            price = secondary.read(stored, partial(read_price, key, value))
        if price is not None:
            parts = standard if variant is None else variants.setdefault(variant, PriceSetParts())
            parts.put(name, price, threshold)
    _search_prices(entry.get("search_context_cost_per_query"), standard, secondary)
    rules = dict(LITELLM_PROVIDER_RULES.get(str(entry.get("litellm_provider")), {}))
    if _litellm_tiered_pricing(entry.get("tiered_pricing"), standard):
        rules[PricingRule.TIERS] = "bands"
    billing_unit = entry.get("web_search_billing_unit")
    if billing_unit not in ("per_prompt", "per_query") and _is_gemini(model_id, entry):
        # LiteLLM bills Gemini grounding per grounded prompt unless the entry says per query.
        billing_unit = "per_prompt"
    if billing_unit in ("per_prompt", "per_query"):
        rules[PricingRule.WEB_SEARCH_BILLING_UNIT] = billing_unit
    mode = secondary.read("mode", partial(read_text, "mode", entry.get("mode")))
    if mode in LITELLM_BATCH_MODES and standard.token:
        rules[PricingRule.BATCH] = "half"
    uplifts = {}
    for key, region in LITELLM_UPLIFTS.items():
        if entry.get(key) is not None:
            factor = secondary.read(f"uplifts.{region}", partial(read_price, key, entry[key]))
            if factor is not None:
                uplifts[region] = factor
    uplifts.update(_provider_multipliers(entry.get("provider_specific_entry"), uplifts, secondary))
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
        status=status_of(
            chain(standard.prices(), *(parts.prices() for parts in variants.values()))
        ),
        provider=secondary.read(
            "provider", partial(read_text, "litellm_provider", entry.get("litellm_provider"))
        ),
        mode=mode,
        context_window=max_input if max_input is not None else max_tokens,
        max_output_tokens=secondary.read(
            "max_output_tokens",
            partial(read_whole_number, "max_output_tokens", entry.get("max_output_tokens")),
        ),
        **standard.model_fields(),
        alias_target=None,
        variants={str(k): v.price_set() for k, v in sorted(variants.items())},
        uplifts=uplifts,
        rules=dict(sorted((str(k), v) for k, v in rules.items())),
    )


def _provider_multipliers(
    specific: Any, known: Mapping[str, Decimal], secondary: SecondaryFields
) -> dict[str, Decimal]:
    """The numbers of `provider_specific_entry`: multipliers of the whole cost, keyed by what
    a response states (Anthropic: `"us": 1.1` for `usage.inference_geo`, `"fast": 6.0` for
    `usage.speed`; LiteLLM's anthropic cost_calculation scales prompt and completion by them).
    Other values (`bedrock_invocation_schema`) are no prices and are left out; a region the
    entry already prices through `regional_processing_uplift_multiplier_*` keeps that one."""
    if not isinstance(specific, Mapping):
        return {}
    found: dict[str, Decimal] = {}
    for key, value in specific.items():
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            continue
        if not isinstance(key, str) or key in known:
            continue
        factor = secondary.read(
            f"uplifts.{key}", partial(read_price, f"provider_specific_entry.{key}", value)
        )
        if factor is not None:
            found[key] = factor
    return found


def _is_gemini(model_id: str, entry: Mapping[str, Any]) -> bool:
    provider = str(entry.get("litellm_provider") or "")
    return "gemini" in model_id and (provider == "gemini" or provider.startswith("vertex_ai"))


def _search_prices(search: Any, standard: PriceSetParts, secondary: SecondaryFields) -> None:
    """`search_context_cost_per_query: {search_context_size_low: ...}` -> web_search_<size>."""
    if search is None:
        return
    if not isinstance(search, dict):
        for size in LITELLM_SEARCH_SIZES:
            secondary.read(
                f"web_search_{size}",
                partial(
                    fail,
                    f"search_context_cost_per_query: expected an object, got {json_type(search)}",
                ),
            )
        return
    for size in LITELLM_SEARCH_SIZES:
        key = f"search_context_size_{size}"
        if search.get(key) is not None:
            value = secondary.read(
                f"web_search_{size}",
                partial(read_price, f"search_context_cost_per_query.{key}", search[key]),
            )
            if value is not None:
                standard.put(f"web_search_{size}", value)


def _litellm_tiered_pricing(tiered: Any, standard: PriceSetParts) -> bool:
    """Read `tiered_pricing: [{"range": [lo, hi], <prices>}]` (DashScope); True if it had bands.

    The band starting at 0 gives the base prices the entry does not state itself; a band
    starting at lo > 0 is the tier "above lo prompt tokens" (`lo < prompt <= hi` picks a band:
    for contiguous bands that is the highest lo the prompt passes). Ranges over something else
    (`max_results_range`, search queries) are not token bands.
    """
    if tiered is None:
        return False
    if not isinstance(tiered, list):
        raise EntryRejected(f"tiered_pricing: expected a list, got {json_type(tiered)}")
    bands = False
    for index, band in enumerate(tiered):
        if not isinstance(band, dict):
            raise EntryRejected(f"tiered_pricing[{index}]: expected an object")
        if "range" not in band:
            continue
        bounds = band["range"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise EntryRejected(f"tiered_pricing[{index}].range: expected [low, high]")
        bands = True
        low = read_whole_number(f"tiered_pricing[{index}].range", bounds[0])
        for key, value in band.items():
            name = LITELLM_TOKEN_FIELDS.get(key) or LITELLM_UNIT_FIELDS.get(key)
            if name is None or value is None:
                continue
            price = read_price(f"tiered_pricing[{index}].{key}", value)
            if not low:
                if name in TOKEN_PRICE_FIELDS:
                    standard.token.setdefault(name, price)
                else:
                    standard.units.setdefault(name, price)
            else:
                standard.put(name, price, low)
    return bands

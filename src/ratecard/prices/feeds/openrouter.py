"""The OpenRouter feed: a `GET /api/v1/models` response, `{"data": [model, ...]}`.

Prices are decimal strings per token (read verbatim); -1 in any spelling means the price is
dynamic;
`pricing.overrides` gives prompt-size tiers; other units (per request, image, web search)
go to `units`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from typing import Any

from ratecard.prices.feed_errors import FeedError
from ratecard.prices.feeds.parsing import (
    DECIMAL_TEXT,
    MAX_NUMBER_CHARS,
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
    read_whole_number,
    status_of,
    tiers_from,
    words,
)
from ratecard.prices.model import ModelPrice
from ratecard.vocabulary import PriceStatus

OPENROUTER_TOKEN_FIELDS = {
    "prompt": "input_per_token",
    "completion": "output_per_token",
    "input_cache_read": "cache_read_per_token",
    "input_cache_write": "cache_write_per_token",
}
OPENROUTER_UNIT_FIELDS = {
    "request": "per_request",
    # OpenRouter's `image` is per input image *token* (its values equal the prompt price);
    # LiteLLM's input_cost_per_image is per image. One stored name per unit.
    "image": "input_image_per_token",
    "image_output": "output_image_per_token",
    "audio": "input_audio_per_token",
    "audio_output": "output_audio_per_token",
    "input_audio_cache": "input_audio_cache_read_per_token",
    "web_search": "web_search",
    "internal_reasoning": "output_reasoning_per_token",
    "input_cache_write_1h": "cache_write_1h_per_token",
}
OPENROUTER_KNOWN_PRICING_OTHER = frozenset({"overrides", "discount"})
OPENROUTER_KNOWN_OVERRIDE = frozenset(
    {*OPENROUTER_TOKEN_FIELDS, *OPENROUTER_UNIT_FIELDS, "min_prompt_tokens", "utc_start", "utc_end"}
)
OPENROUTER_KNOWN_MODEL_KEYS = words(
    """
    id canonical_slug hugging_face_id name created description context_length architecture
    pricing top_provider per_request_limits supported_parameters default_parameters
    supported_voices knowledge_cutoff expiration_date links reasoning benchmarks
    alias_target
    """
)


def parse(source: str, document: Any) -> ParsedFeed:
    """Parse an OpenRouter models response (already loaded as JSON with Decimals)."""
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        got = json_type(document) if not isinstance(document, dict) else "no data list"
        raise FeedError(source, f"expected an object with a data list, got {got}")
    if duplicate_keys(document):
        raise FeedError(source, f"duplicate top-level key {duplicate_keys(document)[0]!r}")
    parsed = ParsedFeed(source=source, models={})
    ids = [
        entry["id"]
        for entry in data
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    ]
    # An id listed twice: which entry is right is unknowable, so neither is applied and the
    # model keeps its last good prices (as for a duplicate LiteLLM model key).
    twice = {model_id for model_id, count in Counter(ids).items() if count > 1}
    for index, entry in enumerate(data):
        label = f"data[{index}]"
        if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"].strip():
            label = entry["id"]
        try:
            if not isinstance(entry, dict):
                raise EntryRejected(f"expected an object, got {json_type(entry)}")
            if label.startswith("data["):
                raise EntryRejected("id: expected a non-empty string")
            if label in twice:
                raise EntryRejected("id listed more than once in the feed")
            problem = entry_problem(entry)
            if problem is not None:
                raise EntryRejected(problem)
            model, unknown = _openrouter_model(source, label, entry, parsed.dropped)
        except EntryRejected as exc:
            if not any(r.model_id == label for r in parsed.rejected):
                parsed.rejected.append(Rejection(label, str(exc)))
            continue
        parsed.models[label] = model
        parsed.unknown_fields += unknown
    return parsed


def _is_dynamic(value: Any) -> bool:
    """OpenRouter's -1 ("-1", "-1.0", -1, -1.00): decided per request, not a negative price."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_CHARS or not DECIMAL_TEXT.fullmatch(text):
            return False
        return Decimal(text) == -1
    return isinstance(value, int | Decimal) and not isinstance(value, bool) and value == -1


def _openrouter_model(
    source: str, model_id: str, entry: Mapping[str, Any], dropped: list[DroppedField]
) -> tuple[ModelPrice, int]:
    secondary = SecondaryFields(model_id, dropped)
    unknown = sum(1 for key in entry if key not in OPENROUTER_KNOWN_MODEL_KEYS)
    pricing = entry.get("pricing")
    if pricing is None:
        pricing = {}
    if not isinstance(pricing, dict):
        raise EntryRejected(f"pricing: expected an object, got {json_type(pricing)}")
    dynamic = False
    token: dict[str, Decimal] = {}
    units: dict[str, Decimal] = {}
    for key, value in pricing.items():
        if key in OPENROUTER_KNOWN_PRICING_OTHER:
            continue
        name = OPENROUTER_TOKEN_FIELDS.get(key) or OPENROUTER_UNIT_FIELDS.get(key)
        is_token = key in OPENROUTER_TOKEN_FIELDS
        if name is None:
            unknown += 1
        elif value is None:
            continue
        elif _is_dynamic(value):
            # A per-token price decided per request makes the model dynamic; an extra unit
            # (web search, images) decided per request is simply not a price we can serve.
            dynamic = dynamic or is_token
        elif is_token:
            token[name] = read_price(f"pricing.{key}", value)
        else:
            price = secondary.read(name, partial(read_price, f"pricing.{key}", value))
            if price is not None:
                units[name] = price
    by_threshold, unknown_in_overrides = _openrouter_overrides(pricing.get("overrides"))
    unknown += unknown_in_overrides
    tiers = tiers_from(by_threshold)
    top_provider = entry.get("top_provider")
    if top_provider is not None and not isinstance(top_provider, dict):
        secondary.read(
            "max_output_tokens",
            partial(fail, f"top_provider: expected an object, got {json_type(top_provider)}"),
        )
        top_provider = None
    max_output = (top_provider or {}).get("max_completion_tokens")
    provider = model_id.lstrip("~").split("/", 1)[0] if "/" in model_id else None
    status: str = PriceStatus.DYNAMIC if dynamic else status_of(all_prices(token, tiers, units))
    model = ModelPrice(
        source=source,
        model_id=model_id,
        status=status,
        provider=provider or None,
        mode=_openrouter_mode(entry.get("architecture")),
        context_window=secondary.read(
            "context_window",
            partial(read_whole_number, "context_length", entry.get("context_length")),
        ),
        max_output_tokens=secondary.read(
            "max_output_tokens",
            partial(read_whole_number, "top_provider.max_completion_tokens", max_output),
        ),
        tiers=tiers,
        units=units,
        alias_target=_alias_target(entry.get("alias_target")),
        **token,
    )
    return model, unknown


def _alias_target(value: Any) -> str | None:
    """The slug a `~...-latest` alias stands for (an object with `slug`, or the slug itself)."""
    slug = value.get("slug") if isinstance(value, dict) else value
    return slug.strip() if isinstance(slug, str) and slug.strip() else None


def _openrouter_overrides(overrides: Any) -> tuple[dict[int, dict[str, Decimal]], int]:
    """Read `pricing.overrides`: `min_prompt_tokens` ones become tiers.

    OpenRouter's `min_prompt_tokens: N` is read as LiteLLM's "above N tokens" (the same
    published thresholds, e.g. Anthropic's "prompts over 200K tokens"). Overrides by time of
    day (`utc_start`/`utc_end`) and per-tier audio prices are not token tiers: not served.
    """
    by_threshold: dict[int, dict[str, Decimal]] = {}
    unknown = 0
    if overrides is None:
        return by_threshold, unknown
    if not isinstance(overrides, list):
        raise EntryRejected(f"pricing.overrides: expected a list, got {json_type(overrides)}")
    for index, override in enumerate(overrides):
        where = f"pricing.overrides[{index}]"
        if not isinstance(override, dict):
            raise EntryRejected(f"{where}: expected an object, got {json_type(override)}")
        unknown += sum(1 for key in override if key not in OPENROUTER_KNOWN_OVERRIDE)
        threshold = read_whole_number(
            f"{where}.min_prompt_tokens", override.get("min_prompt_tokens")
        )
        if threshold is None:
            continue
        prices = by_threshold.setdefault(threshold, {})
        for key, attr in OPENROUTER_TOKEN_FIELDS.items():
            value = override.get(key)
            if value is not None and not _is_dynamic(value):
                prices[attr] = read_price(f"{where}.{key}", value)
    return by_threshold, unknown


def _openrouter_mode(architecture: Any) -> str | None:
    """chat when the model writes text; image_generation when it only writes images."""
    if not isinstance(architecture, dict):
        return None
    outputs = architecture.get("output_modalities")
    if not isinstance(outputs, list):
        return None
    if "text" in outputs:
        return "chat"
    if "image" in outputs:
        return "image_generation"
    return None

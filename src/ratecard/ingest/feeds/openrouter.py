"""The OpenRouter feed: a `GET /api/v1/models` response, `{"data": [model, ...]}`.

Prices are decimal strings per token (read verbatim); -1 in any spelling means the price is
dynamic;
`pricing.overrides` gives prompt-size tiers; other units (per request, image, web search)
go to `units`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from ratecard.catalog.model import ModelPrice, TimeWindow
from ratecard.ingest.feed_errors import FeedError
from ratecard.ingest.feeds.parsing import (
    DECIMAL_TEXT,
    MAX_NUMBER_CHARS,
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
    read_whole_number,
    status_of,
    words,
)
from ratecard.vocabulary import PriceStatus, PricingRule

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


def parse(source: str, document: Any, now: datetime | None = None) -> ParsedFeed:
    """Parse an OpenRouter models response (already loaded as JSON with Decimals); its
    prices are not dated, so `now` changes nothing."""
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
    unknown += sum(
        1
        for key in pricing
        if key not in OPENROUTER_KNOWN_PRICING_OTHER
        and key not in OPENROUTER_TOKEN_FIELDS
        and key not in OPENROUTER_UNIT_FIELDS
    )
    standard, windows, unknown_in_overrides = _openrouter_overrides(
        pricing.get("overrides"), secondary
    )
    dynamic = _read_prices(pricing, "pricing", standard, None, secondary)
    unknown += unknown_in_overrides
    rules = {PricingRule.THRESHOLD: "inclusive"} if standard.by_threshold else {}
    top_provider = entry.get("top_provider")
    if top_provider is not None and not isinstance(top_provider, dict):
        secondary.read(
            "max_output_tokens",
            partial(fail, f"top_provider: expected an object, got {json_type(top_provider)}"),
        )
        top_provider = None
    max_output = (top_provider or {}).get("max_completion_tokens")
    provider = model_id.lstrip("~").split("/", 1)[0] if "/" in model_id else None
    status: str = PriceStatus.DYNAMIC if dynamic else status_of(standard.prices())
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
        **standard.model_fields(),
        alias_target=_alias_target(entry.get("alias_target")),
        windows=tuple(windows),
        rules={str(k): v for k, v in rules.items()},
    )
    return model, unknown


def _alias_target(value: Any) -> str | None:
    """The slug a `~...-latest` alias stands for (an object with `slug`, or the slug itself)."""
    slug = value.get("slug") if isinstance(value, dict) else value
    return slug.strip() if isinstance(slug, str) and slug.strip() else None


def _openrouter_overrides(
    overrides: Any, secondary: SecondaryFields
) -> tuple[PriceSetParts, list[TimeWindow], int]:
    """Read `pricing.overrides`: by prompt size (`min_prompt_tokens`) or by time of day.

    `min_prompt_tokens: N` becomes the tier "from N prompt tokens" (the model gets the
    "inclusive" threshold rule: the name says minimum). `utc_start`/`utc_end` are HHMM in UTC
    (1000 = 10:00), start inclusive, end exclusive, wrapping past midnight when end < start
    (docs/cost-semantics.md §9): a window whose prices replace the standard ones.
    """
    tiers = PriceSetParts()
    windows: list[TimeWindow] = []
    unknown = 0
    if overrides is None:
        return tiers, windows, unknown
    if not isinstance(overrides, list):
        raise EntryRejected(f"pricing.overrides: expected a list, got {json_type(overrides)}")
    for index, override in enumerate(overrides):
        where = f"pricing.overrides[{index}]"
        if not isinstance(override, dict):
            raise EntryRejected(f"{where}: expected an object, got {json_type(override)}")
        unknown += sum(1 for key in override if key not in OPENROUTER_KNOWN_OVERRIDE)
        if override.get("utc_start") is not None or override.get("utc_end") is not None:
            start = _hhmm(f"{where}.utc_start", override.get("utc_start"))
            end = _hhmm(f"{where}.utc_end", override.get("utc_end"))
            prices = PriceSetParts()
            _read_prices(override, where, prices, None, secondary)
            windows.append(TimeWindow(start, end, prices.price_set()))
            continue
        threshold = read_whole_number(
            f"{where}.min_prompt_tokens", override.get("min_prompt_tokens")
        )
        if threshold is not None:
            _read_prices(override, where, tiers, threshold, secondary)
    return tiers, windows, unknown


def _hhmm(key: str, value: Any) -> int:
    number = read_whole_number(key, value)
    if number is None or number % 100 >= 60 or number > 2400:
        raise EntryRejected(f"{key}: expected a time as HHMM (0 to 2400), got {value!r}")
    return number


def _read_prices(
    prices: Mapping[str, Any],
    where: str,
    into: PriceSetParts,
    threshold: int | None,
    secondary: SecondaryFields,
) -> bool:
    """Read OpenRouter price fields into `into`; True if a per-token price is dynamic (-1).

    A bad per-token price rejects the entry; a bad other price drops only that price.
    """
    dynamic = False
    for key, value in prices.items():
        name = OPENROUTER_TOKEN_FIELDS.get(key) or OPENROUTER_UNIT_FIELDS.get(key)
        if name is None or value is None:
            continue
        is_token = key in OPENROUTER_TOKEN_FIELDS
        if _is_dynamic(value):
            # A per-token price decided per request makes the model dynamic; an extra unit
            # (web search, images) decided per request is simply not a price we can serve.
            dynamic = dynamic or is_token
        elif is_token:
            into.put(name, read_price(f"{where}.{key}", value), threshold)
        else:
            price = secondary.read(name, partial(read_price, f"{where}.{key}", value))
            if price is not None:
                into.put(name, price, threshold)
    return dynamic


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

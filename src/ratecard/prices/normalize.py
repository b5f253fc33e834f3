"""Turn a feed body into exact ModelPrice records (LiteLLM and OpenRouter formats).

Every number goes from JSON text straight to Decimal (`parse_float=Decimal`; OpenRouter's
decimal strings are read verbatim), never through a binary float, so 2.9999900000000002e-06
stays exactly 0.0000029999900000000002. Whole-body problems (not JSON, HTML, truncated, wrong
shape, no usable model) raise FeedError. Nothing inside one entry can fail the feed:

- a bad per-token price (a word, a negative, NaN, non-ASCII digits, a duplicate key, a number
  of absurd size, garbage nested absurdly deep even in an ignored field) rejects the entry:
  it lands in `ParsedFeed.rejected`, and the guard keeps its last good prices served;
- a bad secondary field (a unit price, a token limit, a descriptive string) drops only that
  field: it lands in `ParsedFeed.dropped`, and the guard keeps that field's last good value.

Numbers are bounded before Python builds them: `json` would raise for the whole body on an
integer of more than 4300 digits, and on nesting deeper than the recursion limit; our hooks
turn both into per-entry markers instead (see `_load_json`).
"""

from __future__ import annotations

import decimal
import json
import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from ratecard.prices.errors import FeedError
from ratecard.prices.model import ModelPrice, PriceStatus, Tier
from ratecard.settings import Source

# Wide enough that tokens (< 10^15) x a price (<= 10^6, at most ~60 significant digits) and
# the sum of a few such products never round; Inexact is trapped so that if it ever would,
# the arithmetic raises instead of silently returning a rounded amount.
EXACT = decimal.Context(
    prec=200,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.Inexact],
)

_T = TypeVar("_T")

# Bounds outside which a "price" is garbage rather than a price (USD per unit).
MAX_PRICE = Decimal(1_000_000)
MIN_ADJUSTED_EXPONENT = -30

# ASCII digits only: `\d` (and Decimal()) also accept Arabic-Indic digits (U+0663 U+0665
# reads as 35) and full-width ones (U+FF13 as 3), which no price feed means as a number.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
# Longest number text read (a real price is ~25 characters; 2.9999900000000002e-06 is 22).
# Longer ones are garbage, and a 5,000-digit integer would make int() raise for the whole body.
MAX_NUMBER_CHARS = 64
# Largest whole number (token counts): 10^15 tokens is far past any context window.
MAX_WHOLE_NUMBER = 10**15
# Deepest nesting read inside one entry (real entries nest 3 levels); past it, garbage.
MAX_ENTRY_DEPTH = 32
# Depth at which the fallback loader cuts a body nested too deep for `json` (see _load_json).
_CUT_DEPTH = 48
_JSON_LITERALS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")


@dataclass
class Rejection:
    """One feed entry left out, and why."""

    model_id: str
    reason: str


@dataclass
class DroppedField:
    """One bad secondary field of a model that is otherwise served: the field is left out.

    `field` is the stored name (a unit such as `output_per_pixel`, or `context_window`),
    so the guard can keep that field's last good value.
    """

    model_id: str
    field: str
    reason: str


@dataclass
class ParsedFeed:
    """The usable models of one feed body, plus what was left out and why."""

    source: str
    models: dict[str, ModelPrice]
    rejected: list[Rejection] = field(default_factory=list)
    dropped: list[DroppedField] = field(default_factory=list)
    skipped: int = 0
    unknown_fields: int = 0
    snapshot_date: str | None = None


class _EntryRejected(Exception):
    """Internal: this one entry is garbage; the reason says which field and why."""


def parse_feed(source: Source, body: bytes) -> ParsedFeed:
    """Parse a feed body according to its source kind; raise FeedError if unusable."""
    document = _load_json(source.name, body)
    if source.kind == "litellm":
        parsed = _parse_litellm(source.name, document)
    elif source.kind == "openrouter":
        parsed = _parse_openrouter(source.name, document)
    else:
        raise FeedError(source.name, f"unknown feed kind {source.kind!r}")
    if not parsed.models:
        raise FeedError(
            source.name,
            f"no usable models ({len(parsed.rejected)} rejected, {parsed.skipped} skipped)",
        )
    return parsed


# -- JSON ---------------------------------------------------------------------------------


class _Oversized:
    """A JSON number too long to be a value (built in place of it, so only its entry fails)."""

    def __init__(self, text: str) -> None:
        self.chars = len(text)


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers the keys it held more than once (json is last-wins)."""

    duplicates: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicates = []
        for key, _ in pairs:
            if key in seen and key not in duplicates:
                duplicates.append(key)
            seen.add(key)
        obj.duplicates = tuple(duplicates)
    return obj


def _json_int(text: str) -> int | _Oversized:
    return _Oversized(text) if len(text) > MAX_NUMBER_CHARS else int(text)


def _json_float(text: str) -> Decimal | _Oversized:
    return _Oversized(text) if len(text) > MAX_NUMBER_CHARS else Decimal(text)


# Stands for a value cut out of a body nested too deep: a random string no feed can contain,
# so the entry holding it is rejected (see `_entry_problem`) rather than read.
_TOO_DEEP = f"ratecard-nested-too-deep-{secrets.token_hex(8)}"
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _load_json(source: str, body: bytes) -> Any:
    stripped = body.lstrip()
    if not stripped:
        raise FeedError(source, "body is empty")
    if stripped[:1] == b"<":
        raise FeedError(source, "body is HTML, not JSON")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedError(source, f"body is not UTF-8 text (bad byte at {exc.start})") from None
    try:
        try:
            return _decode(text)
        except RecursionError:
            # One entry nested thousands deep must not fail the feed: cut every value below
            # _CUT_DEPTH out and parse again; the entries that held one are rejected.
            return _decode(_cut_deep_values(text))
    except json.JSONDecodeError as exc:
        if _is_truncation(text, exc):
            raise FeedError(source, f"truncated JSON at byte {len(body)}") from None
        at = len(text[: exc.pos].encode())
        raise FeedError(source, f"invalid JSON at byte {at}: {exc.msg}") from None
    except RecursionError:
        raise FeedError(source, "JSON nested too deeply") from None


def _decode(text: str) -> Any:
    return json.loads(
        text,
        parse_float=_json_float,
        parse_int=_json_int,
        parse_constant=Decimal,
        object_pairs_hook=_json_object,
    )


def _cut_deep_values(text: str) -> str:
    """Replace each value that starts deeper than _CUT_DEPTH with the _TOO_DEEP marker."""
    out: list[str] = []
    depth = 0
    kept_until = 0
    cut_from: int | None = None
    for token in _JSON_TOKEN.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth == _CUT_DEPTH + 1 and cut_from is None:
                cut_from = token.start()
        elif char in "]}":
            depth -= 1
            if depth == _CUT_DEPTH and cut_from is not None:
                out.append(text[kept_until:cut_from])
                out.append(json.dumps(_TOO_DEEP))
                kept_until = token.end()
                cut_from = None
    out.append(text[kept_until:])
    return "".join(out)


def _entry_problem(value: Any, path: str = "", depth: int = 0) -> str | None:
    """Return why an entry cannot be read whole (duplicate key, oversized number, too deep)."""
    if depth > MAX_ENTRY_DEPTH or (isinstance(value, str) and value == _TOO_DEEP):
        return f"{path or 'entry'}: nested more than {MAX_ENTRY_DEPTH} levels deep"
    if isinstance(value, _Oversized):
        return f"{path}: a number of {value.chars} characters (limit {MAX_NUMBER_CHARS})"
    if isinstance(value, dict):
        duplicates = getattr(value, "duplicates", ())
        if duplicates:
            where = f"{path}." if path else ""
            return f"duplicate key {where}{duplicates[0]} (the feed is ambiguous)"
        for key, item in value.items():
            problem = _entry_problem(item, f"{path}.{key}" if path else key, depth + 1)
            if problem is not None:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = _entry_problem(item, f"{path}[{index}]", depth + 1)
            if problem is not None:
                return problem
    return None


def _is_truncation(text: str, exc: json.JSONDecodeError) -> bool:
    """Whether the parser ran out of text (the body ends early) rather than met bad text."""
    rest = text[exc.pos :].strip()
    if not rest or exc.msg.startswith("Unterminated string"):
        return True
    return any(literal.startswith(rest) and literal != rest for literal in _JSON_LITERALS)


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


# -- values -------------------------------------------------------------------------------


def _price(key: str, value: Any) -> Decimal:
    """Read one price exactly; reject words, wrong types, negatives, NaN and Infinity."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise _EntryRejected(f"{key}: expected a number, got {_json_type(value)}")
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_CHARS or not _DECIMAL_TEXT.fullmatch(text):
            raise _EntryRejected(f"{key}: {value[:40]!r} is not a number")
        number = Decimal(text)
    else:
        number = Decimal(value)
    if not number.is_finite():
        raise _EntryRejected(f"{key}: {number} is not a finite number")
    if number < 0:
        raise _EntryRejected(f"{key}: negative price {number}")
    if number == 0:
        return Decimal(0)  # one spelling of zero (not -0, 0E-7, 0.0)
    if number > MAX_PRICE:
        raise _EntryRejected(f"{key}: implausible price {number} (above {MAX_PRICE})")
    if number.adjusted() < MIN_ADJUSTED_EXPONENT:
        raise _EntryRejected(f"{key}: implausible price {number} (below 1e{MIN_ADJUSTED_EXPONENT})")
    return number


def _whole_number(key: str, value: Any) -> int | None:
    """Read a token count (JSON null: absent); 2000000.0 is accepted as 2000000."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _EntryRejected(f"{key}: expected a whole number, got {_json_type(value)}")
    if isinstance(value, Decimal) and not (value.is_finite() and value == value.to_integral()):
        raise _EntryRejected(f"{key}: expected a whole number, got {value}")
    if value < 0:
        raise _EntryRejected(f"{key}: negative count {value}")
    if value > MAX_WHOLE_NUMBER:
        raise _EntryRejected(f"{key}: implausible count {value} (above {MAX_WHOLE_NUMBER})")
    return int(value)


def _text(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _EntryRejected(f"{key}: expected a string, got {_json_type(value)}")
    return value.strip() or None


def _status(prices: Iterable[Decimal]) -> PriceStatus:
    """free: every price given is zero; unpriced: no price given; priced otherwise."""
    values = list(prices)
    if not values:
        return "unpriced"
    if all(value == 0 for value in values):
        return "free"
    return "priced"


def _all_prices(
    token: Mapping[str, Decimal], tiers: Iterable[Tier], units: Mapping[str, Decimal]
) -> Iterator[Decimal]:
    """Yield every price a model has: per-token, per-tier and per-unit."""
    yield from token.values()
    for tier in tiers:
        for name in _TOKEN_ATTRS:
            value = getattr(tier, name)
            if value is not None:
                yield value
    yield from units.values()


def _tiers(by_threshold: Mapping[int, Mapping[str, Decimal]]) -> tuple[Tier, ...]:
    return tuple(
        Tier(above_tokens=threshold, **dict(prices))
        for threshold, prices in sorted(by_threshold.items())
        if prices
    )


_TOKEN_ATTRS = (
    "input_per_token",
    "output_per_token",
    "cache_read_per_token",
    "cache_write_per_token",
)


def _words(text: str) -> frozenset[str]:
    """Return the whitespace-separated names in text (long name lists stay readable)."""
    return frozenset(text.split())


# -- LiteLLM ------------------------------------------------------------------------------

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
LITELLM_KNOWN_OTHER = _words(
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


def _parse_litellm(source: str, document: Any) -> ParsedFeed:
    if not isinstance(document, dict):
        raise FeedError(source, f"expected an object of models, got {_json_type(document)}")
    parsed = ParsedFeed(source=source, models={})
    last_updated = document.get("last_updated")
    if isinstance(last_updated, str) and re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", last_updated):
        parsed.snapshot_date = last_updated[:10]
    # A model key listed twice: json keeps the last entry, which may be the wrong one. Neither
    # is trusted; the model keeps its last good prices until the feed says it once.
    twice = frozenset(getattr(document, "duplicates", ()))
    for model_id, entry in document.items():
        if model_id in LITELLM_SKIPPED_KEYS or not isinstance(entry, dict):
            parsed.skipped += 1
            continue
        try:
            if model_id in twice:
                raise _EntryRejected("model key listed more than once in the feed")
            problem = _entry_problem(entry)
            if problem is not None:
                raise _EntryRejected(problem)
            parsed.models[model_id] = _litellm_model(source, model_id, entry, parsed.dropped)
        except _EntryRejected as exc:
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


class _Secondary:
    """Read secondary fields of one entry: a bad one is dropped and reported, not fatal."""

    def __init__(self, model_id: str, dropped: list[DroppedField]) -> None:
        self.model_id = model_id
        self.dropped = dropped

    def read(self, stored_name: str, read: Callable[[], _T]) -> _T | None:
        try:
            return read()
        except _EntryRejected as exc:
            self.dropped.append(DroppedField(self.model_id, stored_name, str(exc)))
            return None


def _litellm_model(
    source: str, model_id: str, entry: Mapping[str, Any], dropped: list[DroppedField]
) -> ModelPrice:
    if not model_id.strip():
        raise _EntryRejected("empty model id")
    secondary = _Secondary(model_id, dropped)
    token = {
        attr: _price(key, entry[key])
        for key, attr in LITELLM_TOKEN_FIELDS.items()
        if entry.get(key) is not None
    }
    units: dict[str, Decimal] = {}
    for key, name in LITELLM_UNIT_FIELDS.items():
        if entry.get(key) is not None:
            value = secondary.read(name, partial(_price, key, entry[key]))
            if value is not None:
                units[name] = value
    search = entry.get("search_context_cost_per_query")
    if search is not None and not isinstance(search, dict):
        for size in LITELLM_SEARCH_SIZES:
            secondary.read(
                f"web_search_{size}",
                partial(
                    _fail,
                    f"search_context_cost_per_query: expected an object, got {_json_type(search)}",
                ),
            )
    elif search is not None:
        for size in LITELLM_SEARCH_SIZES:
            key = f"search_context_size_{size}"
            if search.get(key) is not None:
                value = secondary.read(
                    f"web_search_{size}",
                    partial(_price, f"search_context_cost_per_query.{key}", search[key]),
                )
                if value is not None:
                    units[f"web_search_{size}"] = value
    by_threshold: dict[int, dict[str, Decimal]] = {}
    for key, value in entry.items():
        match = LITELLM_TIER_KEY.fullmatch(key)
        if match is not None and value is not None:
            threshold = int(match.group(2)) * 1000
            by_threshold.setdefault(threshold, {})[LITELLM_TOKEN_FIELDS[match.group(1)]] = _price(
                key, value
            )
    _litellm_tiered_pricing(entry.get("tiered_pricing"), token, by_threshold)
    tiers = _tiers(by_threshold)
    # Both limits are read (and a bad one reported) even when max_input_tokens wins.
    max_input = secondary.read(
        "context_window", partial(_whole_number, "max_input_tokens", entry.get("max_input_tokens"))
    )
    max_tokens = secondary.read(
        "context_window", partial(_whole_number, "max_tokens", entry.get("max_tokens"))
    )
    return ModelPrice(
        source=source,
        model_id=model_id,
        status=_status(_all_prices(token, tiers, units)),
        provider=secondary.read(
            "provider", partial(_text, "litellm_provider", entry.get("litellm_provider"))
        ),
        mode=secondary.read("mode", partial(_text, "mode", entry.get("mode"))),
        context_window=max_input if max_input is not None else max_tokens,
        max_output_tokens=secondary.read(
            "max_output_tokens",
            partial(_whole_number, "max_output_tokens", entry.get("max_output_tokens")),
        ),
        tiers=tiers,
        units=units,
        **token,
    )


def _fail(reason: str) -> None:
    raise _EntryRejected(reason)


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
        raise _EntryRejected(f"tiered_pricing: expected a list, got {_json_type(tiered)}")
    for index, band in enumerate(tiered):
        if not isinstance(band, dict):
            raise _EntryRejected(f"tiered_pricing[{index}]: expected an object")
        if "range" not in band:
            continue
        bounds = band["range"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise _EntryRejected(f"tiered_pricing[{index}].range: expected [low, high]")
        low = _whole_number(f"tiered_pricing[{index}].range", bounds[0])
        prices = {
            attr: _price(f"tiered_pricing[{index}].{key}", band[key])
            for key, attr in LITELLM_TOKEN_FIELDS.items()
            if band.get(key) is not None
        }
        if not low:
            for attr, value in prices.items():
                token.setdefault(attr, value)
        else:
            by_threshold.setdefault(low, {}).update(prices)


# -- OpenRouter ---------------------------------------------------------------------------

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
OPENROUTER_KNOWN_MODEL_KEYS = _words(
    """
    id canonical_slug hugging_face_id name created description context_length architecture
    pricing top_provider per_request_limits supported_parameters default_parameters
    supported_voices knowledge_cutoff expiration_date links reasoning benchmarks
    alias_target
    """
)


def _parse_openrouter(source: str, document: Any) -> ParsedFeed:
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        got = _json_type(document) if not isinstance(document, dict) else "no data list"
        raise FeedError(source, f"expected an object with a data list, got {got}")
    if getattr(document, "duplicates", ()):
        raise FeedError(source, f"duplicate top-level key {document.duplicates[0]!r}")
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
                raise _EntryRejected(f"expected an object, got {_json_type(entry)}")
            if label.startswith("data["):
                raise _EntryRejected("id: expected a non-empty string")
            if label in twice:
                raise _EntryRejected("id listed more than once in the feed")
            problem = _entry_problem(entry)
            if problem is not None:
                raise _EntryRejected(problem)
            model, unknown = _openrouter_model(source, label, entry, parsed.dropped)
        except _EntryRejected as exc:
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
        if len(text) > MAX_NUMBER_CHARS or not _DECIMAL_TEXT.fullmatch(text):
            return False
        return Decimal(text) == -1
    return isinstance(value, int | Decimal) and not isinstance(value, bool) and value == -1


def _openrouter_model(
    source: str, model_id: str, entry: Mapping[str, Any], dropped: list[DroppedField]
) -> tuple[ModelPrice, int]:
    secondary = _Secondary(model_id, dropped)
    unknown = sum(1 for key in entry if key not in OPENROUTER_KNOWN_MODEL_KEYS)
    pricing = entry.get("pricing")
    if pricing is None:
        pricing = {}
    if not isinstance(pricing, dict):
        raise _EntryRejected(f"pricing: expected an object, got {_json_type(pricing)}")
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
            token[name] = _price(f"pricing.{key}", value)
        else:
            price = secondary.read(name, partial(_price, f"pricing.{key}", value))
            if price is not None:
                units[name] = price
    by_threshold, unknown_in_overrides = _openrouter_overrides(pricing.get("overrides"))
    unknown += unknown_in_overrides
    tiers = _tiers(by_threshold)
    top_provider = entry.get("top_provider")
    if top_provider is not None and not isinstance(top_provider, dict):
        secondary.read(
            "max_output_tokens",
            partial(_fail, f"top_provider: expected an object, got {_json_type(top_provider)}"),
        )
        top_provider = None
    max_output = (top_provider or {}).get("max_completion_tokens")
    provider = model_id.lstrip("~").split("/", 1)[0] if "/" in model_id else None
    status: PriceStatus = "dynamic" if dynamic else _status(_all_prices(token, tiers, units))
    model = ModelPrice(
        source=source,
        model_id=model_id,
        status=status,
        provider=provider or None,
        mode=_openrouter_mode(entry.get("architecture")),
        context_window=secondary.read(
            "context_window",
            partial(_whole_number, "context_length", entry.get("context_length")),
        ),
        max_output_tokens=secondary.read(
            "max_output_tokens",
            partial(_whole_number, "top_provider.max_completion_tokens", max_output),
        ),
        tiers=tiers,
        units=units,
        **token,
    )
    return model, unknown


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
        raise _EntryRejected(f"pricing.overrides: expected a list, got {_json_type(overrides)}")
    for index, override in enumerate(overrides):
        where = f"pricing.overrides[{index}]"
        if not isinstance(override, dict):
            raise _EntryRejected(f"{where}: expected an object, got {_json_type(override)}")
        unknown += sum(1 for key in override if key not in OPENROUTER_KNOWN_OVERRIDE)
        threshold = _whole_number(f"{where}.min_prompt_tokens", override.get("min_prompt_tokens"))
        if threshold is None:
            continue
        prices = by_threshold.setdefault(threshold, {})
        for key, attr in OPENROUTER_TOKEN_FIELDS.items():
            value = override.get(key)
            if value is not None and not _is_dynamic(value):
                prices[attr] = _price(f"{where}.{key}", value)
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

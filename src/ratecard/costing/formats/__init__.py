"""Read a provider's usage block or whole response into a `Usage` (disjoint quantities).

Users paste what the provider returned; each format module knows what its totals include and
subtracts (tests/data/responses/README.md, "How each partition is derived"):

    openai.chat       openai_chat.py         Chat Completions `usage`
    openai.responses  openai_responses.py    Responses API `usage` (+ `web_search_call` items)
    anthropic         anthropic_messages.py  Messages `usage`
    gemini            gemini_generate.py     generateContent `usageMetadata` (+ grounding)
    bedrock           bedrock_converse.py    Converse `usage`

Pure functions over parsed JSON: no Flask, no prices. A body that contradicts itself (a detail
larger than its total, a stated total that is not the sum of its parts), a count that is not an
integer >= 0 (bools and floats included: see counts.py), or a missing required count raises
UsageError naming the field by its JSON path as the user sent it. Unknown extra keys are
ignored: providers add fields.

`service_tier` is the tier the body says it was billed at, or None when it says nothing (the
caller then uses the request's own tier, else standard).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ratecard.costing.formats import (
    anthropic_messages,
    bedrock_converse,
    gemini_generate,
    openai_chat,
    openai_responses,
)
from ratecard.costing.formats.counts import describe, field_path
from ratecard.costing.usage import ReadUsage, UsageError
from ratecard.vocabulary import UsageFormat

__all__ = ["FORMATS", "Format", "detect_format", "read_response", "read_usage"]

Reader = Callable[[Mapping[str, Any], str], ReadUsage]


@dataclass(frozen=True, slots=True)
class Format:
    """One provider format: where its usage block sits, how to know it, how to read it."""

    name: UsageFormat
    usage_key: str  # the usage block's key in a whole response
    markers: frozenset[str]  # usage keys no other format has
    read_usage: Reader  # (usage block, its path) -> ReadUsage
    read_response: Reader  # (whole body, its path) -> ReadUsage


FORMATS: Mapping[str, Format] = MappingProxyType(
    {
        module.FORMAT: Format(
            module.FORMAT,
            module.USAGE_KEY,
            module.MARKERS,
            module.read_usage,
            module.read_response,
        )
        for module in (
            openai_chat,
            openai_responses,
            anthropic_messages,
            gemini_generate,
            bedrock_converse,
        )
    }
)
assert tuple(FORMATS) == tuple(UsageFormat), "one reader per UsageFormat, in its order"

_FORMAT_LIST = tuple(FORMATS.values())
# `input_tokens` and `output_tokens` alone name no format: Anthropic and the Responses API
# both use them, told apart only by their other keys.
_SHARED_KEYS = frozenset({"input_tokens", "output_tokens"})
_SHARED_BY = (UsageFormat.ANTHROPIC, UsageFormat.OPENAI_RESPONSES)
# What a whole body says of itself, beside its usage block (to settle an ambiguous block).
_BODY_KINDS = {
    ("object", "chat.completion"): UsageFormat.OPENAI_CHAT,
    ("object", "response"): UsageFormat.OPENAI_RESPONSES,
    ("type", "message"): UsageFormat.ANTHROPIC,
}


# `format: object` (read_response too), not `str | None`: this module is compiled (setup.py), and
# a declared str is checked at the call (TypeError); any other value must reach _named, which
# refuses it by name.
def read_usage(
    usage: Mapping[str, Any], format: object = None, *, path: str = "usage"
) -> ReadUsage:
    """Read a usage object exactly as the provider returned it; detect its format if None.

    `path` is where the request holds it, for error fields (`usage.prompt_tokens`).
    """
    if not (type(usage) is dict or isinstance(usage, Mapping)):
        raise UsageError(path or "usage", f"must be an object, got {describe(usage)}")
    reader = _named(format) if format is not None else _detect(usage)
    return reader.read_usage(usage, path)


def read_response(body: Mapping[str, Any], format: object = None, *, path: str = "") -> ReadUsage:
    """Read a whole response body: its usage, model, billed tier and counts outside usage.

    `path` is where the request holds the body ("response"), for error fields.
    """
    if not (type(body) is dict or isinstance(body, Mapping)):
        raise UsageError(path or "response", f"must be an object, got {describe(body)}")
    reader = _named(format) if format is not None else _detect_response(body, path)
    return reader.read_response(body, path)


def detect_format(usage: Mapping[str, Any]) -> UsageFormat:
    """The format a usage object's keys name; UsageError(field="format") if none or several."""
    return _detect(usage).name


def _named(format: object) -> Format:
    reader = FORMATS.get(format) if isinstance(format, str) else None
    if reader is None:
        known = ", ".join(FORMATS)
        raise UsageError("format", f"unknown format {describe(format)}; one of: {known}")
    return reader


def _candidates(usage: Mapping[str, Any]) -> list[Format]:
    keys = usage.keys()
    return [reader for reader in _FORMAT_LIST if not keys.isdisjoint(reader.markers)]


def _detect(usage: Mapping[str, Any]) -> Format:
    found = _candidates(usage)
    if len(found) == 1:
        return found[0]
    raise _undetected(usage, found)


def _detect_response(body: Mapping[str, Any], path: str) -> Format:
    if gemini_generate.USAGE_KEY in body:
        return FORMATS[UsageFormat.GEMINI]
    usage = body.get("usage")
    if not (type(usage) is dict or isinstance(usage, Mapping)):
        # Let a body that names its kind report its own missing or malformed usage.
        kind = _body_kind(body)
        if kind is not None:
            return FORMATS[kind]
        raise UsageError(
            field_path(path, "usage"),
            "is required: the response has no usage block (nor Gemini's usageMetadata)",
        )
    found = _candidates(usage)
    if len(found) == 1:
        return found[0]
    kind = _body_kind(body)
    if kind is not None and (not found or FORMATS[kind] in found):
        return FORMATS[kind]
    raise _undetected(usage, found)


def _body_kind(body: Mapping[str, Any]) -> UsageFormat | None:
    for (key, value), kind in _BODY_KINDS.items():
        if body.get(key) == value:
            return kind
    return None


def _undetected(usage: Mapping[str, Any], found: list[Format]) -> UsageError:
    if not found and not usage.keys().isdisjoint(_SHARED_KEYS):
        names: list[str] = list(_SHARED_BY)
    else:
        names = [reader.name for reader in found]
    if names:
        return UsageError(
            "format",
            f"the usage keys fit more than one format ({', '.join(names)}): give `format`",
        )
    keys = sorted(str(key)[:40] for key in usage)
    seen = ", ".join(keys[:12]) + (f" and {len(keys) - 12} more" if len(keys) > 12 else "")
    known = ", ".join(FORMATS)
    return UsageError(
        "format", f"no known format has these usage keys ({seen or 'none'}); one of: {known}"
    )

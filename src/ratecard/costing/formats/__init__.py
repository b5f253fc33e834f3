"""Read a provider's usage block or whole response into a `Usage` (disjoint quantities).

Users paste what the provider returned; each format module knows what its totals include and
subtracts (tests/data/responses/README.md, "How each partition is derived"):

    openai.chat           openai_chat.py           Chat Completions `usage` (and Azure's,
                                                   Mistral's: the same counters)
    openai.responses      openai_responses.py      Responses API `usage` (+ `web_search_call`)
    anthropic             anthropic_messages.py    Messages `usage`
    gemini                gemini_generate.py       generateContent `usageMetadata` (+ grounding;
                                                   Gemini API and Vertex AI)
    bedrock               bedrock_converse.py      Converse `usage`
    openai.embeddings     openai_embeddings.py     Embeddings `usage` (and compatible APIs')
    openai.images         openai_images.py         Images generations and edits `usage`
    openai.transcription  openai_transcription.py  audio transcriptions `usage`
    openai.speech         openai_speech.py         text to speech `speech.audio.done` `usage`
    deepseek              deepseek_chat.py         DeepSeek chat `usage` (cache hit/miss)
    xai                   xai_chat.py              xAI chat `usage` (reasoning apart)
    groq                  groq_chat.py             Groq chat `usage` (timings, its tiers)
    cohere                cohere_chat.py           Cohere v2 chat `usage.billed_units`
    mistral.ocr           mistral_ocr.py           Mistral OCR `usage_info`

Pure functions over parsed JSON: no Flask, no prices. Readers are tolerant of what they do not
price (an unknown extra key is never an error: providers add fields) and strict on counts that
cannot be true: a detail larger than its total, a count that is not an integer >= 0 (bools and
floats included: see counts.py), a missing required count raise UsageError naming the field by
its JSON path as the user sent it. A stated total that is not the sum of its parts is no such
contradiction (real providers send them): the parts are priced and `ReadUsage.notes` says so.

Detection, when no `format` is given, weighs what only one format has, then what the body says
it is, then the shape every compatible API shares:
1. exclusive markers: usage keys (or `key.inner` paths) no other format has, such as
   Anthropic's `cache_read_input_tokens` or DeepSeek's `prompt_cache_hit_tokens`; one format
   marked is that format, whatever else the block holds (Anthropic's 2026 `usage` has
   `output_tokens_details` as the Responses API does, with other counters inside), but for
   Chat Completions' keys beside another family's marker (`prompt_tokens` and Bedrock's
   `inputTokens`): two formats;
2. the body's kind (`"object": "chat.completion"`, `"type": "message"`...), which also settles
   a block marked by several formats (xAI's Responses body: `"object": "response"`);
3. the families of shared keys: Chat Completions' keys (`prompt_tokens`, `completion_tokens`,
   their details) are Chat Completions, `prompt_tokens` alone an embeddings usage;
   `input_tokens`/`output_tokens` alone fit several formats and need `format` (or a body that
   names its kind).

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
    cohere_chat,
    deepseek_chat,
    gemini_generate,
    groq_chat,
    mistral_ocr,
    openai_chat,
    openai_embeddings,
    openai_images,
    openai_responses,
    openai_speech,
    openai_transcription,
    xai_chat,
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
    # Usage keys, or (key, inner key) paths, no other format has (format detection).
    markers: tuple[tuple[str, ...], ...]
    kinds: tuple[tuple[str, str], ...]  # (key, value) pairs of a whole body that name it
    # Token quantities the provider bills at the text input price where the model lists no
    # price of their own.
    text_priced: frozenset[str]
    read_usage: Reader  # (usage block, its path) -> ReadUsage
    read_response: Reader  # (whole body, its path) -> ReadUsage


_MODULES = (
    openai_chat,
    openai_responses,
    anthropic_messages,
    gemini_generate,
    bedrock_converse,
    openai_embeddings,
    openai_images,
    openai_transcription,
    openai_speech,
    deepseek_chat,
    xai_chat,
    groq_chat,
    cohere_chat,
    mistral_ocr,
)
FORMATS: Mapping[str, Format] = MappingProxyType(
    {
        module.FORMAT: Format(
            module.FORMAT,
            module.USAGE_KEY,
            tuple(tuple(marker.split(".")) for marker in sorted(module.MARKERS)),
            module.KINDS,
            module.TEXT_PRICED,
            module.read_usage,
            module.read_response,
        )
        for module in _MODULES
    }
)
assert tuple(FORMATS) == tuple(UsageFormat), "one reader per UsageFormat, in its order"

_FORMAT_LIST = tuple(FORMATS.values())
# Every marker is one format's alone: a marker two formats listed would name neither.
assert len({m for r in _FORMAT_LIST for m in r.markers}) == sum(
    len(r.markers) for r in _FORMAT_LIST
), "a marker is one format's alone"
# The markers by their usage key: (format, inner key, or "" for the key itself). Detection
# looks the block's few keys up here (a batch detects every line) rather than testing each of
# the ~30 markers.
_BY_KEY: dict[str, list[tuple[Format, str]]] = {}
for _reader in _FORMAT_LIST:
    for _marker in _reader.markers:
        _BY_KEY.setdefault(_marker[0], []).append((_reader, "".join(_marker[1:])))
_MARKER_KEYS = frozenset(_BY_KEY)
# Whole bodies whose usage block is not under `usage` (tried first, by that key).
_OWN_USAGE_KEYS = tuple(reader for reader in _FORMAT_LIST if reader.usage_key != "usage")
# What a whole body says of itself, beside its usage block.
_BODY_KINDS = {kind: reader for reader in _FORMAT_LIST for kind in reader.kinds}
# The shape every OpenAI-compatible API shares, when no marker names another format.
_CHAT = FORMATS[UsageFormat.OPENAI_CHAT]
_EMBEDDINGS = FORMATS[UsageFormat.OPENAI_EMBEDDINGS]
# `input_tokens` and `output_tokens` alone name no format: these use them, told apart only by
# their other keys or by the body's kind.
_SHARED_KEYS = frozenset({"input_tokens", "output_tokens"})
# Chat Completions' keys, which every OpenAI-compatible API shares (DeepSeek, xAI, embeddings:
# the formats of _PROMPT_FAMILY): beside another format's marker they name no single format.
_CHAT_KEYS = frozenset(
    {"prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"}
)
_PROMPT_FAMILY = frozenset(
    {
        UsageFormat.OPENAI_CHAT,
        UsageFormat.OPENAI_EMBEDDINGS,
        UsageFormat.DEEPSEEK,
        UsageFormat.XAI,
        UsageFormat.GROQ,
    }
)
_SHARED_BY = (UsageFormat.ANTHROPIC, UsageFormat.OPENAI_RESPONSES, UsageFormat.OPENAI_SPEECH)


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
    reader = _named(format) if format is not None else _detect(usage, None)
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
    return _detect(usage, None).name


def _named(format: object) -> Format:
    reader = FORMATS.get(format) if isinstance(format, str) else None
    if reader is None:
        known = ", ".join(FORMATS)
        raise UsageError("format", f"unknown format {describe(format)}; one of: {known}")
    return reader


def _marked(usage: Mapping[str, Any]) -> list[Format]:
    """The formats whose markers the block has, in the registry's order."""
    found: list[Format] = []
    for key in _MARKER_KEYS.intersection(usage.keys()):
        for reader, inner in _BY_KEY[key]:
            if inner:
                value = usage[key]
                if not ((type(value) is dict or isinstance(value, Mapping)) and inner in value):
                    continue
            if reader not in found:
                found.append(reader)
    if len(found) > 1:
        found.sort(key=_FORMAT_LIST.index)
    return found


def _detect(usage: Mapping[str, Any], body: Mapping[str, Any] | None) -> Format:
    found = _marked(usage)
    keys = usage.keys()
    chat_family = not keys.isdisjoint(_CHAT_KEYS)
    if chat_family and any(reader.name not in _PROMPT_FAMILY for reader in found):
        found.append(_CHAT)  # two families' keys: neither format alone
    if len(found) == 1:
        return found[0]
    kind = None if body is None else _body_kind(body)
    if kind is not None and (not found or kind in found):
        return kind
    if found:
        raise _ambiguous([reader.name for reader in found])
    if chat_family:
        # `prompt_tokens` alone (no completion, no details) is an embedding's usage.
        return _CHAT if len(keys & _CHAT_KEYS) > 1 or "prompt_tokens" not in keys else _EMBEDDINGS
    if not keys.isdisjoint(_SHARED_KEYS):
        raise _ambiguous(list(_SHARED_BY))
    listed = sorted(str(key)[:40] for key in usage)
    seen = ", ".join(listed[:12]) + (f" and {len(listed) - 12} more" if len(listed) > 12 else "")
    known = ", ".join(FORMATS)
    raise UsageError(
        "format", f"no known format has these usage keys ({seen or 'none'}); one of: {known}"
    )


def _detect_response(body: Mapping[str, Any], path: str) -> Format:
    for reader in _OWN_USAGE_KEYS:
        if reader.usage_key in body:
            return reader
    usage = body.get("usage")
    if not (type(usage) is dict or isinstance(usage, Mapping)):
        # Let a body that names its kind report its own missing or malformed usage.
        kind = _body_kind(body)
        if kind is not None:
            return kind
        raise UsageError(
            field_path(path, "usage"),
            "is required: the response has no usage block (nor Gemini's usageMetadata)",
        )
    return _detect(usage, body)


def _body_kind(body: Mapping[str, Any]) -> Format | None:
    for (key, value), reader in _BODY_KINDS.items():
        if body.get(key) == value:
            return reader
    return None


def _ambiguous(names: list[str]) -> UsageError:
    return UsageError(
        "format", f"the usage keys fit more than one format ({', '.join(names)}): give `format`"
    )

"""What every format reader shares: strict readers of counts, objects and lists, and their errors.

A count is a JSON integer >= 0: never a bool (`true` is not 1), never a float (not even 12.0:
flat counts in `POST /api/cost` refuse floats too, and a provider never sends one, so a float
means a client or a hand edit changed the body), never a string. Durations are the exception
(optional_seconds): OpenAI's transcription usage states `"seconds"` as a JSON number. `null` is
absent: OpenAI sends `"prompt_tokens_details": null`, Gemini (proto3 JSON) leaves zero counts
out altogether.

Readers take the field's path as separate parts (`count(details, "cached_tokens", path,
"prompt_tokens_details")`) and join them only to build an error: the valid path (~100,000 reads
a second in a batch) builds no strings. For the same reason objects are tested with
`type(value) is dict` first: parsed JSON is dicts, and an ABC isinstance costs ~0.3 µs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from ratecard.costing.usage import MAX_QUANTITY, ReadUsage, StatedUplift, Usage, UsageError

__all__ = [
    "EMPTY",
    "count",
    "count_or_none",
    "describe",
    "field_path",
    "model_name",
    "new_read",
    "new_usage",
    "object_at",
    "objects_at",
    "optional_count",
    "optional_seconds",
    "parts_overflow",
    "tier",
    "total_note",
    "usage_block",
]

EMPTY: Mapping[str, Any] = MappingProxyType({})


def field_path(*parts: str) -> str:
    """The JSON path as the user sent it (`usage.prompt_tokens_details.cached_tokens`)."""
    return ".".join(part for part in parts if part)


def describe(value: Any) -> str:
    """A short, safe description of a bad value: never a long string echoed back."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= 24 else "a number"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else "a long string"
    if type(value) is dict or isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _bad_count(block: Mapping[str, Any], key: str, path: tuple[str, ...]) -> UsageError:
    name = field_path(*path, key)
    if key not in block:
        return UsageError(name, "is required")
    value = block[key]
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return UsageError(name, f"must be a whole number written without a fraction, got {value!r}")
    if type(value) is int and value > MAX_QUANTITY:
        return UsageError(name, f"must be at most {MAX_QUANTITY}, got {describe(value)}")
    return UsageError(name, f"must be a non-negative integer, got {describe(value)}")


def count(block: Mapping[str, Any], key: str, *path: str) -> int:
    """A required count: missing, null or anything but an integer >= 0 is a UsageError."""
    value = block.get(key)
    # `type(...) is int` and not isinstance: it refuses bool (an int subclass) in the same test.
    if type(value) is int and 0 <= value <= MAX_QUANTITY:
        return value
    raise _bad_count(block, key, path)


def optional_count(block: Mapping[str, Any], key: str, *path: str) -> int:
    """A count that may be absent or null (then 0)."""
    value = block.get(key)
    if value is None:
        return 0
    if type(value) is int and 0 <= value <= MAX_QUANTITY:
        return value
    raise _bad_count(block, key, path)


def count_or_none(block: Mapping[str, Any], key: str, *path: str) -> int | None:
    """A count that may be absent or null (then None: a stated total the reader checks if given)."""
    value = block.get(key)
    if value is None:
        return None
    if type(value) is int and 0 <= value <= MAX_QUANTITY:
        return value
    raise _bad_count(block, key, path)


def optional_seconds(block: Mapping[str, Any], key: str, *path: str) -> int | Decimal:
    """A duration in seconds that may be absent or null (then 0): the one count providers send
    as a JSON number with a fraction (OpenAI's `usage.seconds` of a transcription). A float is
    taken by its shortest repr (12.5 is 12.5, never its binary expansion); a whole one is an int.
    """
    value = block.get(key)
    if value is None:
        return 0
    if type(value) is int and 0 <= value <= MAX_QUANTITY:
        return value
    if type(value) is float and 0 <= value <= MAX_QUANTITY:
        seconds = Decimal(repr(value))
        return int(seconds) if seconds == seconds.to_integral_value() else seconds
    raise UsageError(
        field_path(*path, key), f"must be a non-negative number of seconds, got {describe(value)}"
    )


def total_note(
    block: Mapping[str, Any], key: str, expected: int, parts: str, *path: str
) -> str | None:
    """A note when a stated total is not the sum of its parts (absent or null: not stated).

    Real providers send such totals (one counts tokens it does not itemize, a proxy re-counts
    them): the parts are what the provider bills by, so they are priced and the note says so.
    A total that is no count at all is still refused.
    """
    stated = block.get(key)
    if stated is None or (type(stated) is int and stated == expected):
        return None
    stated = count(block, key, *path)  # raises for anything but a count
    return f"{field_path(*path, key)} {stated} is not {parts} ({expected}): the parts are priced"


def object_at(block: Mapping[str, Any], key: str, *path: str) -> Mapping[str, Any]:
    """A nested object that may be absent or null (then EMPTY)."""
    value = block.get(key)
    if value is None:
        return EMPTY
    if type(value) is dict or isinstance(value, Mapping):
        return value
    raise UsageError(field_path(*path, key), f"must be an object, got {describe(value)}")


def usage_block(body: Mapping[str, Any], key: str, *path: str) -> Mapping[str, Any]:
    """A response's usage object: required (a response without one cannot be priced)."""
    value = body.get(key)
    if type(value) is dict or isinstance(value, Mapping):
        return value
    name = field_path(*path, key)
    if value is None:
        raise UsageError(name, "is required: the response has no usage block to price")
    raise UsageError(name, f"must be an object, got {describe(value)}")


def objects_at(block: Mapping[str, Any], key: str, *path: str) -> Sequence[Mapping[str, Any]]:
    """A list of objects that may be absent or null (then empty)."""
    value = block.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise UsageError(field_path(*path, key), f"must be a list, got {describe(value)}")
    for index, item in enumerate(value):
        if not (type(item) is dict or isinstance(item, Mapping)):
            name = f"{field_path(*path, key)}[{index}]"
            raise UsageError(name, f"must be an object, got {describe(item)}")
    return value


def parts_overflow(parts: Mapping[str, int], total_name: str, total: int, *path: str) -> UsageError:
    """The error for details that add up to more than their total.

    One detail larger than the total is named itself; several that only together exceed it
    are named by the object that holds them (`path`).
    """
    for name, value in parts.items():
        if value > total:
            return UsageError(
                field_path(*path, name), f"{value} is more than {total_name} ({total})"
            )
    listed = " + ".join(parts)
    return UsageError(
        field_path(*path),
        f"{listed} = {sum(parts.values())} is more than {total_name} ({total}), which has them",
    )


def tier(value: Any, tiers: Mapping[str, str], *path: str) -> str | None:
    """The service tier a body states, in our names; None when it states none."""
    if value is None:
        return None
    if isinstance(value, str) and value in tiers:
        return tiers[value]
    known = ", ".join(sorted(tiers))
    raise UsageError(field_path(*path), f"unknown service tier {describe(value)}; one of: {known}")


def model_name(body: Mapping[str, Any], key: str, *path: str) -> str | None:
    """The model a body names, or None when it names none."""
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value
    raise UsageError(field_path(*path, key), f"must be a string, got {describe(value)}")


# --- building what the readers return ---------------------------------------------------------
# As the tuples they are: a compiled call with keywords binds them in C, where the NamedTuples'
# own __new__ binds them in Python (~0.4 µs for Usage's 19 fields, per line of a batch).
# tests/costing/formats/test_counts_build.py checks them against the constructors, field by field.


def new_usage(
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
    reasoning_tokens: int = 0,
    audio_input_tokens: int = 0,
    audio_output_tokens: int = 0,
    image_input_tokens: int = 0,
    image_output_tokens: int = 0,
    seconds: int | Decimal = 0,
    pages: int = 0,
    annotation_pages: int = 0,
    queries: int = 0,
    web_search_calls: int = 0,
) -> Usage:
    """Usage(...) of the quantities a usage block counts (its other fields 0)."""
    fields = (
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        reasoning_tokens,
        audio_input_tokens,
        audio_output_tokens,
        image_input_tokens,
        image_output_tokens,
        0,  # images_in
        0,  # images_out
        0,  # pixels
        seconds,
        0,  # characters
        pages,
        annotation_pages,
        queries,
        web_search_calls,
        0,  # requests
    )
    return tuple.__new__(Usage, fields)


def new_read(
    usage: Usage,
    format: str,
    model: str | None = None,
    service_tier: str | None = None,
    unpriced: Mapping[str, int] | None = None,
    notes: tuple[str, ...] = (),
    uplifts: tuple[StatedUplift, ...] = (),
) -> ReadUsage:
    """ReadUsage(...), built as new_usage() builds a Usage."""
    return tuple.__new__(ReadUsage, (usage, format, model, service_tier, unpriced, notes, uplifts))

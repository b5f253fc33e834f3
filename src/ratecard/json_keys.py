"""Which key a JSON text names twice in one object, for the 422 that names it.

`json` and orjson silently keep the last value of `{"input_tokens": 1, "input_tokens": 10**9}`,
and parsers disagree on which one wins: a proxy that checked one value must not see us act on
the other. The API's JSON bodies and every batch line are checked by this one function (the
feed loader keeps its own hook: it records the duplicates of every entry, not the first).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from ratecard.errors import ValidationFailed

__all__ = ["first_key_twice", "key_text", "refuse_key_given_twice"]


def first_key_twice(raw: bytes | str) -> str | None:
    """The first key some object of `raw` (already known to be JSON) names twice, or None."""
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) != len(items) and not found:
            seen: set[str] = set()
            for key, _value in items:
                if key in seen:
                    found.append(key)
                    break
                seen.add(key)
        return obj

    # Nested deeper than the standard parser goes: whoever parsed it first refuses it anyway.
    with contextlib.suppress(ValueError, RecursionError):
        json.loads(raw, object_pairs_hook=pairs)
    return found[0] if found else None


def refuse_key_given_twice(raw: bytes | str) -> None:
    """A 422 naming a key some object of the (parsed) text gives twice: the API's bodies, and
    the in-process client's bodies given as text (ratecard.client)."""
    twice = first_key_twice(raw)
    if twice is not None:
        shown = key_text(twice)
        raise ValidationFailed(f"{shown}: given twice", field=shown)


def key_text(key: str) -> str:
    """A key as an error names it: a key may be most of a megabyte, so it is cut, not echoed."""
    return key if len(key) <= 100 else key[:99] + "…"

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

__all__ = ["first_key_twice"]


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

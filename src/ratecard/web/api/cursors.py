"""Cursors of the model listing: the sort's total order and opaque, tamper-checked positions."""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

from ratecard.catalog.snapshot import ServedModel
from ratecard.errors import ValidationFailed


def sort_key(served: ServedModel, sort: str) -> tuple[Any, ...]:
    """Return the total-order key of `sort` (ties broken by id, then source)."""
    price = served.price
    field_name = sort.lstrip("-")
    tail = (price.model_id, price.source)
    if field_name == "id":
        return tail
    if field_name == "provider":
        return (price.provider or "", *tail)
    value = price.input_per_token if field_name == "input_price" else price.output_per_token
    # Unpriced last in both directions; descending negates the price, not the tie-breakers.
    if value is None:
        return (1, Decimal(0), *tail)
    return (0, -value if sort.startswith("-") else value, *tail)


def sorted_models(models: list[ServedModel], sort: str) -> list[ServedModel]:
    """Sort models for `sort`; text sorts descend by reversing the whole order."""
    reverse = sort.startswith("-") and sort.lstrip("-") in ("id", "provider")
    return sorted(models, key=lambda m: sort_key(m, sort), reverse=reverse)


def encode_cursor(sort: str, key: tuple[Any, ...]) -> str:
    """Return an opaque cursor: the sort and the last item's key (decimals as text)."""
    parts = [{"d": str(part)} if isinstance(part, Decimal) else part for part in key]
    raw = json.dumps({"s": sort, "k": parts}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, ...]:
    """Return the key a cursor carries; any tampering is a 422 naming `cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if data["s"] != sort:
            raise ValueError("sort changed")
        key = tuple(Decimal(p["d"]) if isinstance(p, dict) else p for p in data["k"])
        if not all(isinstance(p, str | int | Decimal) for p in key) or not key:
            raise ValueError("bad key")
        # Only finite decimals: NaN, sNaN and Infinity parse, but comparing a signalling NaN
        # raises InvalidOperation mid-listing (a 500), and no price we issue is ever one.
        if any(isinstance(p, Decimal) and not p.is_finite() for p in key):
            raise ValueError("not a finite decimal")
        return key
    except (ValueError, KeyError, TypeError, binascii.Error, ArithmeticError):
        raise ValidationFailed(
            "cursor: not a cursor this listing issued (with this sort)", field="cursor"
        ) from None


def cursor_position(items: list[ServedModel], sort: str, cursor: str) -> int:
    """Return the index of the first item after the one `cursor` names (422 if tampered)."""
    key = decode_cursor(cursor, sort)
    reverse = sort.startswith("-") and sort.lstrip("-") in ("id", "provider")
    try:
        for index, served in enumerate(items):
            item_key = sort_key(served, sort)
            if (item_key < key) if reverse else (item_key > key):
                return index
    except TypeError:
        raise ValidationFailed("cursor: does not match this sort", field="cursor") from None
    return len(items)

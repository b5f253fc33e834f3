"""Exact money arithmetic: the one Decimal context, exact decimal text, per-million scaling.

Prices are USD per unit as Decimals, never binary floats; every product, sum and rendering
goes through here so that no path rounds silently.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

# Wide enough that tokens (< 10^15) x a price (<= 10^6, at most ~60 significant digits) and
# the sum of a few such products never round; Inexact is trapped so that if it ever would,
# the arithmetic raises instead of silently returning a rounded amount.
EXACT = decimal.Context(
    prec=200,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.Inexact],
)


def decimal_text(value: Decimal) -> str:
    """Render a Decimal exactly, without exponent and without trailing zeros: 0.0000025."""
    if not value:
        return "0"
    # str() is the fast form (~2x format's), but writes an exponent for very small or large
    # values ("1E-7"): those take format(), which never does.
    text = str(value)
    if "E" in text or "e" in text:
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def per_million(value: Decimal) -> str:
    """Return the price of a million units as exact decimal text (scaleb shifts the exponent)."""
    return decimal_text(value.scaleb(6, context=EXACT))

"""Pure formatting for the dashboard: prices per million tokens and durations."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any

from ratecard.catalog.model import PRICE_FIELDS
from ratecard.catalog.money import per_million as money_per_million

# The per-token prices, with the short labels the dashboard shows.
PRICE_LABELS = {f.name: f.label for f in PRICE_FIELDS if f.unit == "token"}


def per_million(per_token: Decimal | str | None) -> str | None:
    """Return a per-token price as exact decimal text per million tokens (None stays None)."""
    if per_token is None:
        return None
    try:
        value = Decimal(per_token)
    except (InvalidOperation, TypeError, ValueError):
        return None
    if not value.is_finite():
        return None
    return money_per_million(value)


# Digits a price is shown with: enough for every real price (0.2574, 1.0287, 0.000035), short
# of the float artefacts some feeds carry (LiteLLM's 2.9999900000000002e-06 is 2.99999 per M).
SHOWN_DIGITS = 8
_SHOWN = Context(prec=SHOWN_DIGITS, rounding=ROUND_HALF_EVEN)


def shown_price(exact: str | None) -> str | None:
    """A price as people read it: at most SHOWN_DIGITS significant digits, no exponent. The
    exact text stays in the API and on hover (see the `price` template filter)."""
    if exact is None:
        return None
    try:
        value = Decimal(exact)
    except InvalidOperation:
        return exact
    if not value.is_finite():
        return exact
    return f"{_SHOWN.plus(value).normalize():f}"


def snapshot_per_million(snapshot: Mapping[str, Any] | None, field: str) -> str | None:
    """Return one price of a history/held snapshot per million tokens."""
    if not snapshot:
        return None
    return per_million(snapshot.get(field))


def duration_words(seconds: float | None) -> str:
    """Return a short human duration: 0.42 s, 12 s, 3 min, 2 h 5 min."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"

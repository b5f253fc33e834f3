"""The normalized price record every source is turned into (exact Decimals, never floats).

This is the contract between ingestion (sources -> normalize -> guard) and storage/serving
(store, cache, API, cost). Snapshots (`to_snapshot`) are what history rows and held changes
store: JSON with every price as a decimal string, so they round-trip exactly.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

PriceStatus = Literal["priced", "free", "dynamic", "unpriced"]
STATUSES: tuple[PriceStatus, ...] = ("priced", "free", "dynamic", "unpriced")

# The four per-token prices every model may have, in this order everywhere.
TOKEN_PRICE_FIELDS = (
    "input_per_token",
    "output_per_token",
    "cache_read_per_token",
    "cache_write_per_token",
)


@dataclass(frozen=True)
class Tier:
    """Per-token prices that replace the base ones when prompt tokens exceed `above_tokens`."""

    above_tokens: int
    input_per_token: Decimal | None = None
    output_per_token: Decimal | None = None
    cache_read_per_token: Decimal | None = None
    cache_write_per_token: Decimal | None = None

    def to_snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {"above_tokens": self.above_tokens}
        for name in TOKEN_PRICE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = decimal_text(value)
        return out

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> Tier:
        return cls(
            above_tokens=int(data["above_tokens"]),
            **{n: Decimal(data[n]) for n in TOKEN_PRICE_FIELDS if data.get(n) is not None},
        )


@dataclass(frozen=True)
class ModelPrice:
    """One model of one source, normalized. Prices are USD per unit (token, request, ...)."""

    source: str
    model_id: str
    status: PriceStatus
    provider: str | None = None
    mode: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    input_per_token: Decimal | None = None
    output_per_token: Decimal | None = None
    cache_read_per_token: Decimal | None = None
    cache_write_per_token: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    # Other priced units the source gives: per_request, per_image, per_second, web_search...
    units: Mapping[str, Decimal] = field(default_factory=dict)

    def to_snapshot(self) -> dict[str, Any]:
        """The prices (not the descriptive fields) as JSON-safe decimal strings."""
        out: dict[str, Any] = {"status": self.status}
        for name in TOKEN_PRICE_FIELDS:
            value = getattr(self, name)
            out[name] = None if value is None else decimal_text(value)
        out["tiers"] = [tier.to_snapshot() for tier in self.tiers]
        out["units"] = {k: decimal_text(v) for k, v in sorted(self.units.items())}
        return out

    def same_prices(self, other: ModelPrice) -> bool:
        """Whether the served prices are identical (descriptive fields ignored)."""
        return self.to_snapshot() == other.to_snapshot()


def decimal_text(value: Decimal) -> str:
    """Render a Decimal exactly, without exponent and without trailing zeros: 0.0000025."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def flat_prices(snapshot: Mapping[str, Any]) -> dict[str, Decimal]:
    """Return every price of a snapshot under one flat name each.

    `input_per_token`, `tiers[>200000].output_per_token`, `units.input_per_image`: the names
    held changes use to say which price moved.
    """
    out: dict[str, Decimal] = {}
    for name in TOKEN_PRICE_FIELDS:
        value = snapshot.get(name)
        if value is not None:
            out[name] = Decimal(value)
    for tier in snapshot.get("tiers") or ():
        for name in TOKEN_PRICE_FIELDS:
            value = tier.get(name)
            if value is not None:
                out[f"tiers[>{tier['above_tokens']}].{name}"] = Decimal(value)
    for unit, value in (snapshot.get("units") or {}).items():
        out[f"units.{unit}"] = Decimal(value)
    return out


# For showing a factor only (x42.5); decisions compare exact products, never this.
_DISPLAY = decimal.Context(prec=6)


def price_moves(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """List every stored price that differs between two snapshots: field, old, new, factor.

    `factor` is new/old (6 significant digits, for reading; decisions use exact products),
    None when either side is absent or the old price is zero.
    """
    before = flat_prices(old or {})
    after = flat_prices(new or {})
    moves = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        factor = None
        if was is not None and now is not None and was != 0:
            factor = f"{_DISPLAY.divide(now, was).normalize():f}"
        moves.append(
            {
                "field": name,
                "old": None if was is None else decimal_text(was),
                "new": None if now is None else decimal_text(now),
                "factor": factor,
            }
        )
    return moves

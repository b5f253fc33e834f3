"""Decide what of a parsed feed may be served: quarantine broken feeds, hold wild prices.

Pure: it compares what is served now with what the feed says and returns a decision; the
store applies it. Two failure modes of real feeds drive it:

- A feed that suddenly lists far fewer models is almost always broken (a partial export, an
  error page that happens to be JSON), not a mass retirement: past `max_removed_fraction`
  of the source's current models, the whole feed is quarantined and nothing is applied.
- A single price that moves by `hold_factor` (100x) or more, up or down, or from paid to
  zero, is far more often a unit error (per 1K vs per token) than a real change: the old
  price stays served and the change is held until the next fetch proposes the very same
  prices again (confirmation) or an admin accepts it.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ratecard.prices.feeds.parsing import ParsedFeed
from ratecard.prices.model import TOKEN_PRICE_FIELDS, ModelPrice
from ratecard.prices.money import EXACT, decimal_text
from ratecard.vocabulary import UNCHARGEABLE_STATUSES

# Statuses whose prices are not numbers one can compare a factor against.
_NOT_COMPARABLE = UNCHARGEABLE_STATUSES
# For showing a factor only (42.5x); decisions compare exact products, never this.
_DISPLAY = decimal.Context(prec=6)


@dataclass
class HeldChange:
    """A suspicious new price for one model: `old` stays served, `proposed` waits."""

    model_id: str
    old: ModelPrice
    proposed: ModelPrice
    factor: Decimal | None  # proposed / old for the price that moved most; None for paid -> 0
    reason: str


@dataclass
class GuardDecision:
    """What to write for one source: upserts, removals, and what was held back."""

    quarantined: bool
    quarantine_reason: str | None
    upserts: dict[str, ModelPrice] = field(default_factory=dict)
    removals: list[str] = field(default_factory=list)
    held: list[HeldChange] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    added: int = 0
    changed: int = 0  # models whose prices changed and are applied (confirmed ones included)
    removed: int = 0
    described: int = 0  # models whose descriptive fields only changed (prices identical)


def guard_feed(
    current: Mapping[str, ModelPrice],
    incoming: ParsedFeed,
    pending: Mapping[str, ModelPrice],
    *,
    max_removed_fraction: float = 0.30,
    hold_factor: Decimal | float = Decimal(100),
) -> GuardDecision:
    """Compare a parsed feed with the models served now for its source; decide what to apply.

    `current`: models served now for the source; `pending`: the proposed prices of changes
    held by an earlier run, by model id. The first load (nothing current) applies everything.
    """
    factor = Decimal(str(hold_factor))
    if factor <= 1:
        raise ValueError("hold_factor must be greater than 1")
    removals = sorted(model_id for model_id in current if model_id not in incoming.models)
    if current and len(removals) > max_removed_fraction * len(current):
        return GuardDecision(
            quarantined=True,
            quarantine_reason=(
                f"feed would remove {len(removals)} of {len(current)} models "
                f"({len(removals) / len(current):.0%}), more than the "
                f"{max_removed_fraction:.0%} allowed"
            ),
        )
    decision = GuardDecision(
        quarantined=False,
        quarantine_reason=None,
        removals=removals,
        removed=len(removals),
    )
    for model_id, proposed in incoming.models.items():
        old = current.get(model_id)
        if old is None:
            decision.upserts[model_id] = proposed
            decision.added += 1
            continue
        if old == proposed:
            continue
        if old.same_prices(proposed):
            decision.upserts[model_id] = proposed
            decision.described += 1
            continue
        suspicion = suspicious_change(old, proposed, factor)
        if suspicion is None:
            decision.upserts[model_id] = proposed
            decision.changed += 1
            continue
        earlier = pending.get(model_id)
        if earlier is not None and earlier.same_prices(proposed):
            # Second sighting of the same prices: two independent fetches agree, so this is
            # the feed's real value rather than a one-off glitch.
            decision.upserts[model_id] = proposed
            decision.confirmed.append(model_id)
            decision.changed += 1
            continue
        moved_by, reason = suspicion
        decision.held.append(HeldChange(model_id, old, proposed, moved_by, reason))
    return decision


def suspicious_change(
    old: ModelPrice, new: ModelPrice, hold_factor: Decimal
) -> tuple[Decimal | None, str] | None:
    """Return (factor, reason) if a per-token price moved by >= hold_factor or paid -> 0.

    Changes to or from dynamic/unpriced, and prices that appear or disappear, are not
    factor changes (there is no number on one side) and are never held.
    """
    if old.status in _NOT_COMPARABLE or new.status in _NOT_COMPARABLE:
        return None
    worst: tuple[Decimal, Decimal, str] | None = None  # (spread, ratio, reason)
    for name in TOKEN_PRICE_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if before is None or after is None or before == after:
            continue
        if before > 0 and after == 0:
            return None, f"{name} went from {decimal_text(before)} to 0 (paid to free)"
        if before == 0:
            continue  # free -> paid has no factor; a new price, not a unit error
        # Exact products, no division: moved up by >= f  <=>  after >= before * f.
        up = after >= EXACT.multiply(before, hold_factor)
        down = before >= EXACT.multiply(after, hold_factor)
        if not (up or down):
            continue
        ratio = _DISPLAY.divide(after, before)
        spread = ratio if up else _DISPLAY.divide(before, after)
        if worst is None or spread > worst[0]:
            shown = f"{ratio.normalize():f}"
            reason = f"{name} moved x{shown} ({decimal_text(before)} -> {decimal_text(after)})"
            worst = (spread, ratio, reason)
    if worst is None:
        return None
    return worst[1], worst[2]

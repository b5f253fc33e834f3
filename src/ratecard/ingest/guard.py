"""Decide what of a parsed feed may be served: quarantine broken feeds, hold wild prices.

Pure: it compares what is served now with what the feed says and returns a decision; the
store applies it. Two failure modes of real feeds drive it:

- A feed that suddenly lists far fewer models is almost always broken (a partial export, an
  error page that happens to be JSON), not a mass retirement: past `max_removed_fraction`
  of the source's current models, the whole feed is quarantined and nothing is applied.
- A single price that moves by `hold_factor` (100x) or more, up or down, from paid to
  zero, or disappears, is far more often a unit error (per 1K vs per token) or a broken
  export than a real change: the old price stays served and the change is held until the
  next fetch proposes the very same prices again (confirmation) or an admin accepts it.
  Every stored price counts: base, tiers, cache variants and per-unit prices.

And one rule keeps a single bad value from removing anything: an entry the parser rejected
is not a removal. The model keeps its last good prices, marked stale with the reason
(`GuardDecision.stale`); a model is removed only when a feed accepted as a whole no longer
lists it. Likewise a dropped secondary field keeps its last good value.
"""

from __future__ import annotations

import dataclasses
import decimal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ratecard.catalog.codec import price_moves, to_snapshot
from ratecard.catalog.model import DESCRIPTIVE_FIELDS, ModelPrice
from ratecard.catalog.money import EXACT
from ratecard.ingest.feeds.parsing import DroppedField, ParsedFeed
from ratecard.vocabulary import UNCHARGEABLE_STATUSES, PriceStatus

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
    # Served models whose entry the feed got wrong this time: kept as they are, with why.
    stale: dict[str, str] = field(default_factory=dict)
    # Models the feed read cleanly (a stale mark on them is lifted).
    listed: frozenset[str] = frozenset()
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
    # A rejected entry is a bad value, not a retirement. Timeline it prevents: a feed ships
    # `"input_cost_per_token": "abc"` for gpt-4o; the parser rejects the entry; without this,
    # gpt-4o is "no longer listed", gets removed, and every cost request for it fails until
    # upstream fixes the typo. With it, gpt-4o stays served at its last good prices, marked.
    rejected = {r.model_id: r.reason for r in incoming.rejected}
    stale = {model_id: rejected[model_id] for model_id in current if model_id in rejected}
    removals = sorted(
        model_id
        for model_id in current
        if model_id not in incoming.models and model_id not in rejected
    )
    # Garbage in many entries is a broken feed as surely as a short one: both count.
    lost = len(removals) + len(stale)
    if current and lost > max_removed_fraction * len(current):
        return GuardDecision(
            quarantined=True,
            quarantine_reason=(
                f"feed would remove {len(removals)}"
                + (f" and reject {len(stale)}" if stale else "")
                + f" of {len(current)} models ({lost / len(current):.0%}), more than the "
                f"{max_removed_fraction:.0%} allowed"
            ),
        )
    decision = GuardDecision(
        quarantined=False,
        quarantine_reason=None,
        removals=removals,
        removed=len(removals),
        stale=stale,
        listed=frozenset(incoming.models),
    )
    dropped = _dropped_by_model(incoming.dropped)
    for model_id, proposed in incoming.models.items():
        old = current.get(model_id)
        if old is not None and model_id in dropped:
            proposed = keep_last_good(old, proposed, dropped[model_id])
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


def _dropped_by_model(dropped: Iterable[DroppedField]) -> dict[str, set[str]]:
    by_model: dict[str, set[str]] = {}
    for drop in dropped:
        by_model.setdefault(drop.model_id, set()).add(drop.field)
    return by_model


def keep_last_good(old: ModelPrice, proposed: ModelPrice, fields: Iterable[str]) -> ModelPrice:
    """Return `proposed` with the dropped `fields` (units or descriptive) at their old values.

    A field the feed got wrong this time (`max_tokens: "128k"`) is not a field that went
    away: serving the old value keeps one bad value from changing what is served.
    """
    units = dict(proposed.units)
    descriptive: dict[str, Any] = {}
    for name in fields:
        if name in DESCRIPTIVE_FIELDS:
            descriptive[name] = getattr(old, name)
        elif name in old.units:
            units[name] = old.units[name]
        elif name.startswith(("variants.", "tiers[", "uplifts.")):
            # A bad price inside a variant, a tier or an uplift keeps that whole part as it
            # was: one wrong value never half-updates a service tier's or a tier's prices.
            part = name.split(".", 1)[0] if not name.startswith("tiers[") else "tiers"
            descriptive[part] = getattr(old, part)
    kept = dataclasses.replace(proposed, units=units, **descriptive)
    if kept.status in (PriceStatus.FREE, PriceStatus.UNPRICED) and any(
        v != 0 for v in units.values()
    ):
        kept = dataclasses.replace(kept, status=PriceStatus.PRICED)
    return kept


def suspicious_change(
    old: ModelPrice, new: ModelPrice, hold_factor: Decimal
) -> tuple[Decimal | None, str] | None:
    """Return (factor, reason) if any stored price moved by >= hold_factor, to 0, or away.

    Every price counts (base, tiers, cache variants, units). A change from dynamic/unpriced
    or to dynamic has no number on one side and is never held; prices that appear are new
    prices, not unit errors. `factor` is proposed/old for the price that moved most, None
    when the only suspicious moves are to zero or away.
    """
    if old.status in _NOT_COMPARABLE or new.status == PriceStatus.DYNAMIC:
        return None
    moves = [m for m in price_moves(to_snapshot(old), to_snapshot(new)) if m["old"] is not None]
    worst: tuple[Decimal, Decimal] | None = None  # (spread, ratio)
    reasons: list[str] = []
    for move in moves:
        name = move["field"]
        before = Decimal(move["old"])
        if move["new"] is None:
            reasons.append(f"{name} disappeared (was {move['old']})")
            continue
        after = Decimal(move["new"])
        if before > 0 and after == 0:
            reasons.append(f"{name} went from {move['old']} to 0 (paid to free)")
            continue
        if before == 0:
            continue  # free -> paid has no factor; a new price, not a unit error
        # Exact products, no division: moved up by >= f  <=>  after >= before * f.
        up = after >= EXACT.multiply(before, hold_factor)
        down = before >= EXACT.multiply(after, hold_factor)
        if not (up or down):
            continue
        ratio = _DISPLAY.divide(after, before)
        spread = ratio if up else _DISPLAY.divide(before, after)
        reasons.append(f"{name} moved x{ratio.normalize():f} ({move['old']} -> {move['new']})")
        if worst is None or spread > worst[0]:
            worst = (spread, ratio)
    if not reasons:
        return None
    return (None if worst is None else worst[1]), "; ".join(reasons)

"""Pure slot arithmetic: which period an instant falls in, when the next one starts.

Slot k covers [k * interval, (k + 1) * interval) in epoch seconds, so every instance of the
fleet computes the same slot for the same instant without talking to anyone (clocks are kept
within a second by NTP; the store's fence, not the clock, decides who commits).
"""

from __future__ import annotations

import math
from datetime import datetime

from ratecard.vocabulary import Trigger

# A failed run (no slot committed) is retried after interval / RETRY_DIVISOR, within bounds:
# quick enough that a transient feed outage costs minutes, slow enough that a fleet does not
# hammer a broken feed every poll.
RETRY_DIVISOR = 12
MIN_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 900.0


def slot_of(epoch: float, interval: float) -> int:
    """Return the slot containing the instant `epoch`."""
    if interval <= 0:
        raise ValueError(f"interval must be positive, got {interval!r}")
    quotient = epoch / interval
    nearest = round(quotient)
    # Float division lands a hair off exact boundaries (0.3 / 0.1 == 2.9999999999999996);
    # within a few units of float precision the instant is on the boundary: it starts a slot.
    if abs(quotient - nearest) <= 4 * math.ulp(quotient):
        return int(nearest)
    return math.floor(quotient)


def slot_start(slot: int, interval: float) -> float:
    """Return the epoch second at which `slot` begins."""
    return slot * interval


def next_boundary(epoch: float, interval: float) -> float:
    """Return the start of the slot after the one containing `epoch`."""
    return slot_start(slot_of(epoch, interval) + 1, interval)


def seconds_until_next(epoch: float, interval: float) -> float:
    """Return how long until the next slot begins (0 < result <= interval)."""
    return next_boundary(epoch, interval) - epoch


def due(last_slot: int | None, epoch: float, interval: float) -> bool:
    """Return whether the slot containing `epoch` is still to be completed."""
    return (-1 if last_slot is None else last_slot) < slot_of(epoch, interval)


def missed_slots(last_slot: int | None, epoch: float, interval: float) -> int:
    """Return how many slots before the current one nobody completed (they coalesce)."""
    last = -1 if last_slot is None else last_slot
    current = slot_of(epoch, interval)
    if last < 0:
        return 0  # never ran: a first run, not a backlog
    return max(0, current - last - 1)


def trigger_for(last_slot: int | None, epoch: float, interval: float) -> str:
    """Name why the current slot runs: its own boundary, or catching up on missed ones."""
    last = -1 if last_slot is None else last_slot
    return Trigger.SCHEDULE if last == slot_of(epoch, interval) - 1 else Trigger.CATCH_UP


def next_due_at(last_slot: int | None, epoch: float, interval: float) -> float:
    """Return when the job is next due: now if the current slot is open, else the boundary."""
    if due(last_slot, epoch, interval):
        return epoch
    last = -1 if last_slot is None else last_slot
    return max(next_boundary(epoch, interval), slot_start(last + 1, interval))


def retry_delay(interval: float) -> float:
    """Return how long the fleet waits before retrying a slot whose run failed."""
    return min(max(interval / RETRY_DIVISOR, MIN_RETRY_SECONDS), MAX_RETRY_SECONDS)


def jittered(base: float, spread: float, unit_random: float) -> float:
    """Return base scaled by a factor in [1 - spread, 1 + spread] (unit_random in [0, 1))."""
    return base * (1.0 - spread + 2.0 * spread * unit_random)


def epoch_seconds(value: datetime | None) -> float | None:
    """Return a stored (aware) timestamp as epoch seconds, the unit status data speaks."""
    return None if value is None else value.timestamp()

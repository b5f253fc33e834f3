"""Slot arithmetic, as tables: every instance must compute the same slot for the same instant."""

from __future__ import annotations

import pytest

from ratecard.coordination.schedule import (
    due,
    jittered,
    missed_slots,
    next_boundary,
    next_due_at,
    retry_delay,
    seconds_until_next,
    slot_of,
    slot_start,
    trigger_for,
)


@pytest.mark.parametrize(
    ("epoch", "interval", "slot"),
    [
        (0.0, 10800, 0),
        (10799.999, 10800, 0),
        (10800.0, 10800, 1),
        (1_795_868_122.6, 10800, 166284),
        (0.3, 0.1, 3),  # 0.3 / 0.1 == 2.9999999999999996 in floats: still slot 3
        (0.7, 0.1, 7),
        (2.49, 0.5, 4),
        (2.5, 0.5, 5),
        (1_795_868_122.75, 0.25, 7_183_472_491),
        (-0.5, 1.0, -1),
    ],
)
def test_slot_of(epoch: float, interval: float, slot: int) -> None:
    assert slot_of(epoch, interval) == slot


@pytest.mark.parametrize("interval", [0.5, 0.1, 0.3, 1.7, 10800.0])
def test_slot_start_round_trips(interval: float) -> None:
    for k in (0, 1, 7, 12345, 7_183_472_491):
        assert slot_of(slot_start(k, interval), interval) == k
        assert slot_of(slot_start(k + 1, interval) - interval / 1000, interval) == k


@pytest.mark.parametrize(
    ("epoch", "interval", "boundary", "until"),
    [
        (0.0, 10.0, 10.0, 10.0),
        (9.5, 10.0, 10.0, 0.5),
        (10.0, 10.0, 20.0, 10.0),
        (1.2, 0.5, 1.5, 0.3),
    ],
)
def test_next_boundary(epoch: float, interval: float, boundary: float, until: float) -> None:
    assert next_boundary(epoch, interval) == pytest.approx(boundary)
    assert seconds_until_next(epoch, interval) == pytest.approx(until)


@pytest.mark.parametrize(
    ("last_slot", "epoch", "interval", "is_due", "missed", "trigger"),
    [
        (None, 100.0, 10.0, True, 0, "catch-up"),  # never ran: a fresh deploy runs at once
        (-1, 100.0, 10.0, True, 0, "catch-up"),
        (9, 100.0, 10.0, True, 0, "schedule"),  # the boundary of slot 10 just passed
        (10, 100.0, 10.0, False, 0, "catch-up"),  # already completed
        (11, 100.0, 10.0, False, 0, "catch-up"),  # a newer slot (clock skew): not due
        (5, 100.0, 10.0, True, 4, "catch-up"),  # 6..9 missed: they coalesce into slot 10
    ],
)
def test_due_missed_trigger(
    last_slot: int | None, epoch: float, interval: float, is_due: bool, missed: int, trigger: str
) -> None:
    assert due(last_slot, epoch, interval) is is_due
    assert missed_slots(last_slot, epoch, interval) == missed
    if is_due:
        assert trigger_for(last_slot, epoch, interval) == trigger


@pytest.mark.parametrize(
    ("last_slot", "epoch", "interval", "expected"),
    [
        (None, 100.0, 10.0, 100.0),  # due now
        (10, 101.0, 10.0, 110.0),  # completed: the next boundary
        (12, 101.0, 10.0, 130.0),  # completed ahead (skewed clock): after that slot
    ],
)
def test_next_due_at(last_slot: int | None, epoch: float, interval: float, expected: float) -> None:
    assert next_due_at(last_slot, epoch, interval) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("interval", "delay"), [(10800.0, 900.0), (120.0, 10.0), (1.0, 0.5), (0.5, 0.5)]
)
def test_retry_delay_is_bounded(interval: float, delay: float) -> None:
    assert retry_delay(interval) == pytest.approx(delay)


@pytest.mark.parametrize(("u", "expected"), [(0.0, 1.5), (0.5, 2.0), (0.999999, 2.5)])
def test_jittered_spreads_around_base(u: float, expected: float) -> None:
    assert jittered(2.0, 0.25, u) == pytest.approx(expected, abs=1e-5)


def test_nonpositive_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        slot_of(1.0, 0)

"""The retry schedule is a pure function: a table says when each retry comes, then the end."""

from __future__ import annotations

import pytest

from ratecard.changes.backoff import MAX_ATTEMPTS, RETRY_DELAYS, retry_delay


@pytest.mark.parametrize(
    ("failed_attempts", "max_attempts", "expected"),
    [
        (1, MAX_ATTEMPTS, 5),  # the first retry comes within 10 s (the contract)
        (2, MAX_ATTEMPTS, 30),
        (3, MAX_ATTEMPTS, 120),
        (4, MAX_ATTEMPTS, 600),
        (5, MAX_ATTEMPTS, 1800),
        (6, MAX_ATTEMPTS, 3600),
        (9, MAX_ATTEMPTS, 15 * 3600),
        (10, MAX_ATTEMPTS, None),  # the schedule is spent: dead-letter
        (11, MAX_ATTEMPTS, None),
        (1, 1, None),  # RATECARD_WEBHOOK_MAX_ATTEMPTS=1: no retry at all
        (1, 2, 5),
        (2, 2, None),
        (3, 99, 120),  # a larger maximum than the schedule is capped by the schedule
    ],
)
def test_retry_delay_table(failed_attempts: int, max_attempts: int, expected: float | None) -> None:
    assert retry_delay(failed_attempts, max_attempts) == expected


def test_the_schedule_grows_and_is_bounded_to_about_a_day() -> None:
    assert list(RETRY_DELAYS) == sorted(RETRY_DELAYS)
    assert RETRY_DELAYS[0] <= 10
    assert 24 * 3600 <= sum(RETRY_DELAYS) <= 30 * 3600


def test_zero_attempts_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="attempts"):
        retry_delay(0)

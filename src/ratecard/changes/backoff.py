"""When to retry a failed delivery: a fixed, growing schedule, then the dead-letter queue.

A pure function of the attempt number (arq's habit: next-run arithmetic without I/O, tested
with a table). The first retry comes 5 s after the first failure (the contract: within 10 s),
so a receiver that was restarting gets the message almost at once; later ones back off to
hours, so a receiver that is down for a day is not hammered. The whole schedule spans about
26 hours: a receiver fixed by the next working day still gets everything.
"""

from __future__ import annotations

# Seconds to wait after attempt n fails (index n - 1); after the last, the message is dead.
RETRY_DELAYS: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 15 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1  # the first attempt plus one per delay


def retry_delay(attempts: int, max_attempts: int = MAX_ATTEMPTS) -> float | None:
    """Return seconds until the next attempt after `attempts` failed ones, or None: dead-letter."""
    if attempts < 1:
        raise ValueError(f"attempts counts failed attempts (>= 1), got {attempts}")
    if attempts >= min(max_attempts, MAX_ATTEMPTS):
        return None
    return RETRY_DELAYS[attempts - 1]

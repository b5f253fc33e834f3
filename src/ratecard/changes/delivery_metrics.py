"""Webhook metrics: the outbox backlog (pending, failing, dead) and attempts by outcome.

The backlog gauges are counted from the database by every instance's delivery loop (the
holder after each pass, the others every few seconds), so any instance's /metrics shows the
fleet's backlog; `mostrecent`, because the newest count is the true one whichever worker
made it. prometheus_client is imported on first use, as in ratecard.metrics.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge

BACKLOG_NAME = "ratecard_webhook_deliveries"


@dataclass(frozen=True)
class _Families:
    backlog: Gauge
    attempts: Counter


_families: _Families | None = None
_lock = threading.Lock()


def _metrics() -> _Families:
    global _families
    if _families is None:
        with _lock:
            if _families is None:
                from prometheus_client import Counter, Gauge

                _families = _Families(
                    backlog=Gauge(
                        BACKLOG_NAME,
                        "Webhook messages in the outbox: pending (all not yet delivered), "
                        "failing (pending after a failed attempt), dead (dead-lettered).",
                        ["state"],
                        multiprocess_mode="mostrecent",
                    ),
                    attempts=Counter(
                        "ratecard_webhook_attempts_total",
                        "Webhook delivery attempts by outcome (delivered, retry, dead, stale).",
                        ["outcome"],
                    ),
                )
    return _families


def families_ready() -> None:
    """Create the families now, so /metrics lists them before the first delivery."""
    _metrics()


def set_backlog(counts: dict[str, int]) -> None:
    """Record the outbox counts (keys pending, failing, dead)."""
    families = _metrics()
    for state, count in counts.items():
        families.backlog.labels(state).set(count)


def count_attempt(outcome: str) -> None:
    """Count one settled attempt."""
    _metrics().attempts.labels(outcome).inc()

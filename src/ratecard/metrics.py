"""Prometheus metrics. (Issue 5 fills this in; the recording functions' names are fixed.)"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Expose /metrics and count requests."""


def prepare_multiprocess_dir() -> None:
    """Create a fresh Prometheus multiprocess directory (gunicorn master, before fork)."""


def mark_process_dead(pid: int) -> None:
    """Drop the live gauges of a dead worker."""


def observe_refresh(outcome: str, seconds: float) -> None:
    """Count one refresh run by outcome and record its duration."""


def set_lease_held(job: str, instance_id: str, held: bool) -> None:
    """Record whether this instance holds `job`'s lease."""


def set_last_refresh_success(epoch_seconds: float) -> None:
    """Record when the last successful refresh finished (age is derived at scrape)."""


def set_catalog_size(by_status: dict[str, int]) -> None:
    """Record the catalog size by price status."""

"""Prometheus metrics, correct under several gunicorn workers (prometheus_client multiprocess).

The families and the recorders the domain calls live here, free of Flask; the per-request
hooks and the /metrics view are in `ratecard.web.http_metrics`.

Multiprocess mode is on when `PROMETHEUS_MULTIPROC_DIR` is set before prometheus_client is
first imported: gunicorn's master calls `prepare_multiprocess_dir()` (on_starting), which
creates the directory fresh and exports the variable, so every forked worker writes its
samples there and any worker's `/metrics` aggregates all of them. prometheus_client is
imported on first use, never by `create_app()`, so the variable is always set in time.

Gauge modes, chosen for what each gauge means after a worker dies:
- lease held: `livemax` (a dead worker holds nothing; `mark_process_dead` drops its file);
- last successful refresh: `max` (a fact about the fleet that outlives the worker that saw it);
- catalog size: `mostrecent` (the newest count wins, whichever worker read it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LAST_SUCCESS_NAME = "ratecard_last_refresh_success_timestamp_seconds"
LAST_SUCCESS_AGE_NAME = "ratecard_last_refresh_success_age_seconds"
REFRESH_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# prometheus_client's default latency buckets, written out: http_metrics tallies requests into
# the same buckets before writing them in batches.
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, float("inf")
)  # fmt: skip

# The clock the age gauge is computed with; tests may replace it.
clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class _Families:
    requests: Counter
    latency: Histogram
    refresh_runs: Counter
    refresh_duration: Histogram
    lease_held: Gauge
    last_success: Gauge
    catalog_size: Gauge
    webhook_backlog: Gauge
    webhook_attempts: Counter


_families: _Families | None = None
_families_lock = threading.Lock()


def metric_families() -> _Families:
    """Create the metric families once per process, importing prometheus_client then."""
    global _families
    if _families is None:
        with _families_lock:
            if _families is None:
                from prometheus_client import Counter, Gauge, Histogram

                _families = _Families(
                    requests=Counter(
                        "ratecard_http_requests_total",
                        "HTTP requests by route (URL rule), method and status.",
                        ["route", "method", "status"],
                    ),
                    latency=Histogram(
                        "ratecard_http_request_duration_seconds",
                        "HTTP request latency by route (URL rule), method and status.",
                        ["route", "method", "status"],
                        buckets=LATENCY_BUCKETS,
                    ),
                    refresh_runs=Counter(
                        "ratecard_refresh_runs_total", "Refresh runs by outcome.", ["outcome"]
                    ),
                    refresh_duration=Histogram(
                        "ratecard_refresh_duration_seconds",
                        "Refresh run duration by outcome.",
                        ["outcome"],
                        buckets=REFRESH_BUCKETS,
                    ),
                    lease_held=Gauge(
                        "ratecard_lease_held",
                        "1 while this instance holds the job's lease.",
                        ["job", "instance"],
                        multiprocess_mode="livemax",
                    ),
                    last_success=Gauge(
                        LAST_SUCCESS_NAME,
                        "Epoch seconds of the last successful refresh (age: "
                        + LAST_SUCCESS_AGE_NAME
                        + ").",
                        multiprocess_mode="max",
                    ),
                    catalog_size=Gauge(
                        "ratecard_catalog_models",
                        "Models currently served, by price status.",
                        ["status"],
                        multiprocess_mode="mostrecent",
                    ),
                    # Counted from the database by every instance's delivery loop, so any
                    # instance shows the fleet's backlog: the newest count is the true one.
                    webhook_backlog=Gauge(
                        "ratecard_webhook_deliveries",
                        "Webhook messages in the outbox: pending (all not yet delivered), "
                        "failing (pending after a failed attempt), dead (dead-lettered).",
                        ["state"],
                        multiprocess_mode="mostrecent",
                    ),
                    webhook_attempts=Counter(
                        "ratecard_webhook_attempts_total",
                        "Webhook delivery attempts by outcome (delivered, retry, dead, stale).",
                        ["outcome"],
                    ),
                )
    return _families


def set_webhook_backlog(counts: dict[str, int]) -> None:
    """Record the webhook outbox counts (keys pending, failing, dead)."""
    families = metric_families()
    for state, count in counts.items():
        families.webhook_backlog.labels(state).set(count)


def count_webhook_attempt(outcome: str) -> None:
    """Count one settled webhook delivery attempt."""
    metric_families().webhook_attempts.labels(outcome).inc()


def families_ready() -> None:
    """Create the metric families now (the warm-up calls it so no request pays the import)."""
    metric_families()


def is_multiprocess() -> bool:
    """Return whether samples go to the shared directory (several gunicorn workers)."""
    return bool(os.environ.get(MULTIPROC_ENV))


def render_latest() -> bytes:
    """Return the exposition text, with the last-success age derived now."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    metric_families()  # families exist (and print) even before anything was recorded
    source: Any
    if is_multiprocess():
        source = CollectorRegistry()
        MultiProcessCollector(source)
    else:
        source = REGISTRY
    return generate_latest(_WithAge(source))


class _WithAge:
    """Pass a registry's families through and add the age of the last successful refresh."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        newest = 0.0
        for family in self.source.collect():
            if family.name == LAST_SUCCESS_NAME:
                newest = max([newest, *(s.value for s in family.samples)])
            yield family
        # 0 means no refresh has succeeded since start: an age of 56 years would page someone.
        if newest > 0:
            yield GaugeMetricFamily(
                LAST_SUCCESS_AGE_NAME,
                "Seconds since the last successful refresh, computed at scrape.",
                value=max(0.0, clock() - newest),
            )


def prepare_multiprocess_dir() -> str:
    """Create a fresh Prometheus multiprocess directory (gunicorn master, before fork)."""
    configured = os.environ.get(MULTIPROC_ENV, "").strip()
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        # Files left by a previous run would add its dead workers' counts to ours.
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        directory = Path(tempfile.mkdtemp(prefix="ratecard-metrics-"))
        os.environ["RATECARD_METRICS_DIR_OWNED"] = "1"
    os.environ[MULTIPROC_ENV] = str(directory)
    return str(directory)


def remove_multiprocess_dir() -> None:
    """Delete the directory `prepare_multiprocess_dir` created itself (gunicorn master, exit)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory and os.environ.get("RATECARD_METRICS_DIR_OWNED") == "1":
        shutil.rmtree(directory, ignore_errors=True)


def mark_process_dead(pid: int) -> None:
    """Drop the live gauges of a dead worker (gunicorn master, child_exit)."""
    if not is_multiprocess():
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def observe_refresh(outcome: str, seconds: float) -> None:
    """Count one refresh run by outcome and record its duration."""
    families = metric_families()
    families.refresh_runs.labels(outcome).inc()
    families.refresh_duration.labels(outcome).observe(max(0.0, seconds))


def set_lease_held(job: str, instance_id: str, held: bool) -> None:
    """Record whether this instance holds `job`'s lease."""
    metric_families().lease_held.labels(job, instance_id).set(1 if held else 0)


def set_last_refresh_success(epoch_seconds: float) -> None:
    """Record when the last successful refresh finished (age is derived at scrape)."""
    metric_families().last_success.set(epoch_seconds)


def set_catalog_size(by_status: dict[str, int]) -> None:
    """Record the catalog size by price status."""
    families = metric_families()
    for status, count in by_status.items():
        families.catalog_size.labels(status).set(count)

"""/metrics: request, refresh, lease, freshness and catalog metrics; multiprocess bookkeeping."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from ratecard import metrics
from tests.support.services import REPO


def scrape(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return every sample of /metrics keyed by (name, sorted labels)."""
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_requests_are_counted_by_url_rule_and_status(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    client = app.test_client()
    key = (
        "ratecard_http_requests_total",
        (("method", "GET"), ("route", "/health/live"), ("status", "200")),
    )
    before = scrape(app).get(key, 0.0)
    for _ in range(3):
        client.get("/health/live")
    client.get("/no/such/path/12345")
    after = scrape(app)
    assert after[key] == before + 3
    assert not any("/no/such/path" in str(labels) for _name, labels in after), "raw path leaked"
    unmatched = (
        "ratecard_http_requests_total",
        (("method", "GET"), ("route", "<unmatched>"), ("status", "404")),
    )
    assert after[unmatched] >= 1
    latency = ("ratecard_http_request_duration_seconds_count", key[1])
    assert after[latency] >= 3


def test_domain_metrics_are_exposed(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    before = scrape(app).get(("ratecard_refresh_runs_total", (("outcome", "success"),)), 0.0)
    metrics.observe_refresh("success", 1.5)
    metrics.set_lease_held("refresh", "inst-a", True)
    metrics.set_lease_held("refresh", "inst-b", False)
    metrics.set_catalog_size({"priced": 2500, "free": 30, "dynamic": 2, "unpriced": 450})
    monkeypatch.setattr(metrics, "clock", lambda: 1_800_000_030.0)
    metrics.set_last_refresh_success(1_800_000_000.0)
    samples = scrape(app)
    assert samples[("ratecard_refresh_runs_total", (("outcome", "success"),))] == before + 1
    assert samples[("ratecard_refresh_duration_seconds_count", (("outcome", "success"),))] >= 1
    assert samples[("ratecard_lease_held", (("instance", "inst-a"), ("job", "refresh")))] == 1
    assert samples[("ratecard_lease_held", (("instance", "inst-b"), ("job", "refresh")))] == 0
    assert samples[("ratecard_catalog_models", (("status", "priced"),))] == 2500
    assert samples[("ratecard_last_refresh_success_timestamp_seconds", ())] == 1_800_000_000.0
    assert samples[("ratecard_last_refresh_success_age_seconds", ())] == 30.0


def test_prepare_multiprocess_dir_starts_fresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RATECARD_METRICS_DIR_OWNED", raising=False)
    directory = tmp_path / "prom"
    directory.mkdir()
    (directory / "counter_424242.db").write_bytes(b"left over from the last run")
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(directory))
    assert metrics.prepare_multiprocess_dir() == str(directory)
    assert list(directory.iterdir()) == []
    metrics.remove_multiprocess_dir()
    assert directory.exists(), "an operator's directory is emptied, never deleted"

    monkeypatch.delenv(metrics.MULTIPROC_ENV)
    created = Path(metrics.prepare_multiprocess_dir())
    assert created.is_dir() and os.environ[metrics.MULTIPROC_ENV] == str(created)
    metrics.remove_multiprocess_dir()
    assert not created.exists()


def test_a_dead_workers_lease_gauge_is_dropped_but_its_counts_kept(tmp_path: Path) -> None:
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path)}
    worker = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os; from ratecard import metrics as m; "
            "m.set_lease_held('refresh', 'dead-1', True); m.observe_refresh('success', 2.0); "
            "print(os.getpid())",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO,
    )
    pid = int(worker.stdout.strip())
    master = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; from ratecard import metrics as m; "
            "before = m.render_latest().decode(); m.mark_process_dead(int(sys.argv[1])); "
            "print(json.dumps([before, m.render_latest().decode()]))",
            str(pid),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO,
    )
    before, after = json.loads(master.stdout)
    lease = 'ratecard_lease_held{instance="dead-1",job="refresh"} 1.0'
    runs = 'ratecard_refresh_runs_total{outcome="success"} 1.0'
    assert lease in before and runs in before
    assert lease not in after, "a dead worker must not be reported as holding the lease"
    assert runs in after, "counters of dead workers still count"

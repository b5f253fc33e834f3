"""Under real gunicorn with two workers: /metrics aggregates every worker; startup turns 200."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ratecard.web import http_metrics
from tests.support.apps import TOKEN, python_json
from tests.support.processes import serve


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request on a new connection (so that either worker may accept it)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture
def served(migrated_sqlite_url: str, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    # A previous run's file: if it were not cleared at start, every scrape would fail.
    (metrics_dir / "counter_999999.db").write_bytes(b"garbage from a previous run")
    # Only the port (path None): what the first answers say while the workers start is
    # under test.
    with serve(
        tmp_path / "serve.log",
        workers=2,
        DATABASE_URL=migrated_sqlite_url,
        RATECARD_COORDINATOR="false",
        RATECARD_ADMIN_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    ).running(path=None) as instance:
        yield instance.port, metrics_dir


def test_metrics_aggregate_requests_across_two_workers(served: tuple[int, Path]) -> None:
    port, metrics_dir = served
    deadline = time.monotonic() + 20
    while get(port, "/health/startup")[0] != 200:
        assert time.monotonic() < deadline, "startup probe never turned 200"
        time.sleep(0.05)
    workers: set[str] = set()
    health_requests = 0
    while len(workers) < 2 and health_requests < 300:
        status, body = get(port, "/health", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200, body
        workers.add(json.loads(body)["serviceId"])
        health_requests += 1
    assert len(workers) == 2, "requests never reached the second worker"
    # Whichever worker answers the scrape, it reports every worker's requests: the other
    # worker's once its flusher has run (http_metrics.FLUSH_INTERVAL), never more, never less.
    time.sleep(http_metrics.FLUSH_INTERVAL * 2)
    assert len({p.name.rsplit("_", 1)[1] for p in metrics_dir.glob("counter_*.db")}) == 2
    for _ in range(6):
        status, text = get(port, "/metrics")
        assert status == 200
        counted = sum(
            sample.value
            for family in text_string_to_metric_families(text.decode())
            for sample in family.samples
            if sample.name == "ratecard_http_requests_total"
            and sample.labels == {"route": "/health", "method": "GET", "status": "200"}
        )
        assert counted == health_requests


def test_the_master_preloads_everything_a_worker_needs_for_its_first_ready_answer_but_the_orm(
    migrated_sqlite_url: str,
) -> None:
    # A fresh interpreter plays one worker: what the master preloaded, then create_app(), the
    # catalog the master decoded from Redis (readiness_seed.catalog; here an empty one) and a
    # first ready answer. A module missing from the list would be imported by every worker at
    # once on the same cores; SQLAlchemy in it would cost every start its ~150 ms. Without
    # the preloaded catalog, ready (which means warm) loads it from the database: the ORM.
    code = (
        "import importlib, json, sys\n"
        "from ratecard.gunicorn_conf import PRELOADED_MODULES\n"
        "for name in PRELOADED_MODULES:\n"
        "    importlib.import_module(name)\n"
        "preloaded = set(sys.modules)\n"
        "from ratecard.app import create_app\n"
        "from ratecard.settings import Settings\n"
        "from ratecard.catalog.snapshot import CatalogSnapshot\n"
        "from ratecard.web.state import get_state\n"
        f"app = create_app(Settings(database_url={migrated_sqlite_url!r}))\n"
        "get_state(app).need_catalog_cache().start_with(CatalogSnapshot.from_data({}))\n"
        "status = app.test_client().get('/health/ready').status_code\n"
        "late = sorted(m for m in set(sys.modules) - preloaded if m.startswith('ratecard'))\n"
        f"cold = create_app(Settings(database_url={migrated_sqlite_url!r}))\n"
        "cold_status = cold.test_client().get('/health/ready').status_code\n"
        "loaded = get_state(cold).need_catalog_cache().loaded\n"
        "print(json.dumps([status, late, 'sqlalchemy' in preloaded, cold_status, loaded]))\n"
    )
    status, late, orm_preloaded, cold_status, loaded = python_json(code)
    assert status == 200
    assert late == [], f"add to PRELOADED_MODULES: {late}"
    assert cold_status == 200 and loaded, "ready without a preloaded catalog loads one first"
    assert not orm_preloaded, "SQLAlchemy must stay off the path to the first ready answer"


def test_a_worker_hands_the_gil_over_faster_only_while_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from ratecard import gunicorn_conf

    default = sys.getswitchinterval()
    monkeypatch.setattr(gunicorn_conf, "STARTING_SECONDS", 0.2)
    try:
        gunicorn_conf._switch_faster_while_starting()
        assert sys.getswitchinterval() == pytest.approx(gunicorn_conf.STARTING_SWITCH_INTERVAL)
        assert default > gunicorn_conf.STARTING_SWITCH_INTERVAL
        deadline = time.monotonic() + 5
        while sys.getswitchinterval() != default:
            assert time.monotonic() < deadline, "the default interval never came back"
            time.sleep(0.05)
    finally:
        sys.setswitchinterval(default)

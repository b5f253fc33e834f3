"""The probes against real PostgreSQL, SQLite and Redis: outages, schema states, secrets, load."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import event

from ratecard.catalog.snapshot import CatalogSnapshot
from ratecard.probe_app import get_health_check_data
from ratecard.settings import normalize_database_url
from ratecard.vocabulary import JobName, RunOutcome
from ratecard.web.health_probes import health_of, start_warmup
from ratecard.web.state import get_state
from tests.support.apps import TOKEN, auth, check
from tests.support.services import PG_ADMIN_DSN, REDIS_URL, RedisServer
from tests.support.tcp_proxy import TcpProxy
from tests.test_readiness_seed import publish

PASSWORD = "s3cr3t-pw"
HEALTH_TYPE = "application/health+json"


@pytest.fixture
def pg_proxy() -> Iterator[TcpProxy]:
    """A proxy of this test's own in front of the shared PostgreSQL (stop it, never the server)."""
    proxy = TcpProxy(target_port=5432).start()
    yield proxy
    proxy.stop()


def via_proxy(pg_url: str, proxy: TcpProxy) -> str:
    """The test database through the proxy, with a password (trust auth ignores it)."""
    name = pg_url.rsplit("/", 1)[1]
    return normalize_database_url(f"postgresql://postgres:{PASSWORD}@127.0.0.1:{proxy.port}/{name}")


def test_live_answers_without_touching_any_dependency(make_app: Callable[..., Flask]) -> None:
    app = make_app(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = app.test_client().get("/health/live")
    assert response.status_code == 200
    assert response.mimetype == HEALTH_TYPE
    assert response.get_json() == {"status": "pass"}
    assert get_state(app)._engine is None, "live must not even create the engine"
    assert health_of(app).probe_db._conn is None, "nor open the probe's connection"


def test_startup_is_503_until_the_warm_up_has_run(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    # An unmigrated database: not ready, so startup waits for the warm-up alone.
    app = make_app(database_url=sqlite_url)
    client = app.test_client()
    first = client.get("/health/startup")
    assert first.status_code == 503
    assert first.mimetype == HEALTH_TYPE
    assert health_of(app).initialized.wait(5), "the first probe must start the warm-up"
    assert client.get("/health/startup").status_code == 200
    assert client.get("/health/ready").status_code == 503


def test_startup_is_never_later_than_ready_and_ready_means_warm(
    make_app: Callable[..., Flask], migrated_sqlite_url: str
) -> None:
    app = make_app(database_url=migrated_sqlite_url)
    client = app.test_client()
    assert not get_state(app).need_catalog_cache().loaded
    # No warm-up has run in this process: ready loads the catalog first, and startup, asked
    # after, answers 200 as ready did (Kubernetes holds readiness probes until it passes).
    assert client.get("/health/ready").status_code == 200
    assert get_state(app).need_catalog_cache().loaded, "ready means the catalog is in memory"
    assert not health_of(app).initialized.is_set()
    assert client.get("/health/startup").status_code == 200


def test_ready_stays_200_with_a_redis_warning_when_redis_stops(
    make_app: Callable[..., Flask], migrated_sqlite_url: str, redis_server: RedisServer
) -> None:
    app = make_app(
        database_url=migrated_sqlite_url, redis_url=redis_server.url, health_cache_seconds=0
    )
    client = app.test_client()
    # A readiness probe does not wait for a non-gating check's first answer: the full report
    # gives Redis its first answer, then readiness shows each new one.
    assert client.get("/health").status_code == 200
    before = client.get("/health/ready")
    assert before.status_code == 200
    assert check(before.get_json(), "redis:responseTime")["status"] == "pass"
    redis_server.stop()
    after = client.get("/health/ready")
    assert after.status_code == 200, after.get_json()
    assert check(after.get_json(), "redis:responseTime")["status"] == "warn"
    assert after.get_json()["status"] == "warn"


def test_database_outage_fails_ready_but_never_live_and_recovers(
    make_app: Callable[..., Flask], migrated_pg_url: str, pg_proxy: TcpProxy
) -> None:
    app = make_app(database_url=via_proxy(migrated_pg_url, pg_proxy), health_cache_seconds=0)
    client = app.test_client()
    assert client.get("/health/ready").status_code == 200
    pg_proxy.stop()
    down = client.get("/health/ready")
    assert down.status_code == 503
    assert check(down.get_json(), "database:responseTime")["status"] == "fail"
    assert client.get("/health/live").status_code == 200
    pg_proxy.start()
    deadline = time.monotonic() + 10
    while (status := client.get("/health/ready").status_code) != 200:
        assert time.monotonic() < deadline, "ready did not return to 200 after the database did"
        time.sleep(0.1)
    assert status == 200


def record_refresh(url: str, finished: datetime) -> None:
    """A successful refresh run finished at `finished`, as the worker records one."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute(
            "INSERT INTO runs (job, started_at, finished_at, outcome) VALUES (%s, %s, %s, %s)",
            (JobName.REFRESH, finished, finished, RunOutcome.SUCCESS),
        )


def wait_for_catalog_check(client: Any) -> None:
    """The catalog check (which reads the last refresh) has answered once."""
    deadline = time.monotonic() + 10
    while "first check running" in str(
        check(client.get("/health", headers=auth()).get_json(), "catalog:age")
    ):
        assert time.monotonic() < deadline, "the catalog check never answered"
        time.sleep(0.05)


def test_a_database_outage_is_a_warning_while_the_catalog_in_memory_is_fresh(
    make_app: Callable[..., Flask], migrated_pg_url: str, pg_proxy: TcpProxy
) -> None:
    # Every instance failing readiness at once on a shared dependency empties the balancer,
    # while each instance could answer from memory: ready stays 200 and says why.
    record_refresh(migrated_pg_url, datetime.now(UTC) - timedelta(seconds=30))
    app = make_app(
        database_url=via_proxy(migrated_pg_url, pg_proxy),
        health_cache_seconds=0,
        admin_token=TOKEN,
        stale_after=600,
    )
    client = app.test_client()
    assert client.get("/health/ready").status_code == 200
    wait_for_catalog_check(client)
    pg_proxy.stop()
    down = client.get("/health/ready")
    assert down.status_code == 200, down.get_json()
    assert down.get_json()["status"] == "warn"
    database = check(down.get_json(), "database:responseTime")
    assert database == {
        "componentType": "datastore",
        "status": "warn",
        "output": "database unreachable; serving the catalog held in memory",
    }
    detailed = check(
        client.get("/health/ready", headers=auth()).get_json(), "database:schemaRevision"
    )
    assert detailed["status"] == "warn"
    assert "last refresh 3" in detailed["output"] and "stale after 600 s" in detailed["output"]
    assert PASSWORD not in str(detailed)
    assert client.get("/api/models").status_code == 200, "and it does serve"


def test_a_database_outage_fails_ready_once_the_catalog_is_stale(
    make_app: Callable[..., Flask], migrated_pg_url: str, pg_proxy: TcpProxy
) -> None:
    # Past RATECARD_STALE_AFTER nobody keeps the prices current: the outage is a failure again.
    record_refresh(migrated_pg_url, datetime.now(UTC) - timedelta(seconds=120))
    app = make_app(
        database_url=via_proxy(migrated_pg_url, pg_proxy),
        health_cache_seconds=0,
        admin_token=TOKEN,
        stale_after=60,
    )
    client = app.test_client()
    assert client.get("/health/ready").status_code == 200
    wait_for_catalog_check(client)
    pg_proxy.stop()
    down = client.get("/health/ready", headers=auth())
    assert down.status_code == 503
    output = check(down.get_json(), "database:responseTime")["output"]
    assert "cannot serve: catalog stale: last refresh over 60 s ago" in output


def test_an_instance_that_never_verified_its_schema_fails_ready_in_an_outage(
    make_app: Callable[..., Flask], migrated_pg_url: str, pg_proxy: TcpProxy
) -> None:
    record_refresh(migrated_pg_url, datetime.now(UTC))
    pg_proxy.stop()
    app = make_app(
        database_url=via_proxy(migrated_pg_url, pg_proxy),
        health_cache_seconds=0,
        admin_token=TOKEN,
    )
    down = app.test_client().get("/health/ready", headers=auth())
    assert down.status_code == 503
    assert (
        "cannot serve: no catalog in memory"
        in check(down.get_json(), "database:schemaRevision")["output"]
    )


def test_unmigrated_database_fails_ready_naming_ratecard_migrate(
    make_app: Callable[..., Flask], pg_url: str
) -> None:
    app = make_app(database_url=pg_url, admin_token=TOKEN)
    client = app.test_client()
    for headers in ({}, auth()):
        response = client.get("/health/ready", headers=headers)
        assert response.status_code == 503
        schema = check(response.get_json(), "database:schemaRevision")
        assert schema["status"] == "fail"
        assert "ratecard migrate" in schema["output"]


def test_database_ahead_of_the_code_is_ready_with_a_warning(
    make_app: Callable[..., Flask], migrated_pg_url: str
) -> None:
    dsn = PG_ADMIN_DSN.replace("dbname=postgres", f"dbname={migrated_pg_url.rsplit('/', 1)[1]}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_expand_from_the_future'")
    app = make_app(database_url=migrated_pg_url, admin_token=TOKEN)
    response = app.test_client().get("/health/ready", headers=auth())
    assert response.status_code == 200
    schema = check(response.get_json(), "database:schemaRevision")
    assert schema["status"] == "warn"
    assert schema["observedValue"] == "9999_expand_from_the_future"


def test_password_and_token_never_appear_in_health_or_logs(
    make_app: Callable[..., Flask], migrated_pg_url: str, pg_proxy: TcpProxy
) -> None:
    app = make_app(
        database_url=via_proxy(migrated_pg_url, pg_proxy), admin_token=TOKEN, health_cache_seconds=0
    )
    # The real configured handler's output, as an operator's log pipeline would see it.
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_ratecard", 0))
    captured = io.StringIO()
    original_stream = handler.setStream(captured)  # type: ignore[attr-defined]
    try:
        client = app.test_client()
        bodies = [
            client.get(p, headers=h).get_data(as_text=True)
            for p in ("/health", "/health/ready")
            for h in ({}, auth())
        ]
        pg_proxy.stop()  # errors now: their texts go to health details and to the log
        bodies += [
            client.get(p, headers=h).get_data(as_text=True)
            for p in ("/health", "/health/ready")
            for h in ({}, auth())
        ]
        bodies.append(str(get_health_check_data(app)))
    finally:
        handler.setStream(original_stream)  # type: ignore[attr-defined]
    logs = captured.getvalue()
    assert "database:responseTime" in logs, "the outage must be logged"
    assert any('"fail"' in body and "Connection refused" in body for body in bodies)
    for text in [*bodies, logs]:
        assert PASSWORD not in text
        assert TOKEN not in text


def test_a_burst_of_probes_checks_the_database_once_per_cache_period(
    make_app: Callable[..., Flask], migrated_pg_url: str
) -> None:
    app = make_app(database_url=migrated_pg_url, health_cache_seconds=2.0)
    selects: list[float] = []
    # The checks query through the app's probe connection: count the database checks there.
    probe = health_of(app).probe_db
    fetch_all = probe.fetch_all

    def counting(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if sql.strip() == "SELECT 1":
            selects.append(time.monotonic())
        return fetch_all(sql, params)

    probe.fetch_all = counting  # type: ignore[method-assign]

    barrier = threading.Barrier(8)
    codes: list[int] = []

    def prober() -> None:
        client = app.test_client()
        barrier.wait()
        for path in ("/health/ready", "/health") * 12 + ("/health/ready",):
            codes.append(client.get(path).status_code)

    started = time.monotonic()
    threads = [threading.Thread(target=prober) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.monotonic() - started
    assert len(codes) == 200 and set(codes) == {200}
    periods = int(elapsed // 2.0) + 1
    assert 1 <= len(selects) <= periods, f"{len(selects)} checks in {elapsed:.2f} s"


def test_in_process_data_equals_the_health_endpoint(
    make_app: Callable[..., Flask], migrated_sqlite_url: str
) -> None:
    app = make_app(database_url=migrated_sqlite_url, admin_token=TOKEN, health_cache_seconds=60)
    served = app.test_client().get("/health", headers=auth()).get_json()
    assert get_health_check_data(app) == served
    assert served["serviceId"] == get_state(app).instance.instance_id
    assert {"version", "releaseId", "status", "checks"} <= set(served)


def test_without_the_token_only_statuses_are_shown(
    make_app: Callable[..., Flask], migrated_sqlite_url: str
) -> None:
    app = make_app(database_url=migrated_sqlite_url, admin_token=TOKEN)
    client = app.test_client()
    for headers in ({}, auth("wrong-token")):
        body = client.get("/health", headers=headers).get_json()
        assert "serviceId" not in body and "version" not in body
        for name, (entry,) in body["checks"].items():
            assert set(entry) <= {"componentType", "status", "output"}, name
            assert "observedValue" not in entry
    detailed = client.get("/health", headers=auth()).get_json()
    assert "observedValue" in check(detailed, "database:responseTime")


# -- passing probes answered before Flask (health_probes.PassingProbes) -------------------------

PROBE_VIEWS = {
    "/health/live": "health.live",
    "/health/startup": "health.startup",
    "/health/ready": "health.ready",
}


def counted_probe_views(app: Flask) -> list[str]:
    """The probe paths whose Flask view ran (a probe answered before Flask adds none)."""
    calls: list[str] = []
    for path, endpoint in PROBE_VIEWS.items():
        view = app.view_functions[endpoint]

        def counted(view: Callable[[], Any] = view, path: str = path) -> Any:
            calls.append(path)
            return view()

        app.view_functions[endpoint] = counted
    return calls


def wire(response: Any) -> tuple[str, list[tuple[str, str]], bytes]:
    return response.status, list(response.headers.items()), response.get_data()


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("path", list(PROBE_VIEWS))
def test_a_passing_probe_is_answered_before_flask_byte_for_byte_the_views(
    make_app: Callable[..., Flask], migrated_sqlite_url: str, path: str, scheme: str
) -> None:
    # Results cached for the whole test: the checks' first pass (which loads the catalog)
    # changes the document once, and every answer compared here must be of the same results.
    app = make_app(database_url=migrated_sqlite_url, health_cache_seconds=60)
    calls = counted_probe_views(app)
    client = app.test_client()
    environ = {"wsgi.url_scheme": scheme}
    assert client.get("/health/ready").status_code == 200  # the first pass
    calls.clear()
    early = client.get(path, environ_overrides=environ)
    assert early.status_code == 200 and calls == [], f"{path} should not reach Flask"
    # The same probe with a body announced: the view answers it, and answers the same.
    through_flask = client.get(path, environ_overrides={**environ, "CONTENT_LENGTH": "0"})
    assert calls == [path]
    assert wire(early) == wire(through_flask)
    assert ("Strict-Transport-Security" in early.headers) == (scheme == "https")


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/health/ready?verbose=1", {}),
        ("/health/ready", {"method": "HEAD"}),
        ("/health/ready", {"headers": auth()}),  # ready's details are the admin's
        ("/health/live", {"headers": {"Transfer-Encoding": "chunked"}, "data": b""}),
    ],
)
def test_what_only_flask_answers_goes_to_flask(
    make_app: Callable[..., Flask], migrated_sqlite_url: str, path: str, kwargs: dict[str, Any]
) -> None:
    app = make_app(database_url=migrated_sqlite_url, admin_token=TOKEN)
    calls = counted_probe_views(app)
    answer = app.test_client().open(path, **{"method": "GET", **kwargs})
    assert calls == [path.split("?")[0]], f"{path} {kwargs} was not left to Flask"
    assert answer.status_code == 200


def test_a_failing_probe_is_the_views_answer(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    # Unmigrated: ready fails, and startup waits for the warm-up, which no probe started yet.
    app = make_app(database_url=sqlite_url)
    calls = counted_probe_views(app)
    client = app.test_client()
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and calls == ["/health/ready"]
    assert "ratecard migrate" in ready.get_data(as_text=True)
    assert client.get("/health/startup").status_code == 503
    assert calls == ["/health/ready", "/health/startup"], "the view starts the warm-up"
    assert health_of(app).initialized.wait(5)
    # Initialized, still not ready: startup passes now, before Flask; ready stays the view's.
    assert client.get("/health/startup").status_code == 200
    assert client.get("/health/ready").status_code == 503
    assert calls == ["/health/ready", "/health/startup", "/health/ready"]


def test_a_probe_answered_before_flask_is_counted_under_its_route(
    make_app: Callable[..., Flask], migrated_sqlite_url: str
) -> None:
    app = make_app(database_url=migrated_sqlite_url)
    calls = counted_probe_views(app)
    client = app.test_client()
    before = ready_count(client)  # the counters are the process's, shared by every app
    for _ in range(3):
        assert client.get("/health/ready").status_code == 200
    assert calls == []
    assert ready_count(client) == before + 3


def ready_count(client: Any) -> float:
    """How many passing /health/ready probes this process's /metrics has counted."""
    text = client.get("/metrics").get_data(as_text=True)
    counted = 'ratecard_http_requests_total{method="GET",route="/health/ready",status="200"} '
    lines = [line for line in text.splitlines() if line.startswith(counted)]
    return float(lines[0].removeprefix(counted)) if lines else 0.0


def test_with_trusted_hosts_every_probe_goes_through_flask(
    make_app: Callable[..., Flask], migrated_sqlite_url: str
) -> None:
    app = make_app(database_url=migrated_sqlite_url, trusted_hosts=("api.example",))
    calls = counted_probe_views(app)
    client = app.test_client()
    assert client.get("/health/live", headers={"Host": "api.example"}).status_code == 200
    assert client.get("/health/live", headers={"Host": "evil.example"}).status_code == 400
    assert calls == ["/health/live"]


def test_the_warm_up_runs_a_handed_over_catalogs_first_recheck_not_the_first_request(
    make_app: Callable[..., Flask], migrated_pg_url: str, redis_prefix: str
) -> None:
    item = {"source": "litellm", "model_id": "acme/preloaded", "status": "priced"}
    item |= {"input_per_token": "0.000001", "output_per_token": "0.000002"}
    blob = publish(redis_prefix, 41, [item])
    app = make_app(database_url=migrated_pg_url, redis_url=REDIS_URL, redis_key_prefix=redis_prefix)
    cache = get_state(app).need_catalog_cache()
    # What post_worker_init does with the snapshot the master read from Redis.
    cache.start_with(CatalogSnapshot.from_data({**json.loads(blob), "version": 41}))
    start_warmup(app).join(timeout=30)
    assert not app.url_map._remap, "the URL map's matcher is compiled before any request"
    time.sleep(0.6)  # past the cache's re-check period: the next request re-checks
    statements: list[str] = []
    engine = get_state(app).engine
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    answer = app.test_client().get("/api/models/acme/preloaded")
    assert answer.status_code == 200 and answer.get_json()["catalog_version"] == 41
    # The reconcile (Redis's version against the database's) ran in the warm-up: this
    # request's re-check asked Redis for the version, and the database nothing.
    assert statements == []

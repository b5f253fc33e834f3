"""The master's readiness helper (ratecard.readiness_seed) against real PostgreSQL.

It runs the gating checks in a forked process; a worker's first ready answer then comes from
its results, as long as they are younger than the cache period, and never from nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from ratecard import readiness_seed
from ratecard.health.check_registry import HealthRegistry, Observation
from ratecard.web.health_probes import health_of
from ratecard.web.state import get_state
from tests.support.apps import check
from tests.support.tcp_proxy import TcpProxy

# The check timeout of the tests in which one store hangs and the other must still answer in
# time: the helper imports its driver and connects within it, which took over 0.5 s on a
# loaded 2-core machine (the database checks then failed as timed out).
PASSING_CHECK_TIMEOUT = 2.0


@pytest.fixture(autouse=True)
def _no_leftover_seed() -> Iterator[None]:
    yield
    readiness_seed._collected = []
    readiness_seed._catalog = None


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a database that hangs)."""
    proxy = TcpProxy(target_port=5432, blackhole=True).start()
    yield proxy.port
    proxy.stop()


def seeded_app(make_app: Callable[..., Flask], **overrides: object) -> Flask:
    """What gunicorn does: helper started, master busy, results collected, worker seeded."""
    app = make_app(**overrides)
    readiness_seed.start(get_state(app).settings)
    readiness_seed.collect()
    readiness_seed.apply(health_of(app).registry)
    return app


def test_the_first_ready_answer_uses_the_helpers_checks(
    make_app: Callable[..., Flask], migrated_pg_url: str
) -> None:
    app = seeded_app(make_app, database_url=migrated_pg_url, health_cache_seconds=30)
    seeded = {r.name: r.time for r in readiness_seed._collected}
    response = app.test_client().get("/health/ready")
    assert response.status_code == 200
    assert check(response.get_json(), "database:responseTime")["status"] == "pass"
    # The answer is the helper's observations (their times), not a query of the worker's own.
    # (Not "the probe connection is unopened": the deferred catalog check, started by this
    # answer in the background, may open it meanwhile.)
    results = health_of(app).registry.run(readiness_only=True)
    for name in ("database:responseTime", "database:schemaRevision"):
        assert results[name].status == "pass"
        assert results[name].time == seeded[name], name


def test_an_unmigrated_database_seen_by_the_helper_is_not_ready(
    make_app: Callable[..., Flask], pg_url: str
) -> None:
    app = seeded_app(make_app, database_url=pg_url, health_cache_seconds=30)
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    schema = check(response.get_json(), "database:schemaRevision")
    assert schema["status"] == "fail"
    assert "ratecard migrate" in schema["output"]


def test_seeded_results_expire_with_the_cache_period(
    make_app: Callable[..., Flask], pg_url: str
) -> None:
    app = seeded_app(make_app, database_url=pg_url, health_cache_seconds=0.5)
    client = app.test_client()
    assert client.get("/health/ready").status_code == 503
    time.sleep(0.6)
    assert client.get("/health/ready").status_code == 503
    assert health_of(app).probe_db._conn is not None, "expired: the worker checks itself"


def test_a_hanging_database_is_given_the_check_timeout_then_failed(
    make_app: Callable[..., Flask], silent_port: int
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{silent_port}/none"
    started = time.monotonic()
    app = seeded_app(make_app, database_url=url, health_check_timeout=0.3, health_cache_seconds=30)
    assert time.monotonic() - started < 2.0, "the master waited past the check timeout"
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert readiness_seed._collected[0].observation["output"] == "timed out after 0.3 s"


def test_a_seed_never_replaces_a_result_the_registry_has() -> None:
    registry = HealthRegistry(timeout=1.0, cache_seconds=60)
    registry.register("db:responseTime", "datastore", lambda: Observation("pass"))
    assert registry.run()["db:responseTime"].status == "pass"
    assert not registry.seed("db:responseTime", Observation("fail"), "t", time.monotonic())
    assert not registry.seed("unknown:check", Observation("fail"), "t", time.monotonic())
    assert registry.run()["db:responseTime"].status == "pass"


def test_nothing_is_seeded_without_a_helper(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    readiness_seed.collect()  # no helper started: nothing to wait for
    app = make_app(database_url=sqlite_url)
    assert readiness_seed.apply(health_of(app).registry) == 0


def publish(redis_prefix: str, version: int, models: list[dict[str, str]]) -> bytes:
    """Publish a catalog of `models` as `version` under the test's prefix; return its blob."""
    import redis

    from ratecard.redis_keys import RedisKeys
    from ratecard.serving.publish import encode_catalog, publish_catalog
    from tests.support.services import REDIS_URL

    blob = encode_catalog({"models": models})
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert publish_catalog(client, RedisKeys(prefix=redis_prefix), version, blob)
    finally:
        client.close()
    return blob


def test_the_helper_reads_the_published_catalog_and_workers_start_warm_with_it(
    make_app: Callable[..., Flask], migrated_pg_url: str, redis_prefix: str
) -> None:
    from tests.support.services import REDIS_URL

    item = {"source": "litellm", "model_id": "acme/preloaded", "status": "priced"}
    item |= {"input_per_token": "0.000001", "output_per_token": "0.000002"}
    publish(redis_prefix, 41, [item])
    settings = dict(database_url=migrated_pg_url, redis_url=REDIS_URL)
    app = seeded_app(make_app, **settings, redis_key_prefix=redis_prefix)
    snapshot = readiness_seed.catalog()  # the master's decode, before forking workers
    assert snapshot is not None and snapshot.version == 41
    assert [m.price.model_id for m in snapshot.models] == ["acme/preloaded"]
    assert readiness_seed.catalog() is None, "handed over once"

    cache = get_state(app).need_catalog_cache()
    cache.start_with(snapshot)  # post_worker_init
    answer = app.test_client().get("/api/models/acme/preloaded")
    assert answer.status_code == 200 and cache.source_of_last_load == "preloaded"
    assert answer.get_json()["catalog_version"] == 41

    # No Redis: nothing is preloaded, and the worker loads the catalog itself.
    seeded_app(make_app, database_url=migrated_pg_url, redis_url=None)
    assert readiness_seed.catalog() is None


@pytest.mark.parametrize("spooled", [True, False], ids=["in-memory file", "temporary file"])
def test_a_catalog_many_times_a_pipes_buffer_arrives_whole(
    make_app: Callable[..., Flask],
    migrated_pg_url: str,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    spooled: bool,
) -> None:
    from tests.support.services import REDIS_URL

    if not spooled:  # where memfd_create is missing: an unlinked temporary file
        monkeypatch.delattr(readiness_seed.os, "memfd_create")
    items = [
        {"source": "litellm", "model_id": f"acme/m-{i:05}", "status": "priced"}
        | {"input_per_token": f"0.{i:08}1", "output_per_token": "0.000002"}
        for i in range(5000)
    ]
    blob = publish(redis_prefix, 7, items)
    assert len(blob) > 8 * 65536, "several times what a pipe holds"
    seeded_app(
        make_app,
        database_url=migrated_pg_url,
        redis_url=REDIS_URL,
        redis_key_prefix=redis_prefix,
        health_check_timeout=5.0,  # a loaded machine: this is about the size, not the time
    )
    seeded = {r.name: r.observation["status"] for r in readiness_seed._collected}
    assert seeded["database:responseTime"] == "pass", "the checks came through beside it"
    snapshot = readiness_seed.catalog()
    assert snapshot is not None and snapshot.version == 7
    assert [m.price.model_id for m in snapshot.models] == [i["model_id"] for i in items]
    assert str(snapshot.models[-1].price.input_per_token) == "0.000049991"


def test_checks_sent_in_time_count_even_when_the_decode_runs_past_the_deadline(
    make_app: Callable[..., Flask],
    migrated_pg_url: str,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import select

    from tests.support.services import REDIS_URL

    item = {"source": "litellm", "model_id": "acme/slow", "status": "priced"}
    publish(redis_prefix, 3, [item | {"input_per_token": "0.000001"}])
    app = make_app(
        database_url=migrated_pg_url,
        redis_url=REDIS_URL,
        redis_key_prefix=redis_prefix,
        health_check_timeout=1.0,
    )
    readiness_seed.start(get_state(app).settings)
    helper = readiness_seed._helper
    assert helper is not None
    decode = readiness_seed._decoded

    def slow_decode(version: int, blob: bytes) -> object:
        # A big catalog on a busy machine: the master is still decoding when the deadline
        # passes, by which time the helper has sent its checks (or exited: readable too).
        select.select([helper.fd], [], [], 10)
        time.sleep(max(0.0, helper.deadline - time.monotonic()) + 0.05)
        return decode(version, blob)

    monkeypatch.setattr(readiness_seed, "_decoded", slow_decode)
    readiness_seed.collect()
    seeded = {r.name: r.observation for r in readiness_seed._collected}
    assert seeded["database:responseTime"]["status"] == "pass", seeded
    assert seeded["database:schemaRevision"]["status"] == "pass", seeded
    snapshot = readiness_seed.catalog()
    assert snapshot is not None and snapshot.version == 3


def test_a_second_start_keeps_the_helper_already_running(
    make_app: Callable[..., Flask], migrated_pg_url: str
) -> None:
    # `ratecard serve` starts the helper before importing gunicorn; gunicorn's on_starting
    # then calls start() again, which must not fork a second helper (nor lose the first).
    app = make_app(database_url=migrated_pg_url)
    settings = get_state(app).settings
    readiness_seed.start(settings)
    first = readiness_seed._helper
    readiness_seed.start(settings)
    assert first is not None and readiness_seed._helper is first
    readiness_seed.collect()
    assert readiness_seed._helper is None
    assert {r.name for r in readiness_seed._collected} >= {"database:responseTime"}


def test_a_hanging_redis_does_not_hold_back_the_database_checks(
    make_app: Callable[..., Flask], migrated_pg_url: str
) -> None:
    # Redis is read beside the checks, not before them: a Redis that never answers leaves
    # the workers without a preloaded catalog (they load their own), never without the
    # database's observations, which readiness gates on.
    proxy = TcpProxy(target_port=6379, blackhole=True).start()
    try:
        started = time.monotonic()
        app = seeded_app(
            make_app,
            database_url=migrated_pg_url,
            redis_url=f"redis://127.0.0.1:{proxy.port}/0",
            health_check_timeout=PASSING_CHECK_TIMEOUT,
            health_cache_seconds=30,
        )
        waited = time.monotonic() - started
    finally:
        proxy.stop()
    seeded = {r.name: r.observation["status"] for r in readiness_seed._collected}
    assert seeded["database:responseTime"] == "pass" and seeded["database:schemaRevision"] == "pass"
    assert readiness_seed.catalog() is None
    assert waited < PASSING_CHECK_TIMEOUT + 1.5, "the master waited past the check timeout"
    assert app.test_client().get("/health/ready").status_code == 200


def test_a_hanging_database_does_not_cost_the_workers_their_catalog(
    make_app: Callable[..., Flask], silent_port: int, redis_prefix: str
) -> None:
    from tests.support.services import REDIS_URL

    item = {"source": "litellm", "model_id": "acme/still-here", "status": "priced"}
    publish(redis_prefix, 12, [item | {"input_per_token": "0.000001"}])
    seeded_app(
        make_app,
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{silent_port}/none",
        redis_url=REDIS_URL,
        redis_key_prefix=redis_prefix,
        health_check_timeout=PASSING_CHECK_TIMEOUT,
        health_cache_seconds=30,
    )
    seeded = {r.name: r.observation.get("output") for r in readiness_seed._collected}
    assert seeded["database:responseTime"] == f"timed out after {PASSING_CHECK_TIMEOUT:g} s"
    snapshot = readiness_seed.catalog()
    assert snapshot is not None and snapshot.version == 12
    assert [m.price.model_id for m in snapshot.models] == ["acme/still-here"]


def test_a_checks_line_the_master_cannot_read_seeds_nothing() -> None:
    import os
    import subprocess

    # A helper that sent a line this code cannot read and then hung until its deadline: its
    # checks are neither seeded as read nor failed as timed out; each worker checks itself.
    helper = subprocess.Popen(["sleep", "30"])  # collect() kills and reaps it
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"checks [not json\n")
    readiness_seed._helper = readiness_seed.Helper(
        helper.pid, read_fd, 0.2, time.monotonic() + 0.2, None
    )
    try:
        readiness_seed.collect()
    finally:
        os.close(write_fd)
    assert helper.poll() is not None, "the helper past its deadline was stopped"
    assert readiness_seed._collected == []
    assert readiness_seed.apply(HealthRegistry(timeout=1.0, cache_seconds=60)) == 0

"""The in-process catalog cache: keyed by the published version, the database when Redis is away."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import redis
from sqlalchemy import Engine
from sqlalchemy.pool import NullPool

from ratecard.catalog.model import ModelPrice
from ratecard.db import build_engine
from ratecard.ingest import run_records, store
from ratecard.redis_keys import RedisKeys
from ratecard.serving import queries
from ratecard.serving.catalog_cache import CatalogCache, CatalogSnapshot
from ratecard.serving.publish import encode_catalog, publish_catalog, read_published_version
from tests.support.services import REDIS_URL, RedisServer
from tests.support.store_helpers import decision, price
from tests.support.tcp_proxy import TcpProxy

# Fixtures (db_url, engine, pg_engine, shared_redis) shared by the price storage tests.


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingRedis(redis.Redis):
    """A real Redis client that counts the commands it sends."""

    commands = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.commands += 1
        return super().execute_command(*args, **options)


def commit_version(
    engine: Engine, *prices: ModelPrice, publish_to: Any = None, keys: Any = None
) -> int:
    """Commit `prices` as a new catalog version (a run), publishing it if asked."""
    run_id = run_records.start_run(engine, run_records.RunInfo(trigger="test"))
    with engine.begin() as conn:
        rows = store.load_source_rows(conn, "litellm")
        store.apply_decision(
            conn,
            "litellm",
            decision({p.model_id: p for p in prices}),
            rows=rows,
            run_id=run_id,
            now=store.utcnow(),
        )
        run_records.finish_run(conn, run_id, "success", catalog_version=run_id)
        data = queries.load_catalog_data(conn, run_id)
    if publish_to is not None:
        publish_catalog(publish_to, keys, run_id, encode_catalog(data))
    return run_id


def input_price(snapshot: CatalogSnapshot, model_id: str) -> Decimal | None:
    served = snapshot.find(model_id)
    assert served is not None
    return served.price.input_per_token


def test_reloads_only_when_the_published_version_moves(
    pg_engine: Engine, redis_prefix: str
) -> None:
    keys = RedisKeys(prefix=redis_prefix)
    client = CountingRedis.from_url(REDIS_URL, socket_timeout=2)
    assert isinstance(client, CountingRedis)
    clock = Clock()
    v1 = commit_version(pg_engine, price("a", "0.000001"), publish_to=client, keys=keys)
    cache = CatalogCache(lambda: pg_engine, lambda: client, keys, clock=clock)

    first = cache.current()
    assert (first.version, input_price(first, "a")) == (v1, Decimal("0.000001"))
    v2 = commit_version(pg_engine, price("a", "0.000002"), publish_to=client, keys=keys)

    client.commands = 0
    for _ in range(100):
        assert cache.current() is first  # within the re-check interval: no round trip at all
    assert client.commands == 0

    clock.now += 0.6
    second = cache.current()
    assert (second.version, input_price(second, "a")) == (v2, Decimal("0.000002"))
    assert cache.source_of_last_load == "redis"
    assert client.commands == 2  # GET version, then MGET version+blob

    clock.now += 0.6
    client.commands = 0
    assert cache.current() is second  # version unchanged: one GET, no reload
    assert client.commands == 1
    client.close()


def test_redis_down_serves_from_the_database(pg_engine: Engine, redis_server: RedisServer) -> None:
    keys = RedisKeys(prefix="rc:")
    client = redis.Redis.from_url(redis_server.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    clock = Clock()
    commit_version(pg_engine, price("a", "0.000001"), publish_to=client, keys=keys)
    cache = CatalogCache(lambda: pg_engine, lambda: client, keys, clock=clock)
    assert input_price(cache.current(), "a") == Decimal("0.000001")

    redis_server.stop()
    v2 = commit_version(pg_engine, price("a", "0.000003"))  # its publish could not happen
    clock.now += 0.6
    snapshot = cache.current()

    assert (snapshot.version, input_price(snapshot, "a")) == (v2, Decimal("0.000003"))
    assert cache.source_of_last_load == "database"

    redis_server.start()  # back, empty: the first check republishes the database's version
    clock.now += 1.1
    assert cache.current().version == v2
    assert read_published_version(redis_server.client(), keys) == v2
    client.close()


def test_reconcile_republishes_when_redis_is_behind(pg_engine: Engine, redis_prefix: str) -> None:
    keys = RedisKeys(prefix=redis_prefix)
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    clock = Clock()
    commit_version(pg_engine, price("a", "0.000001"), publish_to=client, keys=keys)
    cache = CatalogCache(lambda: pg_engine, lambda: client, keys, clock=clock)
    cache.current()
    v2 = commit_version(pg_engine, price("a", "0.000004"))  # committed, publish lost

    clock.now += 5.1  # past the reconcile interval
    snapshot = cache.current()

    assert (snapshot.version, input_price(snapshot, "a")) == (v2, Decimal("0.000004"))
    assert read_published_version(client, keys) == v2
    client.close()


def test_without_redis_rechecks_the_database_at_most_every_second(pg_engine: Engine) -> None:
    clock = Clock()
    cache = CatalogCache(lambda: pg_engine, lambda: None, RedisKeys(prefix="x:"), clock=clock)
    assert cache.current().version is None  # nothing committed yet: an empty catalog
    v1 = commit_version(pg_engine, price("a"))

    clock.now += 0.5
    assert cache.current().version is None
    clock.now += 0.6
    assert cache.current().version == v1


def test_a_partitioned_database_holds_one_request_once_not_one_per_reconcile(
    pg_engine: Engine, redis_prefix: str
) -> None:
    """Redis up, the database's packets dropped: a held snapshot is served at once after the
    first failed check, and the database's newest version is adopted when it is back."""
    keys = RedisKeys(prefix=redis_prefix)
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    proxy = TcpProxy(pg_engine.url.port or 5432).start()
    partitioned = build_engine(  # the service's engine: its 2 s connect timeout
        pg_engine.url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        poolclass=NullPool,  # every check connects anew, as after a dropped connection
    )
    clock = Clock()
    try:
        v1 = commit_version(pg_engine, price("a", "0.000001"), publish_to=client, keys=keys)
        cache = CatalogCache(lambda: partitioned, lambda: client, keys, clock=clock)
        assert cache.current().version == v1

        proxy.blackhole = True
        waits = []
        for _ in range(4):
            clock.now += 5.1  # a reconcile is due at every request
            began = time.monotonic()
            assert cache.current().version == v1
            waits.append(time.monotonic() - began)
        assert waits[0] >= 1.5  # the first check finds out, waiting the connect timeout
        assert max(waits[1:]) < 0.3, waits  # then requests never wait on the database

        v2 = commit_version(pg_engine, price("a", "0.000002"))  # committed, not published
        proxy.blackhole = False
        deadline = time.monotonic() + 10
        while cache.current().version != v2 and time.monotonic() < deadline:
            clock.now += 5.1
            time.sleep(0.1)
        assert input_price(cache.current(), "a") == Decimal("0.000002")
        assert read_published_version(client, keys) == v2  # the reconcile republished it
    finally:
        partitioned.dispose()
        proxy.stop()
        client.close()

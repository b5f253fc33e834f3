"""The instance registry: heartbeats with a TTL in Redis, the database when Redis is away."""

from __future__ import annotations

import time

import redis
from sqlalchemy import Engine

from ratecard.coordination.instance_registry import InstanceRegistry
from ratecard.redis_keys import RedisKeys
from tests.coordination.helpers import fail_fast_redis
from tests.support.services import RedisServer


def info(instance_id: str) -> dict[str, object]:
    return {
        "id": instance_id,
        "host": "h",
        "pid": 42,
        "version": "1.0",
        "started_at": 1.5,
        "role": "web",
    }


def test_heartbeats_register_and_expire_in_redis(
    pg_engine: Engine, redis_client: redis.Redis, redis_prefix: str
) -> None:
    keys = RedisKeys(redis_prefix)
    registry = InstanceRegistry(
        lambda: redis_client, lambda: pg_engine, keys, heartbeat_interval=0.2
    )
    assert registry.heartbeat(info("a")) == "redis"
    assert registry.heartbeat(info("b")) == "redis"
    live = registry.live()
    assert [item["id"] for item in live] == ["a", "b"]
    assert (
        live[0]["role"] == "web"
        and live[0]["pid"] == 42
        and live[0]["started_at"] == 1.5
        and live[0]["store"] == "redis"
    )
    assert 0 < redis_client.pttl(keys.instance("a")) <= 600  # TTL: three heartbeats
    time.sleep(0.35)
    registry.heartbeat(info("b"))
    time.sleep(0.35)  # a missed three heartbeats (0.6 s); b beat 0.35 s ago
    assert [item["id"] for item in registry.live()] == ["b"]
    assert redis_client.zscore(keys.instances, "a") is None, "stale ids are pruned on read"


def test_remove_forgets_an_instance(
    pg_engine: Engine, redis_client: redis.Redis, redis_prefix: str
) -> None:
    registry = InstanceRegistry(
        lambda: redis_client, lambda: pg_engine, RedisKeys(redis_prefix), 10
    )
    registry.heartbeat(info("a"))
    registry.remove("a")
    assert registry.live() == []


def test_heartbeats_fall_back_to_the_database(pg_engine: Engine, redis_server: RedisServer) -> None:
    client = fail_fast_redis(redis_server.url)
    registry = InstanceRegistry(
        lambda: client, lambda: pg_engine, RedisKeys("x:"), heartbeat_interval=1
    )
    redis_server.stop()
    assert registry.heartbeat(info("a")) == "database"
    live = registry.live()
    assert [(item["id"], item["store"], item["pid"]) for item in live] == [("a", "database", 42)]
    redis_server.start()
    assert registry.heartbeat(info("a")) == "redis", "Redis is used again once it is back"
    client.close()

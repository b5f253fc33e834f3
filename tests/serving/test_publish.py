"""Publishing the catalog to Redis: a stale publisher can never replace a newer version."""

from __future__ import annotations

import redis

from ratecard.redis_keys import RedisKeys
from ratecard.serving.publish import (
    encode_catalog,
    publish_catalog,
    publish_quietly,
    read_published,
    read_published_version,
)
from tests.support.services import RedisServer

# Fixtures (db_url, engine, pg_engine, redis_client) shared by the price storage tests.


def test_newer_version_replaces_older(redis_client: redis.Redis, redis_prefix: str) -> None:
    keys = RedisKeys(prefix=redis_prefix)

    assert publish_catalog(redis_client, keys, 41, encode_catalog({"version": 41}))
    assert publish_catalog(redis_client, keys, 42, encode_catalog({"version": 42}))

    assert read_published(redis_client, keys) == (42, b'{"version":42}')


def test_stale_publisher_is_refused(redis_client: redis.Redis, redis_prefix: str) -> None:
    keys = RedisKeys(prefix=redis_prefix)
    publish_catalog(redis_client, keys, 42, b"catalog-42")

    assert not publish_catalog(redis_client, keys, 41, b"catalog-41")  # late, older run
    assert not publish_catalog(redis_client, keys, 42, b"catalog-42-again")  # same version

    assert read_published(redis_client, keys) == (42, b"catalog-42")


def test_versions_compare_as_numbers_not_text(redis_client: redis.Redis, redis_prefix: str) -> None:
    keys = RedisKeys(prefix=redis_prefix)
    publish_catalog(redis_client, keys, 9, b"nine")

    assert publish_catalog(redis_client, keys, 10, b"ten")  # "10" < "9" as text
    assert read_published_version(redis_client, keys) == 10


def test_unreachable_redis_is_reported_not_raised(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    client = redis.Redis.from_url(redis_server.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    redis_server.stop()

    assert publish_quietly(client, RedisKeys(prefix=redis_prefix), 1, b"x") is False
    assert publish_quietly(None, RedisKeys(prefix=redis_prefix), 1, b"x") is False
    client.close()

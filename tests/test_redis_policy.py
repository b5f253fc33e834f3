"""The start-up check of Redis' eviction policy, against a redis-server of the test's own."""

from __future__ import annotations

import logging
import time

import pytest

from ratecard.redis_policy import eviction_warning, warn_if_evictable_in_background
from ratecard.services import make_redis_client
from tests.support.services import RedisServer


def test_no_memory_limit_or_noeviction_is_safe(redis_server: RedisServer) -> None:
    client = make_redis_client(redis_server.url)
    assert eviction_warning(client) is None  # maxmemory 0: nothing is ever evicted

    client.config_set("maxmemory", "100mb")
    client.config_set("maxmemory-policy", "noeviction")
    assert eviction_warning(client) is None


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-ttl"])
def test_an_evicting_policy_with_a_limit_is_named_in_a_warning(
    redis_server: RedisServer, policy: str
) -> None:
    client = make_redis_client(redis_server.url)
    client.config_set("maxmemory", "100mb")
    client.config_set("maxmemory-policy", policy)

    warning = eviction_warning(client)

    assert warning is not None
    assert policy in warning
    assert "noeviction" in warning


def test_the_warning_is_logged_from_the_background(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_redis_client(redis_server.url)
    client.config_set("maxmemory", "100mb")
    client.config_set("maxmemory-policy", "allkeys-lru")
    logger = logging.getLogger("ratecard.redis_policy")
    logger.addHandler(caplog.handler)  # the ratecard logger does not propagate to the root
    try:
        warn_if_evictable_in_background(client)
        deadline = time.monotonic() + 5
        while "allkeys-lru" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        logger.removeHandler(caplog.handler)

    assert "allkeys-lru" in caplog.text


def test_an_unreachable_redis_gives_no_warning_and_no_error() -> None:
    assert eviction_warning(make_redis_client("redis://127.0.0.1:1/0")) is None

"""Fixtures for coordination tests: leases on each backend, engines, a Redis client."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ratecard.coordination.lease import Lease
from ratecard.coordination.redis_lease import RedisLease
from ratecard.coordination.sql_lease import SqlLease
from ratecard.redis_keys import RedisKeys

LeaseFactory = Callable[[str, float], Lease]
BACKENDS = ["redis", "postgresql", "sqlite"]


@pytest.fixture(params=BACKENDS)
def make_lease(request: pytest.FixtureRequest) -> LeaseFactory:
    """Build leases on one backend: the contract suite runs once per backend."""
    if request.param == "redis":
        client = request.getfixturevalue("redis_client")
        keys = RedisKeys(request.getfixturevalue("redis_prefix"))
        return lambda name, ttl: RedisLease(client, keys, name, ttl)
    engine = request.getfixturevalue(
        "pg_engine" if request.param == "postgresql" else "sqlite_engine"
    )
    return lambda name, ttl: SqlLease(engine, name, ttl)

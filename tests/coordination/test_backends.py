"""The two lease stores together: Redis first, the database while Redis is away, and never
both at once for one job (a real redis-server of the test's own, stopped and restarted)."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine

from ratecard.coordination.backends import LeaseBackends
from ratecard.coordination.lease import Holding
from ratecard.redis_keys import RedisKeys
from tests.coordination.helpers import fail_fast_redis
from tests.support.services import RedisServer


def test_a_database_lease_from_a_redis_outage_is_not_doubled_in_redis_when_it_returns(
    engine: Engine, redis_server: RedisServer
) -> None:
    client = fail_fast_redis(redis_server.url)
    keys = RedisKeys(f"rctest-{uuid.uuid4().hex[:6]}:")
    a = LeaseBackends(lambda: client, lambda: engine, keys, ttl=10.0)
    b = LeaseBackends(lambda: client, lambda: engine, keys, ttl=10.0)
    try:
        redis_server.stop()
        held = a.acquire("delivery", "A")
        assert held is not None and held.grant.backend == "database"
        redis_server.start()  # back, and empty

        assert b.acquire("delivery", "B") is None, "B took Redis while A holds the database"
        backend, holding = b.holder("delivery")
        assert backend == "database" and isinstance(holding, Holding) and holding.holder == "A"
        assert client.keys(f"{keys.prefix}*lease*") == []  # B gave its Redis grant back
        assert held.lease.renew(held.grant.token)  # A goes on, alone

        assert held.lease.release(held.grant.token)
        taken = b.acquire("delivery", "B")
        assert taken is not None and taken.grant.backend == "redis"
        assert a.acquire("delivery", "A") is None  # and now A waits for B, in Redis
    finally:
        client.close()

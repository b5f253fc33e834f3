"""One contract, every backend (Redis, PostgreSQL, SQLite): the guarantees a lease must keep."""

from __future__ import annotations

import threading
import time

import pytest

from ratecard.coordination.lease import CoordinationUnavailable, Grant
from ratecard.coordination.redis_lease import RedisLease
from ratecard.coordination.sql_lease import SqlLease
from ratecard.db import build_engine
from ratecard.redis_keys import RedisKeys
from tests.coordination.conftest import LeaseFactory
from tests.coordination.helpers import fail_fast_redis
from tests.support.services import free_port


def test_mutual_exclusion(make_lease: LeaseFactory) -> None:
    a, b = make_lease("job", 5.0), make_lease("job", 5.0)
    grant = a.acquire("instance-a")
    assert grant is not None
    assert b.acquire("instance-b") is None, "a held lease must not be granted twice"
    holding = b.holder()
    assert holding is not None and holding.holder == "instance-a"
    assert holding.fence == grant.fence
    assert 0 < holding.expires_in <= 5.0


def test_leases_of_different_jobs_are_independent(make_lease: LeaseFactory) -> None:
    assert make_lease("refresh", 5.0).acquire("a") is not None
    assert make_lease("maintenance", 5.0).acquire("b") is not None


def test_concurrent_acquirers_get_one_grant(make_lease: LeaseFactory) -> None:
    leases = [make_lease("job", 5.0) for _ in range(8)]
    grants: list[Grant | None] = [None] * len(leases)
    barrier = threading.Barrier(len(leases))

    def contend(i: int) -> None:
        barrier.wait()
        grants[i] = leases[i].acquire(f"instance-{i}")

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(leases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(g is not None for g in grants) == 1


def test_renew_is_owner_checked(make_lease: LeaseFactory) -> None:
    lease = make_lease("job", 1.0)
    grant = lease.acquire("a")
    assert grant is not None
    assert lease.renew("not-the-token") is False
    time.sleep(0.6)
    assert lease.renew(grant.token) is True
    time.sleep(0.6)  # 1.2 s after acquiring: alive only because the renewal extended it
    assert make_lease("job", 1.0).acquire("b") is None


def test_release_is_owner_checked(make_lease: LeaseFactory) -> None:
    a, b = make_lease("job", 5.0), make_lease("job", 5.0)
    grant = a.acquire("a")
    assert grant is not None
    assert b.release("not-the-token") is False
    assert b.acquire("b") is None, "a foreign release must not free the lease"
    assert a.release(grant.token) is True
    assert a.holder() is None
    assert b.acquire("b") is not None, "a released lease is free at once"


def test_expiry_hands_over_and_fences_the_old_holder(make_lease: LeaseFactory) -> None:
    a, b = make_lease("job", 0.5), make_lease("job", 0.5)
    old = a.acquire("a")
    assert old is not None
    time.sleep(0.8)
    assert a.holder() is None
    new = b.acquire("b")
    assert new is not None, "an expired lease must be acquirable"
    assert new.fence > old.fence
    # The old holder, resumed after its pause, can neither extend nor free the new lease.
    assert a.renew(old.token) is False
    assert a.release(old.token) is False
    holding = a.holder()
    assert holding is not None and holding.holder == "b"


def test_fence_numbers_only_grow(make_lease: LeaseFactory) -> None:
    lease = make_lease("job", 5.0)
    fences = []
    for i in range(5):
        grant = lease.acquire(f"i{i}")
        assert grant is not None
        fences.append(grant.fence)
        assert lease.release(grant.token)
    assert fences == sorted(fences) and len(set(fences)) == len(fences)


def test_unreachable_redis_raises_coordination_unavailable() -> None:
    client = fail_fast_redis(f"redis://127.0.0.1:{free_port()}/0")
    lease = RedisLease(client, RedisKeys("x:"), "job", 1.0)
    with pytest.raises(CoordinationUnavailable, match="redis unavailable"):
        lease.acquire("a")
    with pytest.raises(CoordinationUnavailable):
        lease.holder()


def test_unreachable_database_raises_coordination_unavailable() -> None:
    engine = build_engine(f"postgresql+psycopg://postgres:secret@127.0.0.1:{free_port()}/nope")
    lease = SqlLease(engine, "job", 1.0)
    with pytest.raises(CoordinationUnavailable, match="database unavailable") as info:
        lease.acquire("a")
    assert "secret" not in str(info.value)
    engine.dispose()

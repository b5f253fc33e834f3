"""Choose the lease store: Redis when reachable, else the database, else nothing (and why)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ratecard.coordination.lease import CoordinationUnavailable, Grant, Holding, Lease
from ratecard.redis_keys import RedisKeys

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy import Engine

# Deferred: each lease store imports its client library (SQLAlchemy, redis-py) when first
# chosen; create_app builds the backends without either.


@dataclass(frozen=True)
class Acquired:
    """A grant together with the lease object that must renew and release it."""

    lease: Lease
    grant: Grant


class LeaseBackends:
    """Build leases per job on Redis and on the database; try Redis first on every acquire.

    Trying Redis first each time (one command) is how Redis coming back is noticed; a Redis
    grant is kept only if nobody else holds the job's database lease (`_held_in_database`).
    While Redis is flapping two instances may still hold leases in different stores for the
    same job (a holder's key lost with Redis mid-term); both may fetch, but the slot fence
    lets only one of them commit.
    """

    def __init__(
        self,
        redis: Callable[[], Redis | None],
        engine: Callable[[], Engine],
        keys: RedisKeys,
        ttl: float,
    ) -> None:
        self._redis = redis  # factories: clients are created lazily, after any fork
        self._engine = engine
        self.keys = keys
        self.ttl = ttl
        self._lock = threading.Lock()
        self._leases: dict[tuple[str, str], Lease] = {}
        self.in_use: str | None = None  # "redis" | "database" | None, from the last attempt
        self.problem: str | None = None  # why nothing (or only the fallback) is usable

    def redis_client(self) -> Redis | None:
        """Return the Redis client leases use, or None when Redis is not configured."""
        return self._redis()

    def redis_lease(self, job: str) -> Lease | None:
        """Return the Redis lease for `job`, or None when REDIS_URL is unset."""
        client = self._redis()
        if client is None:
            return None
        return self._cached(
            "redis", job, lambda: _make_redis_lease(client, self.keys, job, self.ttl)
        )

    def sql_lease(self, job: str) -> Lease:
        """Return the database lease for `job`."""
        from ratecard.coordination.sql_lease import SqlLease

        return self._cached("database", job, lambda: SqlLease(self._engine(), job, self.ttl))

    def candidates(self, job: str) -> list[Lease]:
        """Return the leases to try, preferred first."""
        redis_lease = self.redis_lease(job)
        return [redis_lease, self.sql_lease(job)] if redis_lease else [self.sql_lease(job)]

    def acquire(self, job: str, holder: str) -> Acquired | None:
        """Try each store once; None if the lease is held or no store answers (see `problem`)."""
        problems: list[str] = []
        for lease in self.candidates(job):
            try:
                grant = lease.acquire(holder)
            except CoordinationUnavailable as exc:
                problems.append(str(exc))
                continue
            self.in_use = lease.backend
            self.problem = "; ".join(problems) or None
            if (
                grant is not None
                and lease.backend == "redis"
                and self._held_in_database(job, holder)
            ):
                # Should Redis be gone again, the key expires within its TTL.
                with contextlib.suppress(CoordinationUnavailable):
                    lease.release(grant.token)
                return None
            return Acquired(lease, grant) if grant else None
        self.in_use = None
        self.problem = "; ".join(problems) + " (no lease store reachable: nothing runs)"
        return None

    def _held_in_database(self, job: str, holder: str) -> bool:
        """Whether another instance holds `job`'s database lease (checked after a Redis grant).

        Timeline it prevents: Redis stops; instance A falls back to the database lease and
        keeps renewing it (the delivery loop holds its lease for as long as it runs); Redis
        restarts empty; instance B tries Redis first, finds the key free and takes it. Both
        hold "the" lease, in two stores, until A stops (~52 s measured): two delivery loops,
        two refresh runs racing to the fence. With this check, B gives its Redis grant back
        while A's database lease is live; B gets Redis once A releases or A's lease expires.
        The cost is one database read per Redis grant, never per refused attempt.
        """
        holding = self._database_holding(job)
        return holding is not None and holding.holder != holder

    def _database_holding(self, job: str) -> Holding | None:
        """Who holds `job`'s database lease; None when free or when the database can't be
        reached (nobody renews a database lease the database can't be reached for)."""
        try:
            return self.sql_lease(job).holder()
        except CoordinationUnavailable:
            return None

    def holder(self, job: str) -> tuple[str | None, object]:
        """Return (backend, Holding | None) from the first reachable store, or (None, error).

        A free Redis lease also asks the database: an instance that took the database lease
        while Redis was away may still hold it (see `_held_in_database`).
        """
        problems: list[str] = []
        for lease in self.candidates(job):
            try:
                holding = lease.holder()
            except CoordinationUnavailable as exc:
                problems.append(str(exc))
                continue
            if holding is None and lease.backend == "redis":
                fallback = self._database_holding(job)
                if fallback is not None:
                    return "database", fallback
            return lease.backend, holding
        return None, "; ".join(problems)

    def _cached(self, kind: str, job: str, build: Callable[[], Lease]) -> Lease:
        with self._lock:
            lease = self._leases.get((kind, job))
            if lease is None:
                lease = self._leases[(kind, job)] = build()
            return lease


def _make_redis_lease(client: Redis, keys: RedisKeys, job: str, ttl: float) -> Lease:
    from ratecard.coordination.redis_lease import RedisLease

    return RedisLease(client, keys, job, ttl)

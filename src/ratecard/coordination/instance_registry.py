"""The instance registry: who is alive, from heartbeats (Redis; the database when Redis is away).

A heartbeat is three Redis commands in one round trip (HSET, PEXPIRE, ZADD); the hash expires
after three missed heartbeats, so a SIGKILLed instance disappears by itself.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ratecard.coordination.lease import CoordinationUnavailable
from ratecard.coordination.schedule import epoch_seconds
from ratecard.redis_keys import RedisKeys

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy import Engine

# Deferred: SQLAlchemy and the schema are imported by the first heartbeat written to the
# database, not by create_app.

MISSED_HEARTBEATS = 3  # an instance silent for this many heartbeats counts as gone


class InstanceRegistry:
    """Write this instance's heartbeat and list the live ones.

    SQLAlchemy and the schema are imported in the methods that use them: the registry is
    built by create_app(), and the ORM must stay off the path to a worker's first ready answer.
    """

    def __init__(
        self,
        redis: Callable[[], Redis | None],
        engine: Callable[[], Engine],
        keys: RedisKeys,
        heartbeat_interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._engine = engine
        self.keys = keys
        self.ttl = MISSED_HEARTBEATS * heartbeat_interval
        self.clock = clock

    def heartbeat(self, info: dict[str, Any]) -> str:
        """Register `info` (id, host, pid, version, started_at, role); return the store used."""
        from redis.exceptions import RedisError
        from sqlalchemy.exc import SQLAlchemyError

        from ratecard.coordination.upsert import upsert
        from ratecard.schema import instances

        client = self._redis()
        if client is not None:
            try:
                pipe = client.pipeline(transaction=False)
                key = self.keys.instance(info["id"])
                pipe.hset(key, mapping={k: str(v) for k, v in info.items() if v is not None})
                pipe.pexpire(key, max(1, round(self.ttl * 1000)))
                pipe.zadd(self.keys.instances, {info["id"]: self.clock()})
                pipe.execute()
                return "redis"
            except RedisError:
                pass  # fall through to the database, as the leases do
        try:
            with self._engine().begin() as conn:
                upsert(conn, instances, "instance_id", _row(info, self.clock()))
        except SQLAlchemyError as exc:
            raise CoordinationUnavailable("database", type(exc).__name__) from exc
        return "database"

    def remove(self, instance_id: str) -> None:
        """Forget an instance that stops cleanly (best effort in both stores)."""
        from redis.exceptions import RedisError
        from sqlalchemy import delete
        from sqlalchemy.exc import SQLAlchemyError

        from ratecard.schema import instances

        client = self._redis()
        if client is not None:
            with contextlib.suppress(RedisError):
                pipe = client.pipeline(transaction=False)
                pipe.delete(self.keys.instance(instance_id))
                pipe.zrem(self.keys.instances, instance_id)
                pipe.execute()
        try:
            with self._engine().begin() as conn:
                conn.execute(delete(instances).where(instances.c.instance_id == instance_id))
        except SQLAlchemyError:
            pass

    def live(self) -> list[dict[str, Any]]:
        """Return the instances heard from within the TTL, from every reachable store."""
        found: dict[str, dict[str, Any]] = {}
        for item in self._live_in_database() + self._live_in_redis():
            found[item["id"]] = item
        return sorted(found.values(), key=lambda item: str(item["id"]))

    def _live_in_redis(self) -> list[dict[str, Any]]:
        from redis.exceptions import RedisError

        client = self._redis()
        if client is None:
            return []
        now = self.clock()
        try:
            client.zremrangebyscore(self.keys.instances, "-inf", now - self.ttl)
            ids = client.zrange(self.keys.instances, 0, -1)
            pipe = client.pipeline(transaction=False)
            for raw in ids:
                pipe.hgetall(self.keys.instance(_text(raw)))
            hashes = pipe.execute()
        except RedisError:
            return []
        out = []
        for data in hashes:
            if data:
                item: dict[str, Any] = {_text(k): _text(v) for k, v in data.items()}
                item.update(_numbers(item), store="redis")
                out.append(item)
        return out

    def _live_in_database(self) -> list[dict[str, Any]]:
        from sqlalchemy import select
        from sqlalchemy.exc import SQLAlchemyError

        from ratecard.schema import instances

        since = datetime.fromtimestamp(self.clock(), UTC) - timedelta(seconds=self.ttl)
        try:
            with self._engine().connect() as conn:
                rows = conn.execute(
                    select(instances).where(instances.c.last_seen_at >= since)
                ).mappings()
                return [
                    {
                        "id": row["instance_id"],
                        "host": row["host"],
                        "pid": row["pid"],
                        "version": row["version"],
                        "role": row["role"],
                        "started_at": epoch_seconds(row["started_at"]),
                        "last_seen_at": epoch_seconds(row["last_seen_at"]),
                        "store": "database",
                    }
                    for row in rows
                ]
        except SQLAlchemyError:
            return []


def _row(info: dict[str, Any], now: float) -> dict[str, Any]:
    started = info.get("started_at")
    return {
        "instance_id": str(info["id"])[:255],
        "host": info.get("host"),
        "pid": info.get("pid"),
        "version": info.get("version"),
        "role": info.get("role"),
        "started_at": datetime.fromtimestamp(float(started), UTC) if started else None,
        "last_seen_at": datetime.fromtimestamp(now, UTC),
    }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _numbers(item: dict[str, Any]) -> dict[str, Any]:
    # A Redis hash holds strings; give back the types the database path returns.
    out: dict[str, Any] = {}
    for name, kind in (("pid", int), ("started_at", float)):
        try:
            out[name] = kind(item[name])
        except (KeyError, ValueError):
            out[name] = None
    return out

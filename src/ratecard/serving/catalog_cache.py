"""The in-process catalog cache: the snapshot (`catalog.snapshot`) of the newest committed
version, kept per process.

`CatalogCache.current()` returns the snapshot of the newest committed catalog version:
- with Redis, it asks Redis for the published version at most every `redis_recheck` seconds
  (0.5 s: at most one round trip per request, usually none), and loads the blob only when the
  version moved;
- without Redis, or while Redis fails, it asks the database for its newest committed version
  at most every `db_recheck` seconds (1 s) and reloads from the database when it moved;
- every `reconcile_interval` seconds, on the first success after a Redis failure, and when
  Redis holds no version at all, it compares Redis with the database and republishes the
  database's catalog when Redis is behind. Timeline this prevents: run 42 commits while Redis
  is unreachable, so its publish fails; Redis comes back still holding 41; without the
  reconcile every instance would serve 41 until the next refresh (hours later).
- once a database check has failed, and while this process holds a snapshot, the database's
  part of a check runs in a background thread until one succeeds: see `_db_call`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ratecard.catalog.snapshot import CatalogSnapshot
from ratecard.errors import ServiceUnavailable
from ratecard.redis_keys import RedisKeys
from ratecard.serving.publish import (
    decode_catalog,
    encode_catalog,
    publish_quietly,
    read_published,
    read_published_version,
)

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)

# Deferred: the database queries (SQLAlchemy, ~0.2 s) are imported by the first catalog load,
# not by create_app, which builds the cache.


def newest_catalog_data(conn: Connection) -> dict[str, Any]:
    """The newest committed catalog's data, read from the database."""
    # Deferred (here and in the cache below): the queries import SQLAlchemy (~0.2 s), which a
    # worker pays on its first catalog load, not while it starts.
    from ratecard.serving import queries

    # Version first: the content read after it is at least as new as the label.
    version = queries.latest_catalog_version(conn)
    return queries.load_catalog_data(conn, version)


def newest_snapshot(conn: Connection) -> CatalogSnapshot:
    """The newest committed catalog, read from the database (the CLI's and benches' view)."""
    return CatalogSnapshot.from_data(newest_catalog_data(conn))


class CatalogCache:
    """Serve the newest committed catalog from memory; see the module docstring for the rules."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        redis: Callable[[], Redis | None],
        keys: RedisKeys,
        *,
        redis_recheck: float = 0.5,
        db_recheck: float = 1.0,
        reconcile_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._redis = redis
        self._keys = keys
        self._redis_recheck = redis_recheck
        self._db_recheck = db_recheck
        self._reconcile_interval = reconcile_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: CatalogSnapshot | None = None
        self._next_check = 0.0
        self._next_reconcile = 0.0
        self._redis_failed = False
        self._db_failing = False
        self._background: threading.Thread | None = None
        self._swap = threading.Lock()  # _adopt's compare-and-set, from either thread
        self.source_of_last_load = "none"  # redis | database | local (for tests and status)

    def current(self) -> CatalogSnapshot:
        """Return the newest snapshot, re-checking the published version when it is due."""
        snapshot = self._snapshot
        if snapshot is not None and self._clock() < self._next_check:
            return snapshot
        # One thread re-checks; the others keep serving the snapshot they have.
        if not self._lock.acquire(blocking=snapshot is None):
            return snapshot  # type: ignore[return-value]  # only reached when not None
        try:
            if self._snapshot is None or self._clock() >= self._next_check:
                self._recheck()
        finally:
            self._lock.release()
        if self._snapshot is None:
            raise ServiceUnavailable("the price catalog cannot be loaded: database unreachable")
        return self._snapshot

    @property
    def loaded(self) -> bool:
        """Whether this process holds a catalog (it can answer from memory)."""
        return self._snapshot is not None

    def start_with(self, snapshot: CatalogSnapshot) -> None:
        """Begin with `snapshot`, read from Redis moments ago (the master's preload, see
        readiness_seed): served at once, re-checked after the usual period."""
        with self._lock:
            if self._snapshot is None:
                self._snapshot = snapshot
                self.source_of_last_load = "preloaded"
                self._next_check = self._clock() + self._redis_recheck

    def install(self, data: Mapping[str, Any]) -> None:
        """Adopt catalog data this process just committed (saves a reload after a refresh)."""
        snapshot = CatalogSnapshot.from_data(data)
        with self._swap:
            if self._version_of(self._snapshot) <= self._version_of(snapshot):
                self._snapshot = snapshot
                self.source_of_last_load = "local"

    def invalidate(self) -> None:
        """Make the next `current()` re-check the published version."""
        self._next_check = 0.0

    @staticmethod
    def _version_of(snapshot: CatalogSnapshot | None) -> int:
        if snapshot is None or snapshot.version is None:
            return -1
        return snapshot.version

    def _recheck(self) -> None:
        # Deferred: redis-py and SQLAlchemy load on the first check, not at start-up.
        from redis.exceptions import RedisError
        from sqlalchemy.exc import SQLAlchemyError

        now = self._clock()
        redis = self._redis()
        try:
            if redis is not None:
                try:
                    self._recheck_redis(redis, now)
                    self._next_check = now + self._redis_recheck
                    return
                except RedisError as exc:
                    if not self._redis_failed:
                        log.warning("Redis unavailable, serving the catalog from the DB: %s", exc)
                    self._redis_failed = True
            self._db_call(self._recheck_database)
            self._next_check = now + self._db_recheck
        except SQLAlchemyError as exc:
            # Keep serving what we have; try again at the next check.
            self._db_failing = True
            log.warning("could not re-check the catalog in the database: %s", exc)
            self._next_check = now + self._db_recheck

    def _db_call(self, check: Callable[[], None]) -> None:
        """Run a check that reads the database: inline, or in the background while it fails.

        Timeline this prevents: the database is partitioned away (packets dropped, Redis
        still up). Every 5 s the reconcile of one request per worker waits out the 2 s connect
        timeout, and on the next reconcile again, for as long as the partition lasts. After
        the first failure, and while a snapshot is held, the check runs in one background
        thread instead, and requests keep answering from memory (Redis version loads stay
        on the request path: they need no database). The first success in the background
        makes checks inline again, so a healthy database is read exactly as before.
        """
        if not self._db_failing or self._snapshot is None:
            check()
            return
        running = self._background
        if running is not None and running.is_alive():
            return  # one background check at a time; its result is adopted when it ends
        self._background = threading.Thread(
            target=self._check_in_background,
            args=(check,),
            name="ratecard-catalog-check",
            daemon=True,
        )
        self._background.start()

    def _check_in_background(self, check: Callable[[], None]) -> None:
        from redis.exceptions import RedisError
        from sqlalchemy.exc import SQLAlchemyError

        try:
            check()
        except (SQLAlchemyError, RedisError) as exc:
            log.warning("could not re-check the catalog in the database: %s", exc)

    def _recheck_redis(self, redis: Redis, now: float) -> None:
        published = read_published_version(redis, self._keys)
        if self._redis_failed or published is None or now >= self._next_reconcile:
            self._db_call(lambda: self._reconcile(redis, published))
            self._redis_failed = False
            self._next_reconcile = now + self._reconcile_interval
        elif published > self._version_of(self._snapshot) and not self._load_from_redis(redis):
            self._db_call(lambda: self._reconcile(redis, None))

    def _load_from_redis(self, redis: Redis) -> bool:
        version, blob = read_published(redis, self._keys)
        if version is None or blob is None:
            return False
        data = decode_catalog(blob)
        data["version"] = version
        self._adopt(data, "redis")
        return True

    def _reconcile(self, redis: Redis, published: int | None) -> None:
        """Bring Redis up to the database's committed version, then adopt the newest."""
        from ratecard.serving import queries

        with self._engine().connect() as conn:
            db_version = queries.latest_catalog_version(conn)
            behind = db_version is not None and db_version > (published or -1)
            data = queries.load_catalog_data(conn, db_version) if behind else None
        if data is not None and db_version is not None:
            publish_quietly(redis, self._keys, db_version, encode_catalog(data))
            self._adopt(data, "database")
        elif published is not None and published > self._version_of(self._snapshot):
            self._load_from_redis(redis)
        elif self._snapshot is None:
            self._adopt(self._load_from_database(), "database")
        self._db_failing = False

    def _recheck_database(self) -> None:
        from ratecard.serving import queries

        with self._engine().connect() as conn:
            db_version = queries.latest_catalog_version(conn)
        if self._snapshot is None or db_version != self._snapshot.version:
            self._adopt(self._load_from_database(), "database")
        self._db_failing = False

    def _load_from_database(self) -> dict[str, Any]:
        with self._engine().connect() as conn:
            return newest_catalog_data(conn)

    def _adopt(self, data: Mapping[str, Any], origin: str) -> None:
        snapshot = CatalogSnapshot.from_data(data)
        with self._swap:
            if self._version_of(snapshot) >= self._version_of(self._snapshot):
                self._snapshot = snapshot
                self.source_of_last_load = origin

"""The in-process catalog: an immutable snapshot of everything served, and the cache keeping it.

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
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ratecard.catalog import codec
from ratecard.catalog.model import ModelPrice
from ratecard.errors import ServiceUnavailable
from ratecard.redis_keys import RedisKeys
from ratecard.vocabulary import HeldKind, PriceStatus

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy import Connection, Engine

    from ratecard.catalog.identity import ModelIndex, Resolution

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    """One served model with when it was last observed and last changed (ISO strings)."""

    price: ModelPrice
    last_observed_at: str | None
    last_changed_at: str | None
    # Set while the feed's entry is rejected: these are the last good prices.
    rejected_reason: str | None = None
    rejected_since: str | None = None


@dataclass(frozen=True)
class CatalogSnapshot:
    """Everything the API serves for one catalog version, indexed for lookups."""

    version: int | None
    updated_at: str | None
    models: tuple[ServedModel, ...]
    sources: tuple[dict[str, Any], ...] = ()
    held: tuple[dict[str, Any], ...] = ()
    by_id: Mapping[str, tuple[ServedModel, ...]] = field(default_factory=dict)
    held_by_model: Mapping[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CatalogSnapshot:
        """Build a snapshot from catalog data (queries.load_catalog_data or a Redis blob)."""
        served = tuple(
            sorted(
                (_served_from_item(item) for item in data.get("models", ())),
                key=lambda m: (m.price.model_id, m.price.source),
            )
        )
        by_id: dict[str, list[ServedModel]] = {}
        for model in served:
            by_id.setdefault(model.price.model_id, []).append(model)
        held = tuple(data.get("held", ()))
        return cls(
            version=data.get("version"),
            updated_at=data.get("updated_at"),
            models=served,
            sources=tuple(data.get("sources", ())),
            held=held,
            by_id={k: tuple(v) for k, v in by_id.items()},
            held_by_model={
                (h["source"], h["model_id"]): h
                for h in held
                if h.get("kind") == HeldKind.PRICE and h.get("model_id")
            },
        )

    @classmethod
    def empty(cls) -> CatalogSnapshot:
        """The catalog before any refresh committed."""
        return cls(version=None, updated_at=None, models=())

    @cached_property
    def identity(self) -> ModelIndex:
        """The resolver and cross-source links over this version (built once, on first use).

        Cached on the immutable snapshot, so it is rebuilt exactly when the version moves.
        """
        from ratecard.catalog.identity import ModelIndex

        return ModelIndex([m.price for m in self.models])

    @cached_property
    def memo(self) -> dict[Any, Any]:
        """Per-version memo of derived answers (a model's body): valid as long as the snapshot."""
        return {}

    @property
    def counts_by_status(self) -> dict[str, int]:
        """Return how many models are served per price status."""
        counts: dict[str, int] = dict.fromkeys(PriceStatus, 0)
        for model in self.models:
            counts[model.price.status] = counts.get(model.price.status, 0) + 1
        return counts

    def find(
        self, model_id: str, source: str | None = None, preferred: Sequence[str] = ()
    ) -> ServedModel | None:
        """Return a served model; without `source`, the first of `preferred` sources that has it."""
        candidates = self.by_id.get(model_id, ())
        if source is not None:
            return next((m for m in candidates if m.price.source == source), None)
        if not candidates:
            return None
        rank = {name: i for i, name in enumerate(preferred)}
        return min(candidates, key=lambda m: (rank.get(m.price.source, len(rank)), m.price.source))


def newest_catalog_data(conn: Connection) -> dict[str, Any]:
    """The newest committed catalog's data, read from the database."""
    from ratecard.ingest import run_records
    from ratecard.serving import queries

    # Version first: the content read after it is at least as new as the label.
    version = run_records.latest_catalog_version(conn)
    return queries.load_catalog_data(conn, version)


def newest_snapshot(conn: Connection) -> CatalogSnapshot:
    """The newest committed catalog, read from the database (the CLI's and benches' view)."""
    return CatalogSnapshot.from_data(newest_catalog_data(conn))


def resolve_recorded(
    snapshot: CatalogSnapshot,
    model_id: str,
    source: str | None,
    preferred: Sequence[str],
    sources_of: Callable[[str], Collection[str]],
) -> Resolution:
    """Resolve a model as typed against what is served; a model no longer served is still
    found by its exact id among those the database ever recorded (its past prices exist).

    `sources_of(model_id)` lists the sources that ever listed the id (queries.model_sources;
    asked only when the id is not served). The source: the one asked for, else the
    preferred one that has (had) the id, served first. Raises UnknownModel (404) for an id
    no source ever listed.
    """
    from ratecard.catalog.identity import Resolution, UnknownModel

    try:
        return snapshot.identity.resolve(model_id, source, preferred)
    except UnknownModel:
        known = sources_of(model_id)
        if source is not None and source not in known:
            raise UnknownModel(f"source {source!r} never listed {model_id!r}") from None
        if not known:
            raise UnknownModel(f"no model {model_id!r} was ever listed") from None
        rank = {name: i for i, name in enumerate(preferred)}
        served = {m.price.source for m in snapshot.by_id.get(model_id, ())}
        chosen = source or min(known, key=lambda s: (s not in served, rank.get(s, len(rank)), s))
        # Not served, so not in the index: linked() finds nothing for this placeholder.
        recorded = ModelPrice(source=chosen, model_id=model_id, status=PriceStatus.UNPRICED)
        return Resolution(recorded, model_id, "exact")


def _served_from_item(item: Mapping[str, Any]) -> ServedModel:
    return ServedModel(
        codec.from_item(item),
        item.get("last_observed_at"),
        item.get("last_changed_at"),
        item.get("rejected_reason"),
        item.get("rejected_since"),
    )


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

    def install(self, data: Mapping[str, Any]) -> None:
        """Adopt catalog data this process just committed (saves a reload after a refresh)."""
        snapshot = CatalogSnapshot.from_data(data)
        with self._lock:
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
            self._recheck_database()
            self._next_check = now + self._db_recheck
        except SQLAlchemyError as exc:
            # Keep serving what we have; try again at the next check.
            log.warning("could not re-check the catalog in the database: %s", exc)
            self._next_check = now + self._db_recheck

    def _recheck_redis(self, redis: Redis, now: float) -> None:
        from ratecard.serving.publish import read_published_version

        published = read_published_version(redis, self._keys)
        if self._redis_failed or published is None or now >= self._next_reconcile:
            self._reconcile(redis, published)
            self._redis_failed = False
            self._next_reconcile = now + self._reconcile_interval
        elif published > self._version_of(self._snapshot) and not self._load_from_redis(redis):
            self._reconcile(redis, None)

    def _load_from_redis(self, redis: Redis) -> bool:
        from ratecard.serving.publish import decode_catalog, read_published

        version, blob = read_published(redis, self._keys)
        if version is None or blob is None:
            return False
        data = decode_catalog(blob)
        data["version"] = version
        self._adopt(data, "redis")
        return True

    def _reconcile(self, redis: Redis, published: int | None) -> None:
        """Bring Redis up to the database's committed version, then adopt the newest."""
        from ratecard.ingest import run_records
        from ratecard.serving import queries
        from ratecard.serving.publish import encode_catalog, publish_quietly

        with self._engine().connect() as conn:
            db_version = run_records.latest_catalog_version(conn)
            behind = db_version is not None and db_version > (published or -1)
            data = queries.load_catalog_data(conn, db_version) if behind else None
        if data is not None and db_version is not None:
            publish_quietly(redis, self._keys, db_version, encode_catalog(data))
            self._adopt(data, "database")
        elif published is not None and published > self._version_of(self._snapshot):
            self._load_from_redis(redis)
        elif self._snapshot is None:
            self._adopt(self._load_from_database(), "database")

    def _recheck_database(self) -> None:
        from ratecard.ingest import run_records

        with self._engine().connect() as conn:
            db_version = run_records.latest_catalog_version(conn)
        if self._snapshot is not None and db_version == self._snapshot.version:
            return
        self._adopt(self._load_from_database(), "database")

    def _load_from_database(self) -> dict[str, Any]:
        with self._engine().connect() as conn:
            return newest_catalog_data(conn)

    def _adopt(self, data: Mapping[str, Any], origin: str) -> None:
        snapshot = CatalogSnapshot.from_data(data)
        if self._version_of(snapshot) >= self._version_of(self._snapshot):
            self._snapshot = snapshot
            self.source_of_last_load = origin

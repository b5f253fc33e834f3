"""Per-app state, kept in `app.extensions["ratecard"]` (the Flask extension way).

Connections are created lazily, on first use, so `create_app()` does no I/O, and per process:
gunicorn forks workers after loading nothing of ours (see gunicorn_conf), so no socket or pool
is ever shared across a fork.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, current_app

from ratecard import __version__
from ratecard.settings import Settings

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy import Engine

    from ratecard.changes.delivery import DeliveryWorker
    from ratecard.coordination.coordinator import Coordinator
    from ratecard.health.check_registry import HealthRegistry
    from ratecard.health.probe_db import ProbeDatabase
    from ratecard.serving.catalog_cache import CatalogCache
    from ratecard.web.dashboard.source_panel import StatusGatherer

T = TypeVar("T")

EXTENSION_KEY = "ratecard"


@dataclass
class InstanceInfo:
    """Who this process is, as shown in the registry, status and logs."""

    instance_id: str
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    version: str = __version__
    started_at: float = field(default_factory=time.time)
    role: str = "web"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.instance_id,
            "host": self.host,
            "pid": self.pid,
            "version": self.version,
            "started_at": self.started_at,
            "role": self.role,
        }


class RatecardState:
    """The services one app instance uses; everything network-bound is created on first use."""

    def __init__(self, settings: Settings, instance: InstanceInfo | None = None) -> None:
        self.settings = settings
        self.instance = instance or InstanceInfo(instance_id=settings.instance_id)
        self.initialized = threading.Event()  # set when start-up work is done (startup probe)
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._redis: Redis | None = None
        # Per-area objects, each registered by its area's init_app (None until then). Typed
        # attributes rather than a dict by name: a misspelt key was a None at run time, and
        # every reader had to cast what it got back.
        self.catalog_cache: CatalogCache | None = None
        # A cache for processes that never registered the API's (the CLI, scripts).
        self.fallback_catalog_cache: CatalogCache | None = None
        self.coordinator: Coordinator | None = None
        self.delivery: DeliveryWorker | None = None  # the webhook delivery loop (issue 14)
        self.health_registry: HealthRegistry | None = None
        self.probe_db: ProbeDatabase | None = None
        self.health_warmup: threading.Thread | None = None
        # (readiness_only, details) -> (results identity, body, status): see health_payload.
        self.health_payload_memo: dict[tuple[bool, bool], tuple[tuple[Any, ...], bytes, int]] = {}
        self.status_gatherer: StatusGatherer | None = None
        self.shutdown_hooks: list[Callable[[], None]] = []

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from ratecard.db import build_engine

                    self._engine = build_engine(self.settings.database_url)
        return self._engine

    @property
    def redis(self) -> Redis | None:
        """A Redis client with short timeouts, or None when REDIS_URL is unset."""
        if self.settings.redis_url is None:
            return None
        if self._redis is None:
            with self._lock:
                if self._redis is None:
                    self._redis = make_redis_client(self.settings.redis_url)
        return self._redis

    def need_catalog_cache(self) -> CatalogCache:
        """The catalog cache the API registered; a clear error if it was not registered."""
        return _registered(self.catalog_cache, "the catalog cache (ratecard.web.api.init_app)")

    def need_coordinator(self) -> Coordinator:
        """The coordinator; a clear error if ratecard.background.init_app did not run."""
        return _registered(self.coordinator, "the coordinator (ratecard.background.init_app)")

    def need_health_registry(self) -> HealthRegistry:
        """The health check registry; a clear error if ratecard.health.init_app did not run."""
        return _registered(self.health_registry, "the health registry (ratecard.health.init_app)")

    def need_probe_db(self) -> ProbeDatabase:
        """The health probe's database connection holder (registered with the health checks)."""
        return _registered(self.probe_db, "the probe database (ratecard.health.init_app)")

    def shutdown(self) -> None:
        """Run shutdown hooks (stop the coordinator, release leases), then close pools."""
        for hook in reversed(self.shutdown_hooks):
            try:
                hook()
            except Exception:
                import logging

                logging.getLogger(__name__).exception("shutdown hook failed")
        if self._engine is not None:
            self._engine.dispose()
        if self._redis is not None:
            self._redis.close()


class ComponentMissing(RuntimeError):
    """An area's object was asked for before (or without) its init_app registering it."""


def _registered(component: T | None, what: str) -> T:
    if component is None:
        raise ComponentMissing(f"{what} is not registered on this app")
    return component


def make_redis_client(url: str, timeout: float = 1.0) -> Redis:
    """Create a Redis client that fails fast: a Redis outage must cost a probe one second.

    redis-py retries a failed command (several times, with back-off) by default; against a
    dead server that turns a 1 s timeout into ~4 s per command, longer than a probe's budget
    and a third of a lease TTL. Every caller here has its own fallback, so: no retries.
    """
    from redis import Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        decode_responses=False,
        retry=Retry(NoBackoff(), 0),
    )


def get_state(app: Flask | None = None) -> RatecardState:
    """Return the ratecard state of `app` (default: the current app)."""
    target = app if app is not None else current_app
    state: RatecardState = target.extensions[EXTENSION_KEY]
    return state

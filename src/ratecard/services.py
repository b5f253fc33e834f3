"""The services one process talks to: settings, who it is, and its lazy database and Redis.

Connections are created on first use, so building this does no I/O, and per process:
gunicorn forks workers after loading nothing of ours (see gunicorn_conf), so no socket or pool
is ever shared across a fork. The web app's state, the CLI and the worker build on this.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ratecard import __version__
from ratecard.settings import Settings

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy import Engine

log = logging.getLogger(__name__)


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


class Services:
    """Settings, identity, and everything network-bound, created on first use."""

    def __init__(self, settings: Settings, instance: InstanceInfo | None = None) -> None:
        self.settings = settings
        self.instance = instance or InstanceInfo(instance_id=settings.instance_id)
        self.shutdown_hooks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._redis: Redis | None = None

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    # Deferred: SQLAlchemy costs ~0.2 s of start-up, and create_app does no I/O.
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

    def shutdown(self) -> None:
        """Run shutdown hooks (stop the coordinator, release leases), then close pools."""
        for hook in reversed(self.shutdown_hooks):
            try:
                hook()
            except Exception:
                log.exception("shutdown hook failed")
        if self._engine is not None:
            self._engine.dispose()
        if self._redis is not None:
            self._redis.close()


def make_redis_client(url: str, timeout: float = 1.0) -> Redis:
    """Create a Redis client that fails fast: a Redis outage must cost a probe one second.

    redis-py retries a failed command (several times, with back-off) by default; against a
    dead server that turns a 1 s timeout into ~4 s per command, longer than a probe's budget
    and a third of a lease TTL. Every caller here has its own fallback, so: no retries.
    """
    # Deferred: redis-py costs ~0.1 s of start-up, and a process without REDIS_URL never pays.
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

"""Real `ratecard worker run` processes for fleet tests (tests/support/processes.py runs them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, text

from ratecard.redis_keys import RedisKeys
from tests.support.processes import RatecardProcess, worker
from tests.support.services import clean_env


@dataclass
class Fleet:
    """Worker processes sharing one database and one Redis; always `close()` (kills them all)."""

    settings: dict[str, str]
    log_dir: Path
    processes: dict[str, RatecardProcess] = field(default_factory=dict)

    @classmethod
    def configure(
        cls,
        log_dir: Path,
        database_url: str,
        redis_url: str | None,
        sources: str,
        interval: float,
        ttl: float,
        **extra: str,
    ) -> Fleet:
        settings = {
            "DATABASE_URL": database_url,
            "RATECARD_SOURCES": sources,
            "RATECARD_REFRESH_INTERVAL": str(interval),
            "RATECARD_LEASE_TTL": str(ttl),
            "RATECARD_HEARTBEAT_INTERVAL": "0.5",
            "RATECARD_LOG_FORMAT": "text",
            "RATECARD_REDIS_PREFIX": "fleet:",
            **extra,
        }
        if redis_url:
            settings["REDIS_URL"] = redis_url
        return cls(settings, log_dir)

    @property
    def env(self) -> dict[str, str]:
        """The full environment of a fleet member (for one-shot commands run beside it)."""
        return clean_env(**self.settings)

    def spawn(self, name: str) -> RatecardProcess:
        process = worker(
            self.log_dir / f"{name}.log", env=self.settings, RATECARD_INSTANCE_ID=name
        ).start()
        self.processes[name] = process
        return process

    def signal(self, name: str, signum: int) -> None:
        self.processes[name].signal(signum)

    def terminate_all(self, timeout: float = 15) -> dict[str, int | None]:
        """SIGTERM every member at once; exit codes by name (None: still running after timeout)."""
        for process in self.processes.values():
            process.terminate()
        return {name: process.wait(timeout) for name, process in self.processes.items()}

    def close(self) -> None:
        for process in self.processes.values():
            process.kill()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.log_dir.glob("*.log"))
        )


def lease_holder(client: redis.Redis, job: str = "refresh") -> str | None:
    """Return the instance id holding `job`'s Redis lease, or None."""
    try:
        value = client.get(RedisKeys("fleet:").lease(job))
    except redis.RedisError:
        return None
    if not value:
        return None
    return (value.decode() if isinstance(value, bytes) else str(value)).split("|", 1)[1]


def committed_runs(engine: Engine, job: str = "refresh") -> list[dict[str, Any]]:
    """Runs whose results committed (P2 sets catalog_version in the committing transaction)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, slot, instance_id, trigger, outcome, started_at FROM runs "
                "WHERE job = :job AND catalog_version IS NOT NULL ORDER BY id"
            ),
            {"job": job},
        ).mappings()
        return [dict(row) for row in rows]


def all_runs(engine: Engine, job: str = "refresh") -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, slot, instance_id, trigger, outcome, catalog_version FROM runs "
                "WHERE job = :job ORDER BY id"
            ),
            {"job": job},
        ).mappings()
        return [dict(row) for row in rows]


def wait_for(predicate: Callable[[], Any], timeout: float, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()

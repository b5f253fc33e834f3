"""Real `ratecard worker run` processes for fleet tests and the takeover benchmark."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, text

from ratecard.redis_keys import RedisKeys
from tests.support.services import REPO, clean_env

RATECARD = str(Path(sys.executable).parent / "ratecard")


@dataclass
class Fleet:
    """Worker processes sharing one database and one Redis; always `close()` (kills them all)."""

    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

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
        env = clean_env()
        env.update(
            DATABASE_URL=database_url,
            RATECARD_SOURCES=sources,
            RATECARD_REFRESH_INTERVAL=str(interval),
            RATECARD_LEASE_TTL=str(ttl),
            RATECARD_HEARTBEAT_INTERVAL="0.5",
            RATECARD_LOG_FORMAT="text",
            RATECARD_REDIS_PREFIX="fleet:",
            **extra,
        )
        if redis_url:
            env["REDIS_URL"] = redis_url
        return cls(env, log_dir)

    def spawn(self, name: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [RATECARD, "worker", "run"],
            cwd=REPO,
            env=self.env | {"RATECARD_INSTANCE_ID": name},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes[name] = process
        return process

    def signal(self, name: str, signum: int) -> None:
        self.processes[name].send_signal(signum)

    def terminate_all(self, timeout: float = 15) -> dict[str, int | None]:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(timeout)
            except subprocess.TimeoutExpired:
                codes[name] = None
        return codes

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)

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

"""Typed settings read from the environment, validated once at start with one-line errors."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_SOURCES = (
    "litellm=https://raw.githubusercontent.com/BerriAI/litellm/main/"
    "model_prices_and_context_window.json,"
    "openrouter=https://openrouter.ai/api/v1/models"
)
DEFAULT_REFRESH_INTERVAL = 10800.0
DEFAULT_LEASE_TTL = 10.0
MIN_INTERVAL = 0.5
SOURCE_KINDS = ("litellm", "openrouter")


class SettingsError(ValueError):
    """A setting has a value ratecard cannot use; the message names the variable."""


@dataclass(frozen=True)
class Source:
    """One price feed: its name (also its kind unless the name says otherwise) and URL."""

    name: str
    url: str
    kind: str


def default_database_url(instance_dir: Path | None = None) -> str:
    """Return the embedded SQLite database under ./instance/."""
    directory = (instance_dir or Path.cwd() / "instance").resolve()
    return f"sqlite:///{directory / 'ratecard.sqlite3'}"


def normalize_database_url(raw: str) -> str:
    """Map the URL spellings operators use onto SQLAlchemy dialect names (psycopg 3)."""
    url = raw.strip()
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    raise SettingsError(
        "DATABASE_URL must start with postgres://, postgresql://, postgresql+psycopg:// or "
        f"sqlite:///, got {redact_url(url)!r}"
    )


def redact_url(url: str) -> str:
    """Return the URL with any password replaced by ***, safe for logs and health output."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def parse_sources(raw: str) -> tuple[Source, ...]:
    """Parse `name=URL,...`; the kind is the name, or the part before a dash (`litellm-eu`)."""
    sources: list[Source] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, sep, url = item.partition("=")
        name, url = name.strip(), url.strip()
        if not sep or not name or not url:
            raise SettingsError(f"RATECARD_SOURCES entries must look like name=URL, got {item!r}")
        kind = name.split("-", 1)[0].split(":", 1)[0]
        if kind not in SOURCE_KINDS:
            raise SettingsError(
                f"RATECARD_SOURCES source {name!r} must be named after its kind "
                f"({', '.join(SOURCE_KINDS)}), optionally with a -suffix"
            )
        if not url.startswith(("http://", "https://", "file://")):
            raise SettingsError(
                f"RATECARD_SOURCES URL for {name!r} must be http://, https:// or file://, "
                f"got {redact_url(url)!r}"
            )
        if any(s.name == name for s in sources):
            raise SettingsError(f"RATECARD_SOURCES names {name!r} twice")
        sources.append(Source(name=name, url=url, kind=kind))
    if not sources:
        raise SettingsError("RATECARD_SOURCES must name at least one source")
    return tuple(sources)


def _seconds(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (value >= minimum) or value == float("inf"):
        raise SettingsError(f"{name} must be a number of seconds ≥ {minimum:g}, got {raw!r}")
    return value


def _validate_redis_url(raw: str) -> str:
    url = raw.strip()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(
            f"REDIS_URL must look like redis://host:port/db, got {redact_url(url)!r}"
        )
    return url


@dataclass(frozen=True)
class Settings:
    """Everything configurable about an instance; build with `Settings.from_env()`."""

    database_url: str = field(default_factory=default_database_url)
    redis_url: str | None = None
    sources: tuple[Source, ...] = field(default_factory=lambda: parse_sources(DEFAULT_SOURCES))
    refresh_interval: float = DEFAULT_REFRESH_INTERVAL
    lease_ttl: float = DEFAULT_LEASE_TTL
    admin_token: str | None = None
    instance_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    heartbeat_interval: float = 10.0
    maintenance_interval: float = 86400.0
    retention_days: float = 30.0
    start_coordinator: bool = True
    redis_key_prefix: str = "ratecard:"
    health_check_timeout: float = 1.0
    health_cache_seconds: float = 2.0
    stale_after: float | None = None  # default: two refresh intervals
    quarantine_removed_fraction: float = 0.30
    hold_factor: float = 100.0
    log_format: str = "auto"
    # Webhooks (issue 14): see docs/operations.md, "Webhooks".
    webhook_allow_private: bool = False
    webhook_poll_interval: float = 0.5
    webhook_timeout: float = 10.0
    webhook_concurrency: int = 8
    webhook_max_attempts: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate settings; raise SettingsError naming the first bad variable."""
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        if env.get("DATABASE_URL", "").strip():
            kwargs["database_url"] = normalize_database_url(env["DATABASE_URL"])
        if env.get("REDIS_URL", "").strip():
            kwargs["redis_url"] = _validate_redis_url(env["REDIS_URL"])
        if env.get("RATECARD_SOURCES", "").strip():
            kwargs["sources"] = parse_sources(env["RATECARD_SOURCES"])
        kwargs["refresh_interval"] = _seconds(
            env, "RATECARD_REFRESH_INTERVAL", DEFAULT_REFRESH_INTERVAL, MIN_INTERVAL
        )
        kwargs["lease_ttl"] = _seconds(env, "RATECARD_LEASE_TTL", DEFAULT_LEASE_TTL, 0.3)
        kwargs["heartbeat_interval"] = _seconds(env, "RATECARD_HEARTBEAT_INTERVAL", 10.0, 0.1)
        kwargs["maintenance_interval"] = _seconds(
            env, "RATECARD_MAINTENANCE_INTERVAL", 86400.0, MIN_INTERVAL
        )
        kwargs["retention_days"] = _seconds(env, "RATECARD_RETENTION_DAYS", 30.0, 0.0)
        kwargs["health_check_timeout"] = _seconds(env, "RATECARD_HEALTH_TIMEOUT", 1.0, 0.05)
        kwargs["health_cache_seconds"] = _seconds(env, "RATECARD_HEALTH_CACHE", 2.0, 0.0)
        if env.get("RATECARD_STALE_AFTER", "").strip():
            kwargs["stale_after"] = _seconds(env, "RATECARD_STALE_AFTER", 0.0, MIN_INTERVAL)
        kwargs["quarantine_removed_fraction"] = _fraction(
            env, "RATECARD_QUARANTINE_REMOVED_FRACTION", 0.30
        )
        kwargs["hold_factor"] = _seconds(env, "RATECARD_HOLD_FACTOR", 100.0, 1.0)
        if env.get("RATECARD_ADMIN_TOKEN", ""):
            kwargs["admin_token"] = env["RATECARD_ADMIN_TOKEN"]
        if env.get("RATECARD_INSTANCE_ID", "").strip():
            kwargs["instance_id"] = env["RATECARD_INSTANCE_ID"].strip()
        if env.get("RATECARD_REDIS_PREFIX", "").strip():
            kwargs["redis_key_prefix"] = env["RATECARD_REDIS_PREFIX"].strip()
        kwargs["start_coordinator"] = _flag(env, "RATECARD_COORDINATOR", True)
        log_format = env.get("RATECARD_LOG_FORMAT", "auto").strip().lower() or "auto"
        if log_format not in ("auto", "json", "text"):
            raise SettingsError(
                f"RATECARD_LOG_FORMAT must be auto, json or text, got {log_format!r}"
            )
        kwargs["log_format"] = log_format
        # Webhooks (issue 14).
        kwargs["webhook_allow_private"] = _flag(env, "RATECARD_WEBHOOK_ALLOW_PRIVATE", False)
        kwargs["webhook_poll_interval"] = _seconds(env, "RATECARD_WEBHOOK_POLL_INTERVAL", 0.5, 0.05)
        kwargs["webhook_timeout"] = _seconds(env, "RATECARD_WEBHOOK_TIMEOUT", 10.0, 0.1)
        kwargs["webhook_concurrency"] = _count(env, "RATECARD_WEBHOOK_CONCURRENCY", 8, 1, 64)
        kwargs["webhook_max_attempts"] = _count(env, "RATECARD_WEBHOOK_MAX_ATTEMPTS", 10, 1, 10)
        return cls(**kwargs)

    def with_overrides(self, **changes: Any) -> Settings:
        """Return a copy with some fields replaced (tests, CLI flags)."""
        return replace(self, **changes)

    @property
    def effective_stale_after(self) -> float:
        """Seconds after which the catalog counts as stale: two periods unless set."""
        return self.stale_after if self.stale_after is not None else 2 * self.refresh_interval

    def describe(self) -> dict[str, Any]:
        """Return settings safe to print: URLs redacted, the admin token only as set/unset."""
        return {
            "database_url": redact_url(self.database_url),
            "redis_url": redact_url(self.redis_url) if self.redis_url else None,
            "sources": {s.name: redact_url(s.url) for s in self.sources},
            "refresh_interval": self.refresh_interval,
            "lease_ttl": self.lease_ttl,
            "admin_token": "set" if self.admin_token else "unset",
            "instance_id": self.instance_id,
        }


def _fraction(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.0 < value <= 1.0:
        raise SettingsError(f"{name} must be a fraction in (0, 1], got {raw!r}")
    return value


def _count(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")

"""Typed settings read from the environment, validated once at start with one-line errors.

Every variable is declared once, in `DECLARATIONS` below: its parser, default, accepted values,
unit and one-line doc. Everything else is built from that table: `Settings.from_env`, the
dataclass defaults, gunicorn's configuration (`ratecard.gunicorn_conf`), the CLI help texts that
mention a default, and the README's Configuration table (`render_markdown_table`; a test keeps
README.md equal to it). A default written anywhere else is a default that can drift.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ratecard.logs import redact_secrets
from ratecard.vocabulary import FEED_KINDS

# The feed kinds a source may name (one parser module each, ingest.feeds).
SOURCE_KINDS = FEED_KINDS
DATABASE_URL_SCHEMES = ("postgres://", "postgresql://", "postgresql+psycopg://", "sqlite:///")
# Bounds shared with `ratecard serve --workers` and `ratecard fleet --workers`.
MAX_WORKERS = 64
# gunicorn's graceful timeout is the drain plus this delay (gunicorn_conf): kept well under
# Kubernetes' default 30 s termination grace period.
SHUTDOWN_DELAY_MAX = 10.0
MAX_THREADS = 256


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
        f"DATABASE_URL must start with {_one_of(DATABASE_URL_SCHEMES)}, got {redact_url(url)!r}"
    )


def redact_url(url: str) -> str:
    """Return the URL with any password replaced by ***, safe for logs and health output."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is not None:
        # From the parsed netloc, not a pattern: a password may itself contain "@" or "/".
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        url = parts._replace(netloc=netloc).geturl()
    return redact_secrets(url)  # query-string credentials (`?password=`), as logs do


# A source's name is stored (64 characters), shown on pages and in the Atom feed, and named
# in URLs and file names: letters, digits and `._:-` only, so `../`, markup, whitespace and
# control characters never get that far.
SOURCE_NAME_MAX = 64
_SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


def check_source_name(name: str) -> str:
    """Return `name` if it may name a source, else raise SettingsError saying why."""
    if len(name) > SOURCE_NAME_MAX or not _SOURCE_NAME.fullmatch(name):
        shown = repr(name[:40]) + ("..." if len(name) > 40 else "")
        raise SettingsError(
            f"source name {shown} must be 1-{SOURCE_NAME_MAX} letters, digits, '.', '_', ':' "
            "or '-', starting with a letter or digit"
        )
    return name


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
        check_source_name(name)
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


def split_bind(bind: str) -> tuple[str, int]:
    """Split `HOST:PORT` or `[IPv6]:PORT` into a host (brackets removed) and a port."""
    host, sep, port_text = bind.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif any(c in host for c in "[]:"):
        raise ValueError(bind)  # an unbracketed IPv6 address leaves the port ambiguous
    port = int(port_text)  # ValueError on a missing or non-numeric port
    if not sep or not host or not 0 <= port <= 65535:
        raise ValueError(bind)
    return host, port


# Where `ratecard serve` listens when neither RATECARD_BIND nor PORT says: this machine only.
DEFAULT_BIND = "127.0.0.1:8000"


def format_bind(host: str, port: int) -> str:
    """Return gunicorn's `--bind` spelling of host and port (IPv6 in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- parsers -------------------------------------------------------------------------------
# Each takes the raw text (already known non-blank) and returns the value, or raises
# ValueError; `Setting.read` turns that into one line naming the variable and what `accepts`
# says. A parser may raise SettingsError itself when it can say more precisely what is wrong.


def _seconds(minimum: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(raw)
        # `not >=` also rejects NaN; infinity would make every deadline unreachable.
        if not value >= minimum or value == float("inf"):
            raise ValueError(raw)
        return value

    return parse


def _seconds_up_to(minimum: float, maximum: float) -> Callable[[str], float]:
    at_least = _seconds(minimum)

    def parse(raw: str) -> float:
        value = at_least(raw)
        if value > maximum:
            raise ValueError(raw)
        return value

    return parse


def _integer(minimum: int, maximum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw.strip())
        if not minimum <= value <= maximum:
            raise ValueError(raw)
        return value

    return parse


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0.0 < value <= 1.0:
        raise ValueError(raw)
    return value


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(raw)


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        text = raw.strip().lower()
        if text not in allowed:
            raise ValueError(raw)
        return text

    return parse


def _text(raw: str) -> str:
    return raw.strip()


def _verbatim(raw: str) -> str:
    return raw  # a token: surrounding spaces may be part of it


def _redis_url(raw: str) -> str:
    url = raw.strip()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(
            f"REDIS_URL must look like redis://host:port/db, got {redact_url(url)!r}"
        )
    return url


def _bind(raw: str) -> str:
    host, port = split_bind(raw)
    return format_bind(host, port)


def _forwarded_ips(raw: str) -> str:
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if items != ["*"]:
        if not items:
            raise ValueError(raw)
        for item in items:
            ipaddress.ip_network(item, strict=False)  # ValueError when not an address/network
    return ",".join(items)


def _hosts(raw: str) -> tuple[str, ...]:
    items = tuple(item.strip().lower() for item in raw.split(",") if item.strip())
    # A host name, IP or `.suffix` (any subdomain); a port or path here is a misunderstanding.
    if not items or any(not all(c.isalnum() or c in ".-" for c in item) for item in items):
        raise ValueError(raw)
    return items


def _public_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    # Where clients reach the service: scheme and host, maybe a port and a path prefix; no
    # query, fragment or credentials (it is printed in links).
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(raw)
    return raw.strip().rstrip("/")


# --- the declarations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One environment variable: how it is read, its default, and what it means."""

    env: str
    # The `Settings` attribute it fills; None for a variable read where it is used (gunicorn's
    # metrics directory, the release id) and declared here only to be validated and documented.
    attr: str | None
    parse: Callable[[str], Any]
    # What the parser accepts, in words: the error message and the README both say it.
    accepts: str
    doc: str
    # The default as the text an operator would write; parsed by `parse` like any value, so
    # the README's default and the running one cannot differ. None: unset, or computed by
    # `default_factory` and described by `default_doc`.
    default: str | None = None
    default_factory: Callable[[], Any] | None = None
    default_doc: str | None = None

    def default_value(self) -> Any:
        """Return the value used when the variable is unset or blank."""
        if self.default_factory is not None:
            return self.default_factory()
        return None if self.default is None else self.parse(self.default)

    def read(self, env: Mapping[str, str]) -> Any:
        """Return the variable's value from env, or its default; a bad value: SettingsError."""
        raw = env.get(self.env)
        if raw is None or raw.strip() == "":
            return self.default_value()
        try:
            return self.parse(raw)
        except SettingsError:
            raise
        except (ValueError, TypeError):
            # Only URLs can carry a password; other values are shown as given.
            shown = redact_url(raw) if "://" in raw else raw
            raise SettingsError(f"{self.env} must be {self.accepts}, got {shown!r}") from None

    def default_text(self) -> str:
        """Render the default for the README: the written default, or what it stands for."""
        if self.default_doc is not None:
            return self.default_doc
        return "unset" if self.default is None else f"`{self.default}`"


def _one_of(values: tuple[str, ...]) -> str:
    return ", ".join(values[:-1]) + " or " + values[-1]


def _instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


DECLARATIONS: tuple[Setting, ...] = (
    Setting(
        "DATABASE_URL",
        "database_url",
        normalize_database_url,
        accepts=f"a URL starting with {_one_of(DATABASE_URL_SCHEMES)}",
        doc="the catalog's database (psycopg 3 for PostgreSQL)",
        default_factory=default_database_url,
        default_doc="`sqlite:///./instance/ratecard.sqlite3`",
    ),
    Setting(
        "REDIS_URL",
        "redis_url",
        _redis_url,
        accepts="redis://host:port/db (also rediss://, unix://)",
        doc="leases, fences, catalog cache, instance registry",
        default_doc="unset: no Redis",
    ),
    Setting(
        "RATECARD_SOURCES",
        "sources",
        parse_sources,
        accepts=f"name=URL,... named after the kind ({', '.join(SOURCE_KINDS)}), optionally "
        "with a -suffix (a name: up to 64 letters, digits, '.', '_', ':' or '-'); http(s):// or "
        "file:// URLs",
        doc="the price feeds",
        default=(
            "litellm=https://raw.githubusercontent.com/BerriAI/litellm/main/"
            "model_prices_and_context_window.json,"
            "openrouter=https://openrouter.ai/api/v1/models,"
            "genai_prices=https://raw.githubusercontent.com/pydantic/genai-prices/main/"
            "prices/data.json"
        ),
        default_doc="the public LiteLLM, OpenRouter and genai-prices URLs",
    ),
    Setting(
        "RATECARD_REFRESH_INTERVAL",
        "refresh_interval",
        _seconds(0.5),
        accepts="a number of seconds ≥ 0.5",
        doc="seconds per refresh period; fractions are for tests",
        default="10800",
    ),
    Setting(
        "RATECARD_LEASE_TTL",
        "lease_ttl",
        _seconds(0.3),
        accepts="a number of seconds ≥ 0.3",
        doc="seconds a lease lasts; the runner renews every TTL/3",
        default="10",
    ),
    Setting(
        "RATECARD_ADMIN_TOKEN",
        "admin_token",
        _verbatim,
        accepts="any text",
        doc="bearer token for admin routes and health details",
        default_doc="unset: admin routes answer 403",
    ),
    Setting(
        "RATECARD_INSTANCE_ID",
        "instance_id",
        _text,
        accepts="any text",
        doc="this instance's name in status and logs",
        default_factory=_instance_id,
        default_doc="`host:pid`",
    ),
    Setting(
        "RATECARD_REDIS_PREFIX",
        "redis_key_prefix",
        _text,
        accepts="any text",
        doc="prefix of every Redis key (several deployments can share a Redis)",
        default="ratecard:",
    ),
    Setting(
        "RATECARD_COORDINATOR",
        "start_coordinator",
        _flag,
        accepts="true or false",
        doc="`false` starts web instances without the background coordinator",
        default="true",
    ),
    Setting(
        "RATECARD_LOG_FORMAT",
        "log_format",
        _choice("auto", "json", "text"),
        accepts="auto, json or text",
        doc="`json` (one object per line), `text`, or `auto` (text on a terminal)",
        default="auto",
    ),
    Setting(
        "RATECARD_HEARTBEAT_INTERVAL",
        "heartbeat_interval",
        _seconds(0.1),
        accepts="a number of seconds ≥ 0.1",
        doc="seconds between an instance's registry heartbeats",
        default="10",
    ),
    Setting(
        "RATECARD_MAINTENANCE_INTERVAL",
        "maintenance_interval",
        _seconds(0.5),
        accepts="a number of seconds ≥ 0.5",
        doc="seconds per period of the maintenance job (pruning)",
        default="86400",
    ),
    Setting(
        "RATECARD_RETENTION_DAYS",
        "retention_days",
        _seconds(0.0),
        accepts="a number of days ≥ 0",
        doc=(
            "run records, heartbeats, expired lease rows, delivered (and dead-lettered) webhook "
            "messages and change-log entries older than this are pruned; never a pending "
            "message or a change one still carries"
        ),
        default="30",
    ),
    Setting(
        "RATECARD_QUARANTINE_REMOVED_FRACTION",
        "quarantine_removed_fraction",
        _fraction,
        accepts="a fraction in (0, 1]",
        doc="a feed that would remove or reject more than this share of its source's models is "
        "quarantined",
        default="0.30",
    ),
    Setting(
        "RATECARD_HOLD_FACTOR",
        "hold_factor",
        _seconds(1.0),
        accepts="a factor ≥ 1",
        doc="any stored price (base, tier, cache, unit) moving by this factor or more (either "
        "way), going paid → 0, or disappearing, is held for confirmation",
        default="100",
    ),
    Setting(
        "RATECARD_STALE_AFTER",
        "stale_after",
        _seconds(0.5),
        accepts="a number of seconds ≥ 0.5",
        doc="seconds after which readiness warns that the catalog is stale, and after which an "
        "unreachable database fails readiness (before, an instance serving from memory only warns)",
        default_doc="two refresh intervals",
    ),
    Setting(
        "RATECARD_HEALTH_TIMEOUT",
        "health_check_timeout",
        _seconds(0.05),
        accepts="a number of seconds ≥ 0.05",
        doc="per-check timeout of the health checks, seconds",
        default="1",
    ),
    Setting(
        "RATECARD_HEALTH_CACHE",
        "health_cache_seconds",
        _seconds(0.0),
        accepts="a number of seconds ≥ 0",
        doc="how long health check results are cached, seconds",
        default="2",
    ),
    Setting(
        "RATECARD_RELEASE_ID",
        None,
        _text,
        accepts="any text",
        doc="`releaseId` in health output",
        default_doc="the package version",
    ),
    Setting(
        "WEB_CONCURRENCY",
        "web_concurrency",
        _integer(1, MAX_WORKERS),
        accepts=f"a whole number from 1 to {MAX_WORKERS}",
        doc="gunicorn worker processes (`ratecard serve`; `--workers` overrides)",
        default="2",
    ),
    Setting(
        "RATECARD_THREADS",
        "threads",
        _integer(1, MAX_THREADS),
        accepts=f"a whole number from 1 to {MAX_THREADS}",
        doc="gunicorn threads per worker process",
        default="4",
    ),
    Setting(
        "RATECARD_BIND",
        "bind",
        _bind,
        accepts="HOST:PORT ([IPv6]:PORT for IPv6)",
        doc="where gunicorn listens (`ratecard serve --host/--port` override its parts)",
        default_doc=f"`{DEFAULT_BIND}`; `0.0.0.0:$PORT` when `PORT` is set",
    ),
    Setting(
        "PORT",
        "port",
        _integer(1, 65535),
        accepts="a whole number from 1 to 65535",
        doc="the port a platform assigns (Heroku, Cloud Run, Render): with `RATECARD_BIND` "
        "unset, `ratecard serve` listens on all interfaces at this port",
    ),
    Setting(
        "RATECARD_PRELOAD",
        "preload",
        _flag,
        accepts="true or false",
        doc="gunicorn's master imports the libraries workers share before forking them "
        "(never the app), while a helper process runs the first readiness checks and reads "
        "the published catalog for them",
        default="true",
    ),
    Setting(
        "RATECARD_UPLOAD_TIMEOUT",
        "upload_timeout",
        _seconds(1.0),
        accepts="a number of seconds ≥ 1",
        doc="a request body gets this long, plus a second per RATECARD_UPLOAD_MIN_RATE bytes it "
        "sent, before a 408; also how long a connection may send or read nothing mid-request",
        default="20",
    ),
    Setting(
        "RATECARD_UPLOAD_MIN_RATE",
        "upload_min_rate",
        _integer(1, 2**40),
        accepts="a whole number of bytes per second ≥ 1",
        doc="the rate a request body must keep up, past RATECARD_UPLOAD_TIMEOUT, to hold its "
        "worker thread",
        default="65536",
    ),
    Setting(
        "RATECARD_SHUTDOWN_DELAY",
        "shutdown_delay",
        _seconds_up_to(0.0, SHUTDOWN_DELAY_MAX),
        accepts=f"a number of seconds from 0 to {SHUTDOWN_DELAY_MAX:g}",
        doc="after SIGTERM, seconds an instance goes on serving while `/health/ready` answers "
        "503 (for a balancer to take it out of rotation), before it closes its listening socket "
        "and drains the requests in flight",
        default="0",
    ),
    Setting(
        "FORWARDED_ALLOW_IPS",
        "forwarded_allow_ips",
        _forwarded_ips,
        accepts="* or a comma-separated list of IP addresses or networks",
        doc="proxies whose X-Forwarded-* headers gunicorn trusts",
        default="127.0.0.1",
    ),
    Setting(
        "RATECARD_TRUSTED_HOSTS",
        "trusted_hosts",
        _hosts,
        accepts="a comma-separated list of host names (`.example.com` matches its subdomains)",
        doc="Host headers the app answers; any other gets a JSON 400 (Flask's TRUSTED_HOSTS)",
        default_doc="unset: any host",
    ),
    Setting(
        "RATECARD_PUBLIC_URL",
        "public_url",
        _public_url,
        accepts="an http(s) URL without query, fragment or credentials",
        doc="where clients reach the service (`https://prices.example.com`): the base of the "
        "Atom feed's links; never taken from a request's Host header",
        default_doc="unset: the Atom feed's links are relative to the feed's own URL",
    ),
    Setting(
        "RATECARD_BATCH_MAX_BYTES",
        "batch_max_bytes",
        _integer(1024 * 1024, 2**40),
        accepts="a whole number of bytes ≥ 1048576",
        doc="largest body `POST /api/cost/batch` takes (413 beyond); every other route takes 1 MiB",
        default="134217728",
    ),
    Setting(
        "RATECARD_BATCH_ARRAY_MAX_BYTES",
        "batch_array_max_bytes",
        _integer(1024 * 1024, 2**40),
        accepts="a whole number of bytes ≥ 1048576",
        doc="largest JSON-array body `POST /api/cost/batch` takes (413 beyond): an array is "
        "parsed whole (~40 bytes of memory per byte), NDJSON is streamed up to "
        "RATECARD_BATCH_MAX_BYTES",
        default="8388608",
    ),
    Setting(
        "RATECARD_PRICE_BOOK_MAX_RULES",
        "price_book_max_rules",
        _integer(1, 1_000_000),
        accepts="a whole number ≥ 1",
        doc="most rules one price book may hold (`PUT /admin/price-books/<name>` is a 422 beyond)",
        default="10000",
    ),
    Setting(
        "RATECARD_PRICE_BOOK_MAX_CHAIN",
        "price_book_max_chain",
        _integer(1, 100),
        accepts="a whole number ≥ 1",
        doc="most books a chain of `base` books may hold, the book itself included (a longer "
        "chain is a 422)",
        default="5",
    ),
    Setting(
        "RATECARD_BATCH_FORK",
        "batch_fork",
        _flag,
        accepts="true or false",
        doc="`true` prices an NDJSON batch of more than 8,192 lines on two cores (a child "
        "process forked from the worker, kept for its next batch of the same catalog, gone "
        "after 60 s idle); `false` keeps every batch in its worker's process",
        default="true",
    ),
    Setting(
        "PROMETHEUS_MULTIPROC_DIR",
        None,
        _text,
        accepts="a directory path",
        doc="where gunicorn workers share metrics; emptied at start",
        default_doc="a fresh temporary directory",
    ),
    # Webhooks; docs/operations.md, "Change feed and webhooks".
    Setting(
        "RATECARD_WEBHOOK_ALLOW_PRIVATE",
        "webhook_allow_private",
        _flag,
        accepts="true or false",
        doc="`true` allows webhook URLs on loopback and private addresses (local fleets, "
        "tests); checked at subscription and at every delivery",
        default="false",
    ),
    Setting(
        "RATECARD_WEBHOOK_POLL_INTERVAL",
        "webhook_poll_interval",
        _seconds(0.05),
        accepts="a number of seconds ≥ 0.05",
        doc="seconds between outbox polls of the delivery lease holder (a commit on the "
        "holder itself wakes it at once)",
        default="0.5",
    ),
    Setting(
        "RATECARD_WEBHOOK_TIMEOUT",
        "webhook_timeout",
        _seconds(0.1),
        accepts="a number of seconds ≥ 0.1",
        doc="seconds per connect, write and read of one delivery; a slower receiver fails "
        "the attempt",
        default="10",
    ),
    Setting(
        "RATECARD_WEBHOOK_CONCURRENCY",
        "webhook_concurrency",
        _integer(1, 64),
        accepts="a whole number from 1 to 64",
        doc="deliveries in flight at once; each subscription has at most one",
        default="8",
    ),
    Setting(
        "RATECARD_WEBHOOK_MAX_ATTEMPTS",
        "webhook_max_attempts",
        _integer(1, 10),
        accepts="a whole number from 1 to 10",
        doc="attempts before a message is dead-lettered; retries after 5 s, 30 s, 2 min, "
        "10 min, 30 min, 1 h, 3 h, 6 h, 15 h",
        default="10",
    ),
)
BY_ENV: dict[str, Setting] = {setting.env: setting for setting in DECLARATIONS}


def declared(env: str) -> Any:
    """Return the dataclass field for a declared variable: its default comes from the table."""
    setting = BY_ENV[env]
    if setting.default_factory is not None:
        return field(default_factory=setting.default_factory)
    return field(default=setting.default_value())


@dataclass(frozen=True)
class Settings:
    """Everything configurable about an instance; build with `Settings.from_env()`."""

    database_url: str = declared("DATABASE_URL")
    redis_url: str | None = declared("REDIS_URL")
    sources: tuple[Source, ...] = declared("RATECARD_SOURCES")
    refresh_interval: float = declared("RATECARD_REFRESH_INTERVAL")
    lease_ttl: float = declared("RATECARD_LEASE_TTL")
    admin_token: str | None = declared("RATECARD_ADMIN_TOKEN")
    instance_id: str = declared("RATECARD_INSTANCE_ID")
    heartbeat_interval: float = declared("RATECARD_HEARTBEAT_INTERVAL")
    maintenance_interval: float = declared("RATECARD_MAINTENANCE_INTERVAL")
    retention_days: float = declared("RATECARD_RETENTION_DAYS")
    start_coordinator: bool = declared("RATECARD_COORDINATOR")
    redis_key_prefix: str = declared("RATECARD_REDIS_PREFIX")
    health_check_timeout: float = declared("RATECARD_HEALTH_TIMEOUT")
    health_cache_seconds: float = declared("RATECARD_HEALTH_CACHE")
    stale_after: float | None = declared("RATECARD_STALE_AFTER")
    quarantine_removed_fraction: float = declared("RATECARD_QUARANTINE_REMOVED_FRACTION")
    hold_factor: float = declared("RATECARD_HOLD_FACTOR")
    log_format: str = declared("RATECARD_LOG_FORMAT")
    # gunicorn's: read by ratecard.gunicorn_conf, validated with the rest before it starts.
    web_concurrency: int = declared("WEB_CONCURRENCY")
    threads: int = declared("RATECARD_THREADS")
    bind: str | None = declared("RATECARD_BIND")
    port: int | None = declared("PORT")
    preload: bool = declared("RATECARD_PRELOAD")
    shutdown_delay: float = declared("RATECARD_SHUTDOWN_DELAY")
    upload_timeout: float = declared("RATECARD_UPLOAD_TIMEOUT")
    upload_min_rate: int = declared("RATECARD_UPLOAD_MIN_RATE")
    forwarded_allow_ips: str = declared("FORWARDED_ALLOW_IPS")
    trusted_hosts: tuple[str, ...] | None = declared("RATECARD_TRUSTED_HOSTS")
    public_url: str | None = declared("RATECARD_PUBLIC_URL")
    batch_max_bytes: int = declared("RATECARD_BATCH_MAX_BYTES")
    batch_array_max_bytes: int = declared("RATECARD_BATCH_ARRAY_MAX_BYTES")
    batch_fork: bool = declared("RATECARD_BATCH_FORK")
    price_book_max_rules: int = declared("RATECARD_PRICE_BOOK_MAX_RULES")
    price_book_max_chain: int = declared("RATECARD_PRICE_BOOK_MAX_CHAIN")
    # Webhooks.
    webhook_allow_private: bool = declared("RATECARD_WEBHOOK_ALLOW_PRIVATE")
    webhook_poll_interval: float = declared("RATECARD_WEBHOOK_POLL_INTERVAL")
    webhook_timeout: float = declared("RATECARD_WEBHOOK_TIMEOUT")
    webhook_concurrency: int = declared("RATECARD_WEBHOOK_CONCURRENCY")
    webhook_max_attempts: int = declared("RATECARD_WEBHOOK_MAX_ATTEMPTS")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate settings; raise SettingsError naming the first bad variable."""
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        for setting in DECLARATIONS:
            value = setting.read(env)  # validates the attr=None ones too
            if setting.attr is not None:
                kwargs[setting.attr] = value
        return cls(**kwargs)

    def with_overrides(self, **changes: Any) -> Settings:
        """Return a copy with some fields replaced (tests, CLI flags)."""
        return replace(self, **changes)

    @property
    def listen(self) -> str:
        """Where `ratecard serve` listens: RATECARD_BIND, else all interfaces at PORT (the
        platform's), else this machine only."""
        if self.bind is not None:
            return self.bind
        # All interfaces on purpose: a platform routes its traffic to PORT from outside.
        return format_bind("0.0.0.0", self.port) if self.port is not None else DEFAULT_BIND  # noqa: S104

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


def render_markdown_table() -> str:
    """Render the README's Configuration table from the declarations (tests compare them)."""
    lines = ["| name | default | accepts | meaning |", "|---|---|---|---|"]
    for setting in DECLARATIONS:
        cells = (f"`{setting.env}`", setting.default_text(), setting.accepts, setting.doc)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"

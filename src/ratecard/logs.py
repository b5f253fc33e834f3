"""Logging: one JSON object per line (with the instance id) off a terminal, readable on one."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}
_URL_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s:/@]*):[^\s@/]*@", re.IGNORECASE)
# A credential passed as a query parameter (`postgresql://u@h/db?password=x`, libpq's
# `sslpassword=`, an `?api_key=` in a feed URL): its value, up to the next parameter.
_QUERY_SECRET = re.compile(
    r"([?&;][\w.-]*(?:password|passwd|pwd|secret|token|key|auth|credential)[\w.-]*=)"
    r"([^&;#\s'\"<>]*)",
    re.IGNORECASE,
)


def redact_secrets(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Replace every known secret, any password inside a URL and any credential in a query
    string with ***: the one redaction that logs, CLI output and public text all go through."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(r"\1:***@", text)
    return _QUERY_SECRET.sub(r"\1***", text)


def url_secrets(url: str | None) -> list[str]:
    """Return the secrets a URL carries: its password and credential query values (raw and
    decoded, since a driver's error message may quote either)."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return []
    found = [password] if password else []
    found += [match.group(2) for match in _QUERY_SECRET.finditer("?" + parts.query)]
    return [form for value in found for form in (value, unquote(value)) if form]


def secrets_of(settings: Any) -> tuple[str, ...]:
    """Return the secrets in settings (URL passwords, the admin token) that output must hide."""
    found: list[str] = []
    for url in (getattr(settings, "database_url", None), getattr(settings, "redis_url", None)):
        found += url_secrets(url)
    token = getattr(settings, "admin_token", None)
    if token:
        found.append(token)
    # Longest first: a secret containing another must be replaced whole.
    return tuple(sorted(set(found), key=len, reverse=True))


class RedactingFormatter(logging.Formatter):
    """Format with another formatter, then redact secrets: the last line of defence."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact_secrets(self.inner.format(record), self.secrets)


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line; `extra=` fields are kept as keys."""

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "instance": self.instance_id,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(settings: Any, instance_id: str, stream: Any = None) -> None:
    """Install one handler on the root logger (idempotent: safe to call per app).

    On the root, not on `ratecard`: a third-party library's warning (`sqlalchemy.pool`,
    `urllib3`, ...) must reach the log collector as one JSON object like ours, with the same
    redaction, not as a plain-text line in the middle of a JSON stream. Our loggers log INFO;
    everyone else keeps the root's level (WARNING unless the process set another).
    """
    stream = stream or sys.stderr
    use_json = wants_json(settings, stream)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ratecard", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler._ratecard = True  # type: ignore[attr-defined]
    handler.setFormatter(make_formatter(settings, instance_id, use_json))
    root.addHandler(handler)
    # Python warnings (a library's DeprecationWarning, SQLAlchemy's SAWarning) print to stderr
    # as two plain-text lines otherwise; through the `py.warnings` logger they are one object.
    logging.captureWarnings(True)
    logger = logging.getLogger("ratecard")
    logger.setLevel(logging.INFO)
    logger.propagate = True  # to the root's handler: the only one, so each line prints once


def make_formatter(settings: Any, instance_id: str, use_json: bool) -> logging.Formatter:
    """Return ratecard's line format (JSON or readable), with every known secret redacted."""
    inner: logging.Formatter
    if use_json:
        inner = JsonFormatter(instance_id)
    else:
        inner = logging.Formatter(
            f"%(asctime)s %(levelname)-7s [{instance_id}] %(name)s: %(message)s"
        )
    return RedactingFormatter(inner, secrets_of(settings))


def wants_json(settings: Any, stream: Any) -> bool:
    """JSON when asked for, or by default when the stream is not a terminal (a log collector)."""
    fmt = getattr(settings, "log_format", "auto")
    return bool(fmt == "json" or (fmt == "auto" and not _isatty(stream)))


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False

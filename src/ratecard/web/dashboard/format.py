"""Pure formatting for the dashboard: prices per million tokens, times, public-safe text."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from secrets import token_bytes
from typing import Any

from ratecard.catalog.model import PRICE_FIELDS
from ratecard.catalog.money import per_million as money_per_million
from ratecard.logs import redact_secrets

# The per-token prices, with the short labels the dashboard shows.
PRICE_LABELS = {f.name: f.label for f in PRICE_FIELDS if f.unit == "token"}
MAX_TEXT = 300
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
# A local file path (`/srv/feeds/x.json`, `~/x`, `./x`, `C:\\x`): where the files of a
# file:// feed live is nobody's business but the operator's. A slash inside a word
# ("and/or", "TTL/3") is not a path.
_PATH = re.compile(r"(?<![\w.~:/\\-])(?:~|\.\.?)?/[^\s'\"<>]+|\b[A-Za-z]:\\[^\s'\"<>]+")


def per_million(per_token: Decimal | str | None) -> str | None:
    """Return a per-token price as exact decimal text per million tokens (None stays None)."""
    if per_token is None:
        return None
    try:
        value = Decimal(per_token)
    except (InvalidOperation, TypeError, ValueError):
        return None
    if not value.is_finite():
        return None
    return money_per_million(value)


def snapshot_per_million(snapshot: Mapping[str, Any] | None, field: str) -> str | None:
    """Return one price of a history/held snapshot per million tokens."""
    if not snapshot:
        return None
    return per_million(snapshot.get(field))


def iso(value: datetime | float | str | None) -> str | None:
    """Return an ISO 8601 UTC string (`...Z`) for a datetime or epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)  # epoch seconds as Redis hashes hold them
        except ValueError:
            return str(value)  # already a timestamp string
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(float(value), UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def duration_words(seconds: float | None) -> str:
    """Return a short human duration: 0.42 s, 12 s, 3 min, 2 h 5 min."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


# Without an admin token there is no per-deployment secret to derive the alias key from: a
# random key per process still makes aliases irreversible (they then differ per instance).
_PROCESS_ALIAS_KEY = token_bytes(32)


def alias_key(admin_token: str | None) -> bytes:
    """Return the key host aliases are made with: derived from the deployment's admin token
    (the same alias on every instance), else this process's random key."""
    if not admin_token:
        return _PROCESS_ALIAS_KEY
    return hashlib.sha256(b"ratecard host alias\0" + admin_token.encode()).digest()


def host_alias(host: str, key: bytes = _PROCESS_ALIAS_KEY) -> str:
    """Return a stable, non-revealing stand-in for a host name (or `host:pid`).

    Keyed (HMAC): a bare hash of the name could be reversed by hashing candidate host
    names (`web-1`, `ip-10-0-0-5`...) until one matches.
    """
    return "host-" + hmac.new(key, host.encode(), hashlib.sha256).hexdigest()[:6]


def public_text(
    text: str | None,
    *,
    secrets: Iterable[str] = (),
    hosts: Iterable[str] = (),
    admin: bool = False,
    key: bytes = _PROCESS_ALIAS_KEY,
) -> str | None:
    """Return text safe to show: secrets and URL credentials always removed; for the public,
    URLs, local file paths and host names too. Long texts are cut.

    The one filter every public text goes through (the status document, the dashboard,
    /api/catalog): a new kind of leak is fixed here, once.
    """
    if text is None:
        return None
    out = redact_secrets(str(text), secrets)
    if not admin:
        out = _URL.sub("<url>", out)
        out = _PATH.sub("<path>", out)
        for host in sorted({h for h in hosts if h}, key=len, reverse=True):
            # Whole names only: host "vm" must not mangle "vmstat" or "cvm.example". A
            # `host:pid` instance id is aliased whole: the public sees no process ids.
            pattern = rf"(?<![\w.-]){re.escape(host)}(?::\d+)?(?![\w-])"
            out = re.sub(pattern, lambda m: host_alias(m.group(0), key), out)
    if len(out) > MAX_TEXT:
        out = out[: MAX_TEXT - 1] + "…"
    return out

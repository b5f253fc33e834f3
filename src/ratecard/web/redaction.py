"""What of a free text the public may see: secrets always removed; URLs, local paths and host
names too unless the admin token is presented; hosts replaced by keyed aliases.

The one filter every public text goes through (the status document, the dashboard,
/api/catalog): a new kind of leak is fixed here, once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from secrets import token_bytes

from ratecard.logs import redact_secrets

MAX_TEXT = 300
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
# A local file path (`/srv/feeds/x.json`, `~/x`, `./x`, `C:\\x`): where the files of a
# file:// feed live is nobody's business but the operator's. A slash inside a word
# ("and/or", "TTL/3") is not a path.
_PATH = re.compile(r"(?<![\w.~:/\\-])(?:~|\.\.?)?/[^\s'\"<>]+|\b[A-Za-z]:\\[^\s'\"<>]+")


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

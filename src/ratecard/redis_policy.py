"""Start-up check of Redis' eviction policy: leases and fences must never be evicted.

Timeline it warns about: Redis reaches `maxmemory` under `allkeys-lru` (or any `volatile-*`
policy: lease keys carry a TTL, so those policies pick them first); it evicts
`ratecard:lease:refresh` while the holder is mid-refresh; a second instance acquires the lease
and fetches the feeds again. The database fence still lets only one of them commit the slot,
but the mutual exclusion the lease promised is gone, and an evicted catalog blob forces every
instance back to the database. `noeviction` (or no memory limit) keeps every key.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger(__name__)


def eviction_warning(client: Redis) -> str | None:
    """Return a warning when this Redis may evict our keys, None when it cannot (or can't tell)."""
    from redis.exceptions import RedisError

    try:
        config = client.config_get("maxmemory*")
    except RedisError:
        # Managed Redis often disables CONFIG; absent evidence, say nothing rather than cry wolf.
        return None
    # Keys come back as bytes or str depending on the client's decode_responses.
    settings = {_text(key): _text(value) for key, value in dict(config).items()}
    policy = settings.get("maxmemory-policy", "")
    maxmemory = settings.get("maxmemory", "0")
    if policy == "noeviction" or maxmemory in ("", "0"):
        return None
    return (
        f"Redis maxmemory-policy is {policy!r} with maxmemory {maxmemory}: it may evict the lease, "
        "fence and catalog keys; set maxmemory-policy noeviction (see docs/operations.md)"
    )


def warn_if_evictable_in_background(client: Redis | None) -> None:
    """Log the eviction warning once, from a daemon thread (start-up must not wait on Redis)."""
    if client is None:
        return

    def check() -> None:
        warning = eviction_warning(client)
        if warning:
            log.warning(warning)

    threading.Thread(target=check, name="ratecard-redis-policy", daemon=True).start()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

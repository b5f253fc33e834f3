"""The lease in Redis: `SET key token NX PX ttl`, owner-checked renew and release in Lua."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from ratecard.coordination.lease import CoordinationUnavailable, Grant, Holding
from ratecard.redis_keys import RedisKeys

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy import Connection

BACKEND = "redis"


class RedisLease:
    """One job's lease in Redis; the token is `<random>|<holder>` so status can name the holder.

    Why renew every TTL/3 (the coordinator's renewer does): a renewal that is lost to one
    network hiccup still leaves two more chances before the key expires, yet a holder that is
    dead (SIGKILL, OOM) stops renewing and its key expires after at most one TTL, so a standby
    polling every 2 s takes over within TTL + 2 s.
    """

    # KEYS[1] lease key, KEYS[2] fence counter; ARGV[1] token, ARGV[2] TTL in ms.
    # Returns the new fence number when the lease was free, or false when it is held.
    # One script so that "took the lease" and "drew a fence number" cannot be separated by a
    # crash: a holder always has a fence, and a fence is never drawn for nobody.
    ACQUIRE = """
    if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
        return redis.call('incr', KEYS[2])
    end
    return false
    """

    # KEYS[1] lease key; ARGV[1] token, ARGV[2] TTL in ms. Returns 1 if extended, 0 if the key
    # holds another token or none. The token is compared first: extending blindly would let
    # A, whose lease expired while paused, extend the lease B has acquired since.
    RENEW = """
    if redis.call('get', KEYS[1]) == ARGV[1] then
        return redis.call('pexpire', KEYS[1], ARGV[2])
    end
    return 0
    """

    # KEYS[1] lease key; ARGV[1] token. Returns 1 if deleted, 0 if not ours. Without the
    # check, a holder finishing after its lease expired would delete its successor's lease.
    RELEASE = """
    if redis.call('get', KEYS[1]) == ARGV[1] then
        return redis.call('del', KEYS[1])
    end
    return 0
    """

    backend = BACKEND

    def __init__(self, client: Redis, keys: RedisKeys, name: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError(f"lease TTL must be positive, got {ttl!r}")
        self.client = client
        self.name = name
        self.ttl = ttl
        self.key = keys.lease(name)
        self.fence_key = keys.fence_counter(name)
        self._acquire = client.register_script(self.ACQUIRE)
        self._renew = client.register_script(self.RENEW)
        self._release = client.register_script(self.RELEASE)

    @property
    def ttl_ms(self) -> int:
        return max(1, round(self.ttl * 1000))

    def acquire(self, holder: str) -> Grant | None:
        """Take the lease if free; return the grant with a fresh fence number, else None."""
        token = f"{uuid.uuid4().hex}|{holder}"
        fence = self._call(self._acquire, [self.key, self.fence_key], [token, self.ttl_ms])
        if fence is None:
            return None
        return Grant(name=self.name, token=token, fence=int(fence), backend=BACKEND)

    def renew(self, token: str, conn: Connection | None = None) -> bool:
        """Extend the lease by its TTL if `token` owns it (`conn` is unused here)."""
        return bool(self._call(self._renew, [self.key], [token, self.ttl_ms]))

    def release(self, token: str) -> bool:
        """Delete the lease if `token` owns it."""
        return bool(self._call(self._release, [self.key], [token]))

    def holder(self) -> Holding | None:
        """Return the current holder, its fence and time left, or None when free."""
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(self.key)
            pipe.pttl(self.key)
            pipe.get(self.fence_key)
            value, pttl, fence = pipe.execute()
        except RedisError as exc:
            raise CoordinationUnavailable(BACKEND, type(exc).__name__) from exc
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        return Holding(
            holder=text.split("|", 1)[-1],
            fence=int(fence) if fence is not None else None,
            expires_in=max(0.0, int(pttl) / 1000.0),
            backend=BACKEND,
        )

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        # redis-py's Script runs EVALSHA and reloads the script after NOSCRIPT, which is what
        # a restarted (emptied) Redis answers.
        try:
            return script(keys=keys, args=args)
        except RedisError as exc:
            raise CoordinationUnavailable(BACKEND, _describe(exc)) from exc


def _describe(exc: RedisError) -> str:
    # Connection errors can quote the URL; the class name is enough and leaks nothing.
    return type(exc).__name__

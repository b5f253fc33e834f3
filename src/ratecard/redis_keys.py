"""Every Redis key ratecard uses, in one place, each with what it holds and its TTL.

All keys start with the configured prefix (`RATECARD_REDIS_PREFIX`, default `ratecard:`), so
several deployments or test runs can share one Redis.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RedisKeys:
    """Key names for one deployment's prefix."""

    prefix: str = "ratecard:"

    def lease(self, job: str) -> str:
        """STRING token of the lease holder for `job`; PX = lease TTL (RATECARD_LEASE_TTL)."""
        return f"{self.prefix}lease:{job}"

    def fence_counter(self, job: str) -> str:
        """INTEGER incremented (INCR) at each acquisition of `job`'s lease; no TTL."""
        return f"{self.prefix}fence:{job}"

    def instance(self, instance_id: str) -> str:
        """HASH of one live instance (id, host, pid, version, started, role); TTL 3 heartbeats."""
        return f"{self.prefix}instance:{instance_id}"

    @property
    def instances(self) -> str:
        """ZSET of instance ids scored by last heartbeat (epoch s); pruned on read."""
        return f"{self.prefix}instances"

    @property
    def catalog_version(self) -> str:
        """INTEGER version (run id) of the catalog published in `catalog_blob`; no TTL."""
        return f"{self.prefix}catalog:version"

    @property
    def catalog_blob(self) -> str:
        """STRING: the published catalog (JSON), written with its version atomically; no TTL."""
        return f"{self.prefix}catalog:blob"

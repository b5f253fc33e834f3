"""The lease contract: mutual exclusion for one job's run, with a fence number per grant.

A lease is an *efficiency* device: it makes one instance of the fleet fetch the feeds instead
of all of them. It is not what makes a run commit at most once per slot; the store's fence
does that (see `fence.py`). The difference matters in this timeline, which no lease with a
TTL can prevent:

    t=0   A acquires the lease (TTL 10 s) and starts the refresh
    t=1   A's process is paused (GC, SIGSTOP, a VM migration) for 15 s
    t=10  the lease expires; B acquires it and runs the same slot
    t=16  A wakes up, still believing it holds the lease, and reaches its commit

A's commit is refused by `UPDATE job_state ... WHERE last_slot < k`, whatever A believes.

Backends (Redis, SQL) implement `Lease`; one contract test suite runs against each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ratecard.runcontrol import RunCancelled

if TYPE_CHECKING:
    from sqlalchemy import Connection

# Replaceable by tests; every backend measures local durations with it.
monotonic: Callable[[], float] = time.monotonic


class LeaseLost(RunCancelled):
    """The lease was lost (expired, taken over, or its store unreachable): stop, commit nothing."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"lease {name!r} lost: {reason}")
        self.name = name
        self.reason = reason


class CoordinationUnavailable(Exception):
    """The lease store could not be reached; the message says which and why (no secrets)."""

    def __init__(self, backend: str, reason: str) -> None:
        super().__init__(f"{backend} unavailable: {reason}")
        self.backend = backend
        self.reason = reason


@dataclass(frozen=True)
class Grant:
    """A held lease: the token that proves ownership and the fence number of this grant."""

    name: str
    token: str
    fence: int
    backend: str


@dataclass(frozen=True)
class Holding:
    """Who holds a lease right now, as shown in status."""

    holder: str
    fence: int | None
    expires_in: float
    backend: str


class Lease(Protocol):
    """One named lease in one store; every method raises CoordinationUnavailable on I/O errors."""

    name: str
    backend: str  # "redis" | "database"
    ttl: float

    def acquire(self, holder: str) -> Grant | None:
        """Take the lease if it is free or expired; return the grant, or None if it is held."""
        ...

    def renew(self, token: str, conn: Connection | None = None) -> bool:
        """Extend the lease by its TTL if `token` still owns it; False means it is lost.

        `conn`, when given, is the caller's open transaction: a database lease renews inside
        it, so the ownership check commits or rolls back with the caller's work.
        """
        ...

    def release(self, token: str) -> bool:
        """Free the lease if `token` owns it; False if it had already expired or moved on."""
        ...

    def holder(self) -> Holding | None:
        """Return who holds the lease now, or None when it is free."""
        ...

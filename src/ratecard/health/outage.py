"""Readiness through a short outage of the shared database: warn while this instance can serve.

Timeline this prevents: the database blips for 5 s. Every instance's database check fails at
once, so every readiness probe answers 503 and the load balancer takes the whole fleet out of
rotation: clients get ~1,400 errors in those 5 s from a balancer with no server left, while each
instance was serving from its in-memory catalog all along (clients reaching an instance
directly saw none). Readiness is for "send me traffic": an instance that can answer from memory
must stay in rotation, and the outage shows as a warning in the health document.

What "can serve" means here, checked in `tolerated`:
- it holds a catalog in memory (a fresh worker that never loaded one cannot answer);
- the schema was seen at or ahead of this code's head by this process (an instance that never
  verified its schema, or saw it behind, must not take traffic: its queries may be wrong);
- the catalog is fresh: the last successful refresh this process saw is within
  `RATECARD_STALE_AFTER`. Past that, a long outage fails readiness as before: the fleet is
  serving prices nobody is keeping current, and an operator's alert should say so.

Only an unreachable database is tolerated (refused, timed out): a database that answers with a
schema behind the code still fails readiness.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from ratecard.health.check_registry import Observation

PUBLIC_OUTPUT = "database unreachable; serving the catalog held in memory"


def tolerated(
    observation: Observation,
    *,
    catalog_loaded: bool,
    schema_verified: bool,
    last_success: float | None,
    now: float,
    stale_after: float,
) -> Observation:
    """`observation`, softened to a warning when the database is unreachable but this instance
    can serve (see the module docstring); otherwise unchanged."""
    if observation.status != "fail" or not observation.unreachable:
        return observation
    if not catalog_loaded:
        reason = "no catalog in memory"
    elif not schema_verified:
        reason = "schema never verified by this process"
    elif last_success is None:
        reason = "no successful refresh seen by this process"
    elif now - last_success > stale_after:
        reason = f"catalog stale: last refresh over {stale_after:g} s ago"
    else:
        age = round(now - last_success)
        return replace(
            observation,
            status="warn",
            output=f"{observation.output}; serving the catalog held in memory "
            f"(last refresh {age} s ago, stale after {stale_after:g} s)",
            public_output=PUBLIC_OUTPUT,
        )
    return replace(observation, output=f"{observation.output}; cannot serve: {reason}")


class OutagePolicy:
    """What one process knows for `tolerated`: fed by the schema and catalog checks' results.

    The state is written by check threads and read by others: a lock keeps the pair of
    values a probe reads consistent.
    """

    def __init__(
        self,
        stale_after: float,
        catalog_loaded: Callable[[], bool],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stale_after = stale_after
        self.catalog_loaded = catalog_loaded
        self.clock = clock
        self._lock = threading.Lock()
        self._schema_verified = False
        self._last_success: float | None = None

    def saw_refresh(self, last_success: float | None) -> None:
        """The catalog check read the last successful refresh's time from the database."""
        if last_success is not None:
            with self._lock:
                self._last_success = max(last_success, self._last_success or last_success)

    def review_schema(self, observation: Observation) -> Observation:
        """The schema check's review: an answer from the database sets whether it verified."""
        if not observation.unreachable:
            with self._lock:
                self._schema_verified = observation.status != "fail"
        return self.review(observation)

    def review(self, observation: Observation) -> Observation:
        """Any gating database check's review (see `tolerated`)."""
        if observation.status != "fail" or not observation.unreachable:
            return observation
        with self._lock:
            verified, last_success = self._schema_verified, self._last_success
        return tolerated(
            observation,
            catalog_loaded=self.catalog_loaded(),
            schema_verified=verified,
            last_success=last_success,
            now=self.clock(),
            stale_after=self.stale_after,
        )

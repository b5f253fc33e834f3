"""Gather what the dashboard shows from the running app, tolerating any part being down.

Each part (coordinator status, runs, held changes, catalog) is read separately: a database
outage must leave the page up, saying what is missing, rather than answering a 500.
Gathering costs a few queries and a Redis ping, so its result is kept for `ttl` seconds:
any number of open dashboards costs at most one gathering per second per process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ratecard.web.dashboard.status_page import StatusInputs

if TYPE_CHECKING:
    from ratecard.serving.catalog_cache import CatalogCache
    from ratecard.web.state import RatecardState

log = logging.getLogger(__name__)


class StatusGatherer:
    """Collect StatusInputs from an app's state, at most once per `ttl` seconds."""

    def __init__(
        self,
        state: RatecardState,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.ttl = ttl
        self.clock = clock
        self.wall_clock = wall_clock
        self._lock = threading.Lock()
        self._cached: StatusInputs | None = None
        self._expires = 0.0

    def inputs(self) -> StatusInputs:
        """Return fresh-enough inputs (one thread gathers; the others wait for its result)."""
        with self._lock:
            if self._cached is None or self.clock() >= self._expires:
                self._cached = self._gather()
                self._expires = self.clock() + self.ttl
            return self._cached

    def invalidate(self) -> None:
        """Make the next call gather again (after an admin action changed something)."""
        with self._lock:
            self._expires = 0.0

    def _gather(self) -> StatusInputs:
        from ratecard.health import secrets_of
        from ratecard.web.dashboard.format import alias_key

        coordination, coordination_error = self._coordination()
        runs, held, runs_error = self._database()
        snapshot, catalog_error, origin = self._catalog()
        return StatusInputs(
            served_by=self.state.instance.as_dict(),
            coordination=coordination,
            coordination_error=coordination_error,
            runs=runs,
            runs_error=runs_error,
            held=held,
            catalog=snapshot,
            catalog_error=catalog_error,
            catalog_origin=origin,
            now=self.wall_clock(),
            secrets=secrets_of(self.state.settings),
            alias_key=alias_key(self.state.settings.admin_token),
            webhooks=self._webhooks(),
        )

    def _coordination(self) -> tuple[dict[str, Any] | None, str | None]:
        coordinator = self.state.coordinator
        if coordinator is None:
            return None, "this process runs no coordinator"
        try:
            return dict(coordinator.status()), None
        except Exception as exc:  # any failure: the page shows "unavailable", never a 500
            log.warning("coordination status unavailable: %s", type(exc).__name__)
            return None, f"coordination status unavailable: {type(exc).__name__}"

    def _database(self) -> tuple[list[dict[str, Any]], list[Any], str | None]:
        from sqlalchemy.exc import SQLAlchemyError

        from ratecard.web.dashboard import readmodel

        try:
            with self.state.engine.connect() as conn:
                return readmodel.recent_runs(conn), readmodel.pending_held(conn), None
        except SQLAlchemyError as exc:
            return [], [], f"database unavailable: {type(exc).__name__}"

    def _webhooks(self) -> dict[str, int] | None:
        # Issue 14: the webhook outbox backlog (pending, failing, dead-lettered).
        from sqlalchemy.exc import SQLAlchemyError

        from ratecard.changes.outbox import backlog

        try:
            with self.state.engine.connect() as conn:
                return backlog(conn)
        except SQLAlchemyError:
            return None

    def _catalog(self) -> tuple[Any, str | None, str | None]:
        cache = catalog_cache(self.state)
        try:
            snapshot = cache.current()
        except Exception as exc:  # ServiceUnavailable, a database error: say so on the page
            return None, f"catalog unavailable: {type(exc).__name__}", None
        return snapshot, None, getattr(cache, "source_of_last_load", None)


def catalog_cache(state: RatecardState) -> CatalogCache:
    """Return the app's CatalogCache (or, if the API area set none up, one of our own)."""
    if state.catalog_cache is not None:
        return state.catalog_cache
    with _fallback_lock:
        cache = state.fallback_catalog_cache
        if cache is None:
            from ratecard.redis_keys import RedisKeys
            from ratecard.serving.catalog_cache import CatalogCache

            cache = CatalogCache(
                lambda: state.engine,
                lambda: state.redis,
                RedisKeys(prefix=state.settings.redis_key_prefix),
            )
            state.fallback_catalog_cache = cache
    return cache


_fallback_lock = threading.Lock()


def gatherer(state: RatecardState) -> StatusGatherer:
    """Return the app's StatusGatherer, creating it on first use."""
    if state.status_gatherer is None:
        with _fallback_lock:
            if state.status_gatherer is None:
                state.status_gatherer = StatusGatherer(state)
    return state.status_gatherer

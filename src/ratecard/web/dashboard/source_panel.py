"""Gather what the dashboard shows from the parts of the app, tolerating any part being down.

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

from ratecard.logs import secrets_of
from ratecard.settings import Settings
from ratecard.web.dashboard.status_page import StatusInputs
from ratecard.web.redaction import alias_key

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ratecard.coordination.coordinator import Coordinator
    from ratecard.serving.catalog_cache import CatalogCache

log = logging.getLogger(__name__)
# app.extensions key of the dashboard's status gatherer.
GATHERER = "ratecard.dashboard"


class StatusGatherer:
    """Collect StatusInputs from the parts of one app, at most once per `ttl` seconds."""

    def __init__(
        self,
        *,
        served_by: Callable[[], dict[str, Any]],
        coordinator: Callable[[], Coordinator | None],
        engine: Callable[[], Engine],
        catalog: CatalogCache,
        settings: Settings,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.served_by = served_by
        self.coordinator = coordinator
        self.engine = engine
        self.catalog = catalog
        self.secrets = secrets_of(settings)
        self.alias_key = alias_key(settings.admin_token)
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
        coordination, coordination_error = self._coordination()
        runs, held, runs_error = self._database()
        snapshot, catalog_error, origin = self._catalog()
        return StatusInputs(
            served_by=self.served_by(),
            coordination=coordination,
            coordination_error=coordination_error,
            runs=runs,
            runs_error=runs_error,
            held=held,
            catalog=snapshot,
            catalog_error=catalog_error,
            catalog_origin=origin,
            now=self.wall_clock(),
            secrets=self.secrets,
            alias_key=self.alias_key,
            webhooks=self._webhooks(),
        )

    def _coordination(self) -> tuple[dict[str, Any] | None, str | None]:
        coordinator = self.coordinator()
        if coordinator is None:
            return None, "this process runs no coordinator"
        try:
            return dict(coordinator.status()), None
        except Exception as exc:  # any failure: the page shows "unavailable", never a 500
            log.warning("coordination status unavailable: %s", type(exc).__name__)
            return None, f"coordination status unavailable: {type(exc).__name__}"

    def _database(self) -> tuple[list[dict[str, Any]], list[Any], str | None]:
        # Deferred: SQLAlchemy loads with the first page, not at start-up.
        from sqlalchemy.exc import SQLAlchemyError

        from ratecard.web.dashboard import readmodel

        try:
            with self.engine().connect() as conn:
                return readmodel.recent_runs(conn), readmodel.pending_held(conn), None
        except SQLAlchemyError as exc:
            return [], [], f"database unavailable: {type(exc).__name__}"

    def _webhooks(self) -> dict[str, int] | None:
        # The webhook outbox backlog (pending, failing, dead-lettered). Deferred, as above.
        from sqlalchemy.exc import SQLAlchemyError

        from ratecard.changes.outbox import backlog

        try:
            with self.engine().connect() as conn:
                return backlog(conn)
        except SQLAlchemyError:
            return None

    def _catalog(self) -> tuple[Any, str | None, str | None]:
        try:
            snapshot = self.catalog.current()
        except Exception as exc:  # ServiceUnavailable, a database error: say so on the page
            return None, f"catalog unavailable: {type(exc).__name__}", None
        return snapshot, None, self.catalog.source_of_last_load

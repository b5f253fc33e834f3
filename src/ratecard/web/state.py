"""Per-app state, kept in `app.extensions["ratecard"]` (the Flask extension way).

It is the process's `Services` (settings, identity, lazy engine and Redis) plus the parts the
composition root built for this app: the catalog cache, the coordinator, the webhook delivery
loop and the factory of the ingestion dependencies. Web areas with state of their own (health,
dashboard, OpenAPI) keep it under their own extension key, beside this one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from flask import Flask, current_app

from ratecard.services import InstanceInfo, Services
from ratecard.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from ratecard.changes.delivery import DeliveryWorker
    from ratecard.coordination.coordinator import Coordinator
    from ratecard.ingest.refresh import RefreshDeps
    from ratecard.serving.catalog_cache import CatalogCache

T = TypeVar("T")

EXTENSION_KEY = "ratecard"
# The web app's type, for the signatures of the composition root and the entry points above the
# edge (which import no Flask of their own).
App = Flask


class RatecardState(Services):
    """The services of one app, and the parts its composition root registered (None until)."""

    def __init__(self, settings: Settings, instance: InstanceInfo | None = None) -> None:
        super().__init__(settings, instance)
        # Typed attributes rather than a dict by name: a misspelt key was a None at run time,
        # and every reader had to cast what it got back.
        self.catalog_cache: CatalogCache | None = None
        self.coordinator: Coordinator | None = None
        self.delivery: DeliveryWorker | None = None  # the webhook delivery loop
        # Builds the refresh's and held review's dependencies (change log hook included).
        self.refresh_deps: Callable[[], RefreshDeps] | None = None

    def need_catalog_cache(self) -> CatalogCache:
        """The catalog cache the composition root registered; a clear error if it did not."""
        return _registered(self.catalog_cache, "the catalog cache")

    def need_coordinator(self) -> Coordinator:
        """The coordinator; a clear error if the composition root registered none."""
        return _registered(self.coordinator, "the coordinator")

    def need_refresh_deps(self) -> RefreshDeps:
        """The ingestion dependencies (engine, Redis, the change log hook, the cache)."""
        return _registered(self.refresh_deps, "the ingestion dependencies")()


class ComponentMissing(RuntimeError):
    """A part was asked for before (or without) the composition root registering it."""


def _registered(component: T | None, what: str) -> T:
    if component is None:
        raise ComponentMissing(f"{what} is not registered on this app")
    return component


def get_state(app: Flask | None = None) -> RatecardState:
    """Return the ratecard state of `app` (default: the current app)."""
    target = app if app is not None else current_app
    state: RatecardState = target.extensions[EXTENSION_KEY]
    return state


def database_call(call: Callable[[Connection], T], *, transaction: bool = False) -> T:
    """Run `call(conn)` on a short connection of this app (in one transaction if asked).

    An outage or a value the database refuses raised here is answered by the one handler in
    `http_errors` (503, or 422 for a refused value), never a 500.
    """
    engine = get_state().engine
    with engine.begin() if transaction else engine.connect() as conn:
        return call(conn)

"""The application factory: reading it tells a newcomer what the service is made of.

The composition root of the web instance: it builds each part from the settings and hands it
what it needs; the areas below the web edge never see the app.
"""

from __future__ import annotations

from ratecard import background
from ratecard.health.instance_checks import build_registry, probe_database
from ratecard.logs import configure_logging
from ratecard.redis_keys import RedisKeys
from ratecard.redis_policy import warn_if_evictable_in_background
from ratecard.serving.catalog_cache import CatalogCache
from ratecard.settings import Settings
from ratecard.web import admin, api, dashboard, health_probes, http_metrics, openapi
from ratecard.web.http_errors import register_errorhandlers
from ratecard.web.security import RatecardFlask, register_security
from ratecard.web.state import EXTENSION_KEY, RatecardState


def create_app(settings: Settings | None = None) -> RatecardFlask:
    """Build the app; no migrations, no network I/O, no background thread started here."""
    settings = settings or Settings.from_env()
    app = RatecardFlask(__name__)  # no redirect that merges slashes (security.py says why)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # JSON requests are small; 413 beyond
    app.config["TRUSTED_HOSTS"] = settings.trusted_hosts and list(settings.trusted_hosts)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    state = register_state(app, settings)
    configure_logging(settings, state.instance.instance_id)
    register_errorhandlers(app)
    register_catalog(state)
    register_health(app, state)
    register_background(state)
    api.init_app(app)  # the price API and the change feed
    http_metrics.init_app(app)  # /metrics and per-request counters
    admin.init_app(app)  # /admin, behind the bearer token RATECARD_ADMIN_TOKEN
    dashboard.init_app(app)  # the operator's dashboard at / and a page per model
    openapi.init_app(app)  # /openapi.json, from the routes registered above
    register_security(app)  # security headers on every response, a JSON 413
    return app


def register_state(app: RatecardFlask, settings: Settings) -> RatecardState:
    """Attach the per-app state (settings, lazy engine and Redis client)."""
    state = app.extensions[EXTENSION_KEY] = RatecardState(settings)
    return state


def register_catalog(state: RatecardState) -> None:
    """The in-process catalog cache, on the app's lazy engine and Redis client."""
    # Getters, not values: the engine and Redis client are created on first use, per process.
    state.catalog_cache = CatalogCache(
        engine=lambda: state.engine,
        redis=lambda: state.redis,
        keys=RedisKeys(prefix=state.settings.redis_key_prefix),
    )


def register_health(app: RatecardFlask, state: RatecardState) -> None:
    """The check registry, on its own database connection, and the probes under /health."""
    db = probe_database(state.settings)
    state.shutdown_hooks.append(db.close)
    registry = build_registry(
        state.settings,
        db,
        redis=lambda: state.redis,
        coordinator=lambda: state.coordinator,
        started_at=state.instance.started_at,
        catalog_loaded=lambda: state.need_catalog_cache().loaded,
    )
    health_probes.init_app(app, registry, db)


def register_background(state: RatecardState) -> None:
    """The ingestion dependencies, the periodic jobs' coordinator and the webhook delivery
    loop (started after fork, see start_background)."""
    background.init(state)


def start_background(app: RatecardFlask) -> None:
    """Start this process's background work (the coordinator); call once, after any fork."""
    state: RatecardState = app.extensions[EXTENSION_KEY]
    background.start(state)
    warn_if_evictable_in_background(state.redis)

"""The application factory: reading it tells a newcomer what the service is made of."""

from __future__ import annotations

from flask import Flask

from ratecard.logs import configure_logging
from ratecard.settings import Settings
from ratecard.web.http_errors import register_errorhandlers
from ratecard.web.security import RatecardFlask
from ratecard.web.state import EXTENSION_KEY, RatecardState


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; no migrations, no network I/O, no background thread started here."""
    settings = settings or Settings.from_env()
    app = RatecardFlask(__name__)  # no redirect that merges slashes (security.py says why)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # JSON requests are small; 413 beyond
    app.config["TRUSTED_HOSTS"] = settings.trusted_hosts and list(settings.trusted_hosts)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    register_state(app, settings)
    configure_logging(settings, app.extensions[EXTENSION_KEY].instance.instance_id)
    register_errorhandlers(app)
    register_health(app)
    register_prices(app)
    register_changes(app)
    register_coordination(app)
    register_metrics(app)
    register_admin(app)
    register_dashboard(app)
    register_security(app)
    return app


def register_state(app: Flask, settings: Settings) -> None:
    """Attach the per-app state (settings, lazy engine and Redis client)."""
    app.extensions[EXTENSION_KEY] = RatecardState(settings)


def register_health(app: Flask) -> None:
    """Probes under /health and the check registry."""
    from ratecard.health import init_app

    init_app(app)


def register_prices(app: Flask) -> None:
    """The price catalog's web adapter: API blueprint, in-process cache, OpenAPI document."""
    from ratecard.web.api import init_app

    init_app(app)


def register_changes(app: Flask) -> None:
    """The change feed (/api/changes, Atom) and webhook subscriptions under /admin/webhooks."""
    from ratecard.changes import init_app

    init_app(app)


def register_coordination(app: Flask) -> None:
    """The periodic jobs and their coordinator (started after fork, see start_background)."""
    from ratecard.background import init_app

    init_app(app)


def register_metrics(app: Flask) -> None:
    """Prometheus /metrics and per-request counters."""
    from ratecard.web.http_metrics import init_app

    init_app(app)


def register_admin(app: Flask) -> None:
    """Admin controls under /admin (bearer token RATECARD_ADMIN_TOKEN)."""
    from ratecard.web.admin import init_app

    init_app(app)


def register_dashboard(app: Flask) -> None:
    """The operator's dashboard at / and a page per model."""
    from ratecard.web.dashboard import init_app

    init_app(app)


def register_security(app: Flask) -> None:
    """Security headers on every response and a JSON 413 for oversized bodies."""
    from ratecard.web.security import register_security as init_app

    init_app(app)


def start_background(app: Flask) -> None:
    """Start this process's background work (the coordinator); call once, after any fork."""
    from ratecard.background import start
    from ratecard.redis_policy import warn_if_evictable_in_background

    start(app)
    warn_if_evictable_in_background(app.extensions[EXTENSION_KEY].redis)

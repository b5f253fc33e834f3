"""In-process health for trusted callers: an app built from the environment, and its checks.

This module sits above the app factory (it calls `create_app`); the documented entry point
`optimized_startup.get_health_check_data` is this function.
"""

from __future__ import annotations

import threading
from typing import Any

from ratecard.app import create_app
from ratecard.settings import Settings
from ratecard.web.health_probes import health_report
from ratecard.web.state import App

_default_apps: dict[Settings, App] = {}
_default_apps_lock = threading.Lock()


def probe_app(settings: Settings | None = None) -> App:
    """Return an app built from the environment for in-process checks (no background threads).

    One per distinct settings, kept: repeated calls share its engine and its result cache.
    """
    base = settings or Settings.from_env()
    # This process runs no coordinator: the fleet's coordinators run in the web workers.
    settings = base.with_overrides(start_coordinator=False)
    with _default_apps_lock:
        app = _default_apps.get(settings)
        if app is None:
            app = _default_apps[settings] = create_app(settings)
    return app


def get_health_check_data(app: App | None = None) -> dict[str, Any]:
    """Return the same data as GET /health with details (for trusted, in-process callers)."""
    body, _status = health_report(app or probe_app(), readiness_only=False, details=True)
    return body

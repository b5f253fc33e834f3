"""Admin controls under /admin, behind the bearer token RATECARD_ADMIN_TOKEN."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the /admin blueprint."""
    from ratecard.web.admin.endpoints import bp

    app.register_blueprint(bp)

"""The operator's dashboard: `/`, a page per model, and the fragments the page polls."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the dashboard blueprint (templates and static files live in the package)."""
    from ratecard.web.dashboard.pages import bp

    app.register_blueprint(bp)

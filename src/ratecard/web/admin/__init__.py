"""Admin controls under /admin, behind the bearer token RATECARD_ADMIN_TOKEN: refresh, worker
status, held-change review, the webhook subscriptions and the price books."""

from __future__ import annotations

from flask import Flask

from ratecard.web.admin import endpoints, price_book_routes, webhooks


def init_app(app: Flask) -> None:
    """Register the /admin blueprints."""
    app.register_blueprint(endpoints.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(price_book_routes.bp)

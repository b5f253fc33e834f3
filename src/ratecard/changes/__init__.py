"""Price changes told to subscribers: the change log, the feed, webhooks and their outbox.

- changelog: entries written in the committing transaction (the refresh hook), read by cursor;
- outbox, subscriptions, signing, destinations, backoff: messages and where they go;
- delivery: the loop that sends them while holding the `delivery` lease (its backlog and attempt
  counters are recorded through ratecard.metrics);
- feed_api, atom: GET /api/changes and /api/changes.atom (admin routes: admin.webhooks);
- change_schemas, openapi_routes: request/response models and routes for /openapi.json;
- retention: what the maintenance job prunes from the change log and the outbox.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from ratecard.changes.delivery import DeliveryWorker
    from ratecard.coordination.backends import LeaseBackends
    from ratecard.web.state import RatecardState


def init_app(app: Flask) -> None:
    """Register the feed and the webhook admin blueprints (no I/O)."""
    from ratecard.web.admin.webhooks import bp as admin_bp
    from ratecard.web.api.change_feed import blueprint

    app.register_blueprint(blueprint)
    app.register_blueprint(admin_bp)


def build_delivery(state: RatecardState, backends: LeaseBackends) -> DeliveryWorker:
    """Assemble the delivery loop of one app instance (not started; start() after fork)."""
    from ratecard.changes.delivery import DeliveryWorker

    settings = state.settings
    return DeliveryWorker(
        lambda: state.engine,
        backends,
        state.instance.instance_id,
        poll_interval=settings.webhook_poll_interval,
        timeout=settings.webhook_timeout,
        concurrency=settings.webhook_concurrency,
        max_attempts=settings.webhook_max_attempts,
        allow_private=settings.webhook_allow_private,
    )

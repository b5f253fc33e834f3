"""The route table of this area for /openapi.json (feed and webhook admin routes)."""

from __future__ import annotations

from ratecard.api.openapi import RouteSpec


def change_routes() -> list[RouteSpec]:
    """Return the change feed's and the webhook admin API's routes, in declaration order."""
    from ratecard.admin.webhooks import ROUTES as ADMIN_ROUTES
    from ratecard.changes.feed_api import ROUTES as FEED_ROUTES

    return [*FEED_ROUTES, *ADMIN_ROUTES]

"""The route table of this area for /openapi.json (feed and webhook admin routes)."""

from __future__ import annotations

from ratecard.web.openapi import RouteSpec


def change_routes() -> list[RouteSpec]:
    """Return the change feed's and the webhook admin API's routes, in declaration order."""
    from ratecard.web.admin.webhooks import ROUTES as ADMIN_ROUTES
    from ratecard.web.api.change_feed import ROUTES as FEED_ROUTES

    return [*FEED_ROUTES, *ADMIN_ROUTES]

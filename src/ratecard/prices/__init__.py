"""The price catalog domain: sources, normalize, guard, store, cache, refresh, cost, API."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the API blueprint, /openapi.json and the catalog cache (no I/O here)."""
    from ratecard.extension import EXTENSION_KEY, RatecardState
    from ratecard.prices.api import blueprint as api_blueprint
    from ratecard.prices.catalog import COMPONENT_KEY, CatalogCache
    from ratecard.prices.openapi import blueprint as openapi_blueprint
    from ratecard.redis_keys import RedisKeys

    state: RatecardState = app.extensions[EXTENSION_KEY]
    # Getters, not values: the engine and Redis client are created on first use, per process.
    state.components[COMPONENT_KEY] = CatalogCache(
        engine=lambda: state.engine,
        redis=lambda: state.redis,
        keys=RedisKeys(prefix=state.settings.redis_key_prefix),
    )
    app.register_blueprint(api_blueprint)
    app.register_blueprint(openapi_blueprint)

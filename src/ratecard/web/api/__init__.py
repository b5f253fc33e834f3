"""The price API's web adapter: the /api blueprint, /openapi.json and their request schemas.

Flask lives here and not in `ratecard.ingest`: the domain stays importable (by the worker, the
CLI, scripts) without loading the web stack. Module-level imports stay light, as before.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the API blueprint, /openapi.json and the catalog cache (no I/O here)."""
    from ratecard.redis_keys import RedisKeys
    from ratecard.serving.catalog_cache import CatalogCache
    from ratecard.web.api.models import blueprint as api_blueprint
    from ratecard.web.openapi import blueprint as openapi_blueprint
    from ratecard.web.security import BODY_LIMITS
    from ratecard.web.state import get_state

    state = get_state(app)
    # Getters, not values: the engine and Redis client are created on first use, per process.
    state.catalog_cache = CatalogCache(
        engine=lambda: state.engine,
        redis=lambda: state.redis,
        keys=RedisKeys(prefix=state.settings.redis_key_prefix),
    )
    # The batch route streams bodies of tens of megabytes; every other route keeps 1 MiB.
    app.config.setdefault(BODY_LIMITS, {})["api.price_batch"] = state.settings.batch_max_bytes
    app.register_blueprint(api_blueprint)
    app.register_blueprint(openapi_blueprint)

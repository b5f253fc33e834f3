"""The price API under /api: models, history, the price table, cost (one or a batch), the
change feed.

Each module declares its routes on the blueprint it belongs to; `init_app` imports them and
registers the blueprints, which records their routes for /openapi.json.
"""

from __future__ import annotations

from flask import Flask

from ratecard.web.api import (  # noqa: F401
    catalog_copy,
    change_feed,
    history,
    models,
    price_batch,
    price_export,
    price_request,
)
from ratecard.web.api.blueprint import blueprint
from ratecard.web.api.kept_reads import KeptReads
from ratecard.web.early_answers import answer_early
from ratecard.web.security import BODY_LIMITS
from ratecard.web.state import get_state


def init_app(app: Flask) -> None:
    """Register the price API and the change feed (no I/O here)."""
    # Imported for their routes, which they declare on these blueprints.

    # The batch route streams bodies of tens of megabytes; every other route keeps 1 MiB.
    limits = app.config.setdefault(BODY_LIMITS, {})
    limits["api.price_batch"] = get_state(app).settings.batch_max_bytes
    app.register_blueprint(blueprint)
    app.register_blueprint(change_feed.blueprint)
    answer_early(app, KeptReads(get_state(app).need_catalog_cache().current))

"""The operator's dashboard: `/`, a page per model, and the fragments the page polls."""

from __future__ import annotations

from flask import Flask

from ratecard.web.dashboard.pages import bp
from ratecard.web.dashboard.source_panel import GATHERER, StatusGatherer
from ratecard.web.state import get_state


def init_app(app: Flask) -> None:
    """Register the dashboard blueprint (templates and static files live in the package) and
    the gatherer its pages read, handed the app's parts."""
    state = get_state(app)
    app.extensions[GATHERER] = StatusGatherer(
        served_by=state.instance.as_dict,
        coordinator=lambda: state.coordinator,
        engine=lambda: state.engine,
        catalog=state.need_catalog_cache(),
        settings=state.settings,
    )
    app.register_blueprint(bp)

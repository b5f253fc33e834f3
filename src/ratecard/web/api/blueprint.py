"""The /api blueprint the price API's modules register their routes on, and what they share:
the catalog this app serves and the sources' order of preference."""

from __future__ import annotations

from flask import Blueprint

from ratecard.catalog.snapshot import CatalogSnapshot
from ratecard.web.routes import route_registrar
from ratecard.web.state import get_state

blueprint = Blueprint("api", __name__, url_prefix="/api")
models_route = route_registrar(
    blueprint,
    schemas="ratecard.web.api.schemas",
    tag="models",
    tag_description="The served catalog: models as people type their names, their prices "
    "per source, history, prices at a past time, where sources disagree.",
)
cost_route = route_registrar(
    blueprint,
    schemas="ratecard.web.api.schemas",
    tag="cost",
    tag_description="The exact cost of a request, from flat counts, a provider's usage block "
    "or its whole response; one at a time or a batch.",
)

COMMON_ERRORS = {404: "ErrorOut", 422: "ErrorOut", 503: "ErrorOut"}
# Every route that takes a model resolves it: several different models match -> 409.
MODEL_ERRORS = {**COMMON_ERRORS, 409: "AmbiguousOut"}
# The documented examples: a model the LiteLLM feed and the bundled snapshot both list.
EXAMPLE_MODEL = "gpt-4o"


def current_catalog() -> CatalogSnapshot:
    """Return the newest catalog snapshot (503 if it cannot be loaded at all)."""
    return get_state().need_catalog_cache().current()


def preferred_sources() -> list[str]:
    """Sources in configured order: the first one listing an id answers for it."""
    return [s.name for s in get_state().settings.sources]

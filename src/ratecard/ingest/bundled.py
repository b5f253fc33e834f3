"""The LiteLLM snapshot shipped inside the package, for bootstrapping with no network."""

from __future__ import annotations

from importlib import resources

from ratecard.settings import Source
from ratecard.vocabulary import FeedKind

BUNDLED_SOURCE = Source(
    name="bundled",
    url="package://ratecard/ingest/data/litellm_snapshot.json",
    kind=FeedKind.LITELLM,
)
# The snapshot's own `last_updated` date; a test keeps the two in step.
BUNDLED_DATE = "2026-07-24"


def bundled_snapshot() -> tuple[Source, bytes, str]:
    """Return the bundled source, the snapshot's bytes and its date (YYYY-MM-DD)."""
    body = resources.files("ratecard").joinpath("ingest/data/litellm_snapshot.json").read_bytes()
    return BUNDLED_SOURCE, body, BUNDLED_DATE

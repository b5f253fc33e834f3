"""The LiteLLM snapshot shipped inside the package: it stands in for the LiteLLM feed while
that feed has never answered (a first start with no network), under the feed's own name, and
the feed's first answer replaces it through the guard like any change. It is never served
beside the feed it stands for.
"""

from __future__ import annotations

from dataclasses import replace
from importlib import resources

from ratecard.settings import Source

# The snapshot's own `last_updated` date; a test keeps the two in step.
BUNDLED_DATE = "2026-07-24"
BUNDLED_URL = "package://ratecard/ingest/data/litellm_snapshot.json"
# What a stand-in's source state records as its URL: never a feed's, so the feed's first
# answer is fetched and judged whole (no conditional request, no identical-body skip).
BUNDLED_META_URL = "package:bundled"


def bundled_snapshot(standing_for: Source) -> tuple[Source, bytes, str]:
    """The snapshot as LiteLLM source `standing_for` (its name, the package's file), its
    bytes and its date (YYYY-MM-DD)."""
    body = resources.files("ratecard").joinpath("ingest/data/litellm_snapshot.json").read_bytes()
    return replace(standing_for, url=BUNDLED_URL), body, BUNDLED_DATE

"""Alembic environment, revisions, and the deploy-time runner (`ratecard migrate`).

The revision ids are listed here so that a running instance can tell whether its database is
behind, at or ahead of its code without importing Alembic (start-up stays fast). A test keeps
this list equal to the revisions Alembic finds.
"""

from __future__ import annotations

from pathlib import Path

SCRIPT_LOCATION = str(Path(__file__).resolve().parent)
VERSION_TABLE = "alembic_version"

# Oldest first. Append a revision here whenever one is added under versions/.
KNOWN_REVISIONS: tuple[str, ...] = (
    "0001_initial",
    "0002_job_state_generation",
    "0003_model_alias_target",
    "0004_changes_outbox",  # the change log and the webhook outbox
    "0005_feed_integrity",  # stale marks, run problems, per-token image price
    "0006_model_pricing",  # service-tier variants, time windows, uplifts, rules
    "0007_source_read_again_at",  # a dated price's start makes the feed be read again
    "0008_price_books",  # price books, their versions, their change entries
)
HEAD_REVISION = KNOWN_REVISIONS[-1]

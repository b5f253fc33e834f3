"""Admin review of held changes: apply or dismiss one, then publish the catalog it produced."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ratecard.errors import Conflict, NotFound
from ratecard.redis_keys import RedisKeys
from ratecard.schema import held_changes
from ratecard.vocabulary import HeldStatus

# held_changes.id is a 32-bit INTEGER on PostgreSQL; SQLite's is 64-bit. An id beyond the
# column cannot exist, and passing it anyway fails in the driver (SQLite: OverflowError, a
# 500; PostgreSQL: NumericValueOutOfRange, a 503): range-check first, answer 404.
MAX_HELD_ID = 2**31 - 1

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ratecard.web.state import RatecardState


def resolve_held(state: RatecardState, held_id: int, decision: str) -> dict[str, Any]:
    """Accept or reject pending held change `held_id`; return what happened (JSON-safe)."""
    from ratecard.ingest import held_review

    ensure_pending(state.engine, held_id)
    by = f"admin@{state.instance.instance_id}"
    resolve = held_review.accept_held if decision == "accept" else held_review.reject_held
    result = resolve(state.engine, held_id, by)
    published = False
    if result.catalog_version is not None:
        published = publish_version(state, result.catalog_version)
    return {
        "id": result.held_id,
        "status": result.status,
        "catalog_version": result.catalog_version,
        "published": published,
    }


def ensure_pending(engine: Engine, held_id: int) -> None:
    """Raise NotFound / Conflict unless `held_id` is a pending held change.

    The store checks this too, but only after it has opened a review run: checking first
    keeps a mistyped id from leaving a run row behind.
    """
    if not 0 < held_id <= MAX_HELD_ID:
        raise NotFound(f"no held change {held_id}", field="held_id")
    with engine.connect() as conn:
        status = conn.execute(
            select(held_changes.c.status).where(held_changes.c.id == held_id)
        ).scalar_one_or_none()
    if status is None:
        raise NotFound(f"no held change {held_id}", field="held_id")
    if status != HeldStatus.PENDING:
        raise Conflict(f"held change {held_id} is already {status}", field="held_id")


def publish_version(state: RatecardState, version: int) -> bool:
    """Publish catalog `version` to Redis and this process's cache; return whether Redis took it.

    Without this, other instances would learn of the review only at their cache's next
    reconcile with the database (seconds later); this instance's own page would lag too.
    """
    from ratecard.serving import queries
    from ratecard.serving.publish import encode_catalog, publish_quietly

    with state.engine.connect() as conn:
        data = queries.load_catalog_data(conn, version)
    keys = RedisKeys(prefix=state.settings.redis_key_prefix)
    published = publish_quietly(state.redis, keys, version, encode_catalog(data))
    cache = state.catalog_cache
    if cache is not None:
        cache.install(data)
    return published

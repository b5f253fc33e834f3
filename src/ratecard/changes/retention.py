"""Retention of the change log and the webhook outbox: what the maintenance job may prune.

The maintenance job (ratecard.coordination.maintenance) knows nothing of changes; background.py
hands it `prune_changes` as one more pruner, run in the job's fenced transaction.

What goes, once older than the retention cutoff:
- delivered messages (by `delivered_at`): the receiver has them, nothing will send them again;
- dead-lettered messages whose last attempt is older (an operator had the whole retention to
  redeliver them);
- change-log rows (by `observed_at`) that no message still waiting to be sent carries.

What never goes: a pending message (a first attempt, a retry, or one held by a paused
subscription), however old, and any change at or after the first seq of a message not yet
delivered. The failure timeline the second rule prevents:

  time 0   refresh commits changes 101..120 and, in the same transaction, message M (seqs
           101..120) for subscription S, whose receiver is down; M is retried for hours,
           then S is paused by an operator for a week
  time 30d maintenance runs with a 30-day retention: 101..120 are older than the cutoff
  time 31d S resumes; M is sent from its stored payload, and the receiver, which pages the
           change feed by `seq` to catch up on what it missed (or an operator checking M
           against /api/changes), must still find 101..120 there
Deleting the changes by age alone would have removed entries a live subscription never
received. Pending messages pin their changes until they are delivered (or dead and aged out).

Seqs stay monotonic after pruning: they are drawn from `change_log_head`, which is never
pruned, so a feed cursor never sees a reused seq.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ratecard.vocabulary import DeliveryStatus

if TYPE_CHECKING:
    from sqlalchemy import Connection

# Deferred: SQLAlchemy and the schema load when the maintenance job first prunes.


def prune_changes(conn: Connection, cutoff: datetime) -> dict[str, int]:
    """Delete old delivered/dead messages and unpinned old changes; return the counts."""
    from sqlalchemy import and_, delete, func, or_, select

    from ratecard.schema import changes, webhook_events

    events = webhook_events.c
    pruned_events = conn.execute(
        delete(webhook_events).where(
            or_(
                and_(events.status == DeliveryStatus.DELIVERED, events.delivered_at < cutoff),
                and_(
                    events.status == DeliveryStatus.DEAD,
                    events.created_at < cutoff,
                    func.coalesce(events.last_attempt_at, events.created_at) < cutoff,
                ),
            )
        )
    ).rowcount
    # The messages still to send after the deletion above (pending, and dead ones younger than
    # the cutoff, which can still be redelivered): the earliest seq any of them carries pins
    # every later change. One statement, so on PostgreSQL the pin and the deletion read the
    # same snapshot: a message committed meanwhile carries changes this statement cannot see.
    pinned_from = (
        select(func.min(events.first_seq))
        .where(events.status != DeliveryStatus.DELIVERED)
        .scalar_subquery()
    )
    pruned_changes = conn.execute(
        delete(changes).where(
            changes.c.observed_at < cutoff,
            or_(pinned_from.is_(None), changes.c.seq < pinned_from),
        )
    ).rowcount
    return {"webhook_events": int(pruned_events or 0), "changes": int(pruned_changes or 0)}

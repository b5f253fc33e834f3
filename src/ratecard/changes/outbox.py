"""The webhook outbox: messages written with the changes they announce, claimed, settled.

Guarantees and the failure timelines they answer:

1. Never lost, never invented. `enqueue` runs inside the transaction that commits the prices
   (via changelog.record_changes, after the fence claim):
       t=0  a refresh commits new prices; t=0+ its instance is SIGKILLed
   The messages committed with the prices; any instance holding the delivery lease sends them.
   And a fenced or failed run rolls back its messages with its prices: no message announces a
   price that never committed.

2. One id per change. Each (subscription, change) is placed in exactly one message, once,
   in that transaction; every attempt and every admin redelivery sends the same row, so the
   same webhook-id and the same bytes. A receiver that de-duplicates by webhook-id sees each
   change once.

3. A stale sender cannot settle silently. Sending is claimed per message: a claim token and a
   `claimed_until` (database time) are written before the POST, and the result is recorded only
   `WHERE claim_token = <ours>`. Timeline:
       t=0   A claims msg_1 until t=40 and POSTs; the receiver stalls
       t=15  A's delivery lease expires (A is paused); B takes the lease
       t=15+ B skips msg_1: its claim is live until t=40 (no second POST meanwhile)
       t=41  B re-claims msg_1 (new token) and POSTs: a second attempt, same webhook-id
       t=42  A wakes and records "delivered": 0 rows match its old token; A logs and counts
             the stale result instead of overwriting B's attempt
   Claims last longer than a send can (timeouts, see delivery.py), so a live sender is never
   overtaken; a dead one is retried once its claim runs out.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, exists, func, insert, select, text, true, update

from ratecard.changes.backoff import MAX_ATTEMPTS, retry_delay
from ratecard.changes.signing import new_message_id
from ratecard.changes.subscriptions import Subscription
from ratecard.errors import Conflict, NotFound
from ratecard.schema import webhook_events, webhook_subscriptions
from ratecard.timetext import instant_text
from ratecard.vocabulary import DeliveryStatus

if TYPE_CHECKING:
    from ratecard.changes.records import Change

EVENT_TYPE = "prices.changed"
PAGE_SIZE = 500  # changes per message: a first load of 3,000 models is six messages


def db_now(conn: Connection) -> datetime:
    """The database's clock: every instance judges claims and retries by this one clock.

    Timeline a sender's own clock would allow (as for the SQL lease, see sql_lease.py):
        t=0  A (clock right) claims msg_1 until 10:00:45 and POSTs to a slow receiver
        t=2  B takes over the lease; B's clock runs 60 s fast and reads 10:01:02 > 10:00:45,
             so B re-claims msg_1 and POSTs it while A's attempt is still in flight
    With `claimed_until` written and compared in database time, B waits for the real expiry.
    """
    if conn.dialect.name == "postgresql":
        value = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        return value.astimezone(UTC)
    return datetime.now(UTC)  # SQLite: the only machine that can open the file


# --- writing, inside the committing transaction ------------------------------------------------


def enqueue(conn: Connection, entries: Sequence[Change], now: datetime) -> int:
    """Write one message per subscription and page of its matching entries; return how many."""
    if not entries:
        return 0
    # Read after log_head.draw_seqs took the head row's lock: see subscriptions.create.
    subs = [Subscription.from_row(r) for r in conn.execute(select(webhook_subscriptions))]
    rows: list[dict[str, Any]] = []
    for sub in subs:
        matching = [c for c in entries if c.seq > sub.created_seq and sub.filter.matches(c)]
        pages = [matching[i : i + PAGE_SIZE] for i in range(0, len(matching), PAGE_SIZE)]
        for number, page in enumerate(pages, start=1):
            message_id = new_message_id()
            body = {
                "type": EVENT_TYPE,
                "timestamp": instant_text(now),
                "data": {
                    "subscription_id": sub.id,
                    "run_id": page[0].run_id,
                    "page": number,
                    "pages": len(pages),
                    "changes": [c.to_json() for c in page],
                },
            }
            rows.append(
                {
                    "id": message_id,
                    "subscription_id": sub.id,
                    "run_id": page[0].run_id,
                    "page": number,
                    "first_seq": page[0].seq,
                    "last_seq": page[-1].seq,
                    "changes": len(page),
                    "payload": json.dumps(body, separators=(",", ":")),
                    "created_at": now,
                    "status": DeliveryStatus.PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
            )
    if rows:
        conn.execute(insert(webhook_events), rows)
    return len(rows)


# --- claiming and settling (the delivery lease holder) -----------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A message claimed for one attempt: what to send, where, and the token that settles it."""

    id: str
    subscription: Subscription
    payload: str
    attempts: int  # including this one
    token: str
    claimed_until: datetime


def claim_due(
    conn: Connection, now: datetime, limit: int, claim_seconds: float, skip: Sequence[str] = ()
) -> list[Claimed]:
    """Claim up to `limit` due messages: per subscription, its oldest due one, if none is in flight.

    One in flight per subscription lets a slow receiver hold one sending slot, not all of them.
    A message waiting for its retry does not hold back the later ones (a receiver that failed
    once would otherwise get one message per back-off period), so messages can arrive out of
    order: each change carries its `seq` for that.
    """
    if limit <= 0:
        return []
    sibling = webhook_events.alias("sibling")
    same_subscription = and_(
        sibling.c.subscription_id == webhook_events.c.subscription_id,
        sibling.c.status == DeliveryStatus.PENDING,
    )
    none_in_flight = ~exists().where(
        same_subscription, sibling.c.claimed_until.is_not(None), sibling.c.claimed_until >= now
    )
    oldest_due = ~exists().where(
        same_subscription,
        sibling.c.first_seq < webhook_events.c.first_seq,
        sibling.c.next_attempt_at <= now,
        _claim_free(now, sibling),
    )
    candidates = (
        conn.execute(
            select(webhook_events.c.id)
            .join(
                webhook_subscriptions,
                webhook_subscriptions.c.id == webhook_events.c.subscription_id,
            )
            .where(
                webhook_events.c.status == DeliveryStatus.PENDING,
                webhook_subscriptions.c.paused == 0,
                webhook_events.c.next_attempt_at <= now,
                _claim_free(now),
                none_in_flight,
                oldest_due,
                webhook_events.c.id.not_in(list(skip)) if skip else true(),
            )
            .order_by(webhook_events.c.first_seq)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    if not candidates:
        return []
    token = uuid.uuid4().hex
    until = now + timedelta(seconds=claim_seconds)
    # Conditional on the claim still being free: of two claimers racing for a message, the
    # second's UPDATE re-checks the row after the first commits and matches nothing.
    claimed_ids = (
        conn.execute(
            update(webhook_events)
            .where(
                webhook_events.c.id.in_(list(candidates)),
                webhook_events.c.status == DeliveryStatus.PENDING,
                _claim_free(now),
            )
            .values(
                claim_token=token,
                claimed_until=until,
                attempts=webhook_events.c.attempts + 1,
                last_attempt_at=now,
            )
            .returning(webhook_events.c.id)
        )
        .scalars()
        .all()
    )
    if not claimed_ids:
        return []
    events = {
        row.id: row
        for row in conn.execute(
            select(webhook_events.c.id, webhook_events.c.payload, webhook_events.c.attempts,
                   webhook_events.c.subscription_id, webhook_events.c.first_seq)
            .where(webhook_events.c.id.in_(list(claimed_ids)))
        )
    }  # fmt: skip
    subs = {
        row.id: Subscription.from_row(row)
        for row in conn.execute(
            select(webhook_subscriptions).where(
                webhook_subscriptions.c.id.in_({e.subscription_id for e in events.values()})
            )
        )
    }
    return [
        Claimed(
            id=event.id,
            subscription=subs[event.subscription_id],
            payload=event.payload,
            attempts=int(event.attempts),
            token=token,
            claimed_until=until,
        )
        for event in sorted(events.values(), key=lambda e: e.first_seq)
    ]


def _claim_free(now: datetime, events: Any = webhook_events) -> Any:
    return (events.c.claimed_until.is_(None)) | (events.c.claimed_until < now)


@dataclass(frozen=True)
class AttemptResult:
    """How one POST went: success (2xx), or why not."""

    ok: bool
    status_code: int | None = None
    error: str | None = None


def settle(
    conn: Connection,
    claimed: Claimed,
    result: AttemptResult,
    now: datetime,
    max_attempts: int = MAX_ATTEMPTS,
) -> str:
    """Record an attempt's result under its claim; return delivered | retry | dead | stale."""
    values: dict[str, Any] = {
        "claim_token": None,
        "claimed_until": None,
        "last_status_code": result.status_code,
        "last_error": result.error,
    }
    if result.ok:
        outcome = "delivered"
        values.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
    else:
        delay = retry_delay(claimed.attempts, max_attempts)
        if delay is None:
            outcome = "dead"
            values.update(status=DeliveryStatus.DEAD)
        else:
            outcome = "retry"
            values.update(next_attempt_at=now + timedelta(seconds=delay))
    done = conn.execute(
        update(webhook_events)
        .where(
            webhook_events.c.id == claimed.id,
            webhook_events.c.claim_token == claimed.token,
            webhook_events.c.status == DeliveryStatus.PENDING,
        )
        .values(values)
    )
    return outcome if done.rowcount == 1 else "stale"


# --- admin: listing and redelivery ---------------------------------------------------------------


def redeliver(conn: Connection, subscription_id: str, message_id: str, now: datetime) -> None:
    """Queue a dead-lettered message again: same row, so the same webhook-id and body."""
    row = conn.execute(
        select(webhook_events.c.status).where(
            webhook_events.c.id == message_id,
            webhook_events.c.subscription_id == subscription_id,
        )
    ).first()
    if row is None:
        raise NotFound(f"no delivery {message_id!r} for subscription {subscription_id!r}")
    if row.status != DeliveryStatus.DEAD:
        raise Conflict(
            f"delivery {message_id!r} is {row.status}; only dead-lettered ones are redelivered",
            field="status",
        )
    conn.execute(
        update(webhook_events)
        .where(webhook_events.c.id == message_id, webhook_events.c.status == DeliveryStatus.DEAD)
        .values(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            claim_token=None,
            claimed_until=None,
        )
    )


def list_deliveries(
    conn: Connection, subscription_id: str, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """Return a subscription's messages, newest first, without their bodies."""
    query = select(webhook_events).where(webhook_events.c.subscription_id == subscription_id)
    if status is not None:
        query = query.where(webhook_events.c.status == status)
    rows = conn.execute(query.order_by(webhook_events.c.first_seq.desc()).limit(limit))

    return [
        {
            "id": row.id,
            "status": row.status,
            "run_id": row.run_id,
            "page": row.page,
            "changes": row.changes,
            "first_seq": row.first_seq,
            "last_seq": row.last_seq,
            "attempts": row.attempts,
            "created_at": instant_text(row.created_at),
            "last_attempt_at": instant_text(row.last_attempt_at),
            "next_attempt_at": instant_text(row.next_attempt_at)
            if row.status == DeliveryStatus.PENDING
            else None,
            "delivered_at": instant_text(row.delivered_at),
            "last_status_code": row.last_status_code,
            "last_error": row.last_error,
        }
        for row in rows
    ]


def backlog(conn: Connection) -> dict[str, int]:
    """Return outbox counts: pending (all), failing (pending after a failed attempt), dead."""
    query = select(
        webhook_events.c.status, webhook_events.c.last_error.is_not(None), func.count()
    ).group_by(webhook_events.c.status, webhook_events.c.last_error.is_not(None))
    out = {"pending": 0, "failing": 0, "dead": 0}
    for status, failed_before, count in conn.execute(query):
        if status in (DeliveryStatus.PENDING, DeliveryStatus.DEAD):
            out[str(status)] += int(count)
        if status == DeliveryStatus.PENDING and failed_before:
            out["failing"] += int(count)
    return out

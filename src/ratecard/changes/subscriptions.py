"""Webhook subscriptions: where to send, which changes, the signing secret(s); stored rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, select, update

from ratecard.changes.log_head import draw_seqs
from ratecard.changes.signing import new_secret, new_subscription_id
from ratecard.errors import NotFound
from ratecard.schema import webhook_events, webhook_subscriptions
from ratecard.timetext import instant_text
from ratecard.vocabulary import ChangeLogKind, DeliveryStatus

if TYPE_CHECKING:
    from ratecard.changes.records import Change

# After a rotation the old secret signs too (a second signature) for this long, so receivers
# can switch secrets without a window in which they reject genuine messages.
ROTATION_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True)
class WebhookFilter:
    """Which changes a subscription hears: each non-empty list must contain the change's value."""

    models: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def matches(self, change: Change) -> bool:
        if change.kind == ChangeLogKind.PRICE_BOOK and ChangeLogKind.PRICE_BOOK not in self.kinds:
            # A book's changes go only where they were asked for by kind: a subscription
            # made for a model's prices never starts receiving a private book's contents.
            return False
        return (
            (not self.models or change.model_id in self.models)
            and (not self.providers or change.provider in self.providers)
            and (not self.sources or change.source in self.sources)
            and (not self.kinds or change.kind in self.kinds)
        )

    def to_json(self) -> dict[str, list[str]]:
        return {
            name: list(values)
            for name, values in (
                ("models", self.models),
                ("providers", self.providers),
                ("sources", self.sources),
                ("kinds", self.kinds),
            )
            if values
        }

    @classmethod
    def from_json(cls, data: Any) -> WebhookFilter:
        data = data or {}
        return cls(
            **{k: tuple(data.get(k) or ()) for k in ("models", "providers", "sources", "kinds")}
        )


@dataclass(frozen=True)
class Subscription:
    """A stored subscription (the secrets are never part of its JSON)."""

    id: str
    url: str
    filter: WebhookFilter
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None
    paused: bool
    created_at: datetime
    created_seq: int

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets to sign with now: the current one, and the previous during overlap."""
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            return [self.secret, self.previous_secret]
        return [self.secret]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "filter": self.filter.to_json(),
            "paused": self.paused,
            "created_at": instant_text(self.created_at),
        }

    @classmethod
    def from_row(cls, row: Any) -> Subscription:
        return cls(
            id=row.id,
            url=row.url,
            filter=WebhookFilter.from_json(row.filter),
            secret=row.secret,
            previous_secret=row.previous_secret,
            previous_secret_until=row.previous_secret_until,
            paused=bool(row.paused),
            created_at=row.created_at,
            created_seq=int(row.created_seq),
        )


def create(conn: Connection, url: str, where: WebhookFilter, now: datetime) -> Subscription:
    """Store a new subscription that hears only changes committed after this transaction."""
    # The head row is locked (drawing no seqs: a no-op UPDATE) before its seq is read.
    # Timeline it prevents:
    #   a refresh has drawn seqs 101..110 and is about to read the subscriptions; we read
    #   head = 100 and commit; the refresh (which did not see us) commits 101..110. Those are
    #   changes after our creation that we would never hear about.
    # With the lock we wait for that refresh and read head = 110; or it waits for us and, its
    # subscription read coming after its own lock, sees us and sends us 101..110.
    head = draw_seqs(conn, 0)
    subscription = Subscription(
        id=new_subscription_id(),
        url=url,
        filter=where,
        secret=new_secret(),
        previous_secret=None,
        previous_secret_until=None,
        paused=False,
        created_at=now,
        created_seq=head,
    )
    conn.execute(
        insert(webhook_subscriptions).values(
            id=subscription.id,
            url=url,
            filter=where.to_json(),
            secret=subscription.secret,
            paused=0,
            created_at=now,
            created_seq=subscription.created_seq,
        )
    )
    return subscription


def get(conn: Connection, subscription_id: str) -> Subscription:
    """Return the subscription, or raise NotFound."""
    row = conn.execute(
        select(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
    ).first()
    if row is None:
        raise NotFound(f"no webhook subscription {subscription_id!r}", field="id")
    return Subscription.from_row(row)


def list_all(conn: Connection) -> list[Subscription]:
    """Return every subscription, oldest first."""
    query = select(webhook_subscriptions).order_by(
        webhook_subscriptions.c.created_at, webhook_subscriptions.c.id
    )
    return [Subscription.from_row(row) for row in conn.execute(query)]


def delivery_counts(
    conn: Connection, subscription_id: str | None = None
) -> dict[str, dict[str, int]]:
    """Return {subscription id: {status: count}} over the outbox (or one subscription's part
    of it), plus `failing`: the pending messages that have failed at least once (the backlog
    the dashboard shows)."""
    failed_before = webhook_events.c.last_error.is_not(None)
    query = select(
        webhook_events.c.subscription_id, webhook_events.c.status, failed_before, func.count()
    ).group_by(webhook_events.c.subscription_id, webhook_events.c.status, failed_before)
    if subscription_id is not None:
        query = query.where(webhook_events.c.subscription_id == subscription_id)
    out: dict[str, dict[str, int]] = {}
    for sub_id, status, failed, count in conn.execute(query):
        counts = out.setdefault(sub_id, {})
        counts[status] = counts.get(status, 0) + int(count)
        if status == DeliveryStatus.PENDING and failed:
            counts["failing"] = counts.get("failing", 0) + int(count)
    return out


def remove(conn: Connection, subscription_id: str) -> None:
    """Delete the subscription and its messages (pending ones are never sent)."""
    get(conn, subscription_id)
    conn.execute(delete(webhook_events).where(webhook_events.c.subscription_id == subscription_id))
    conn.execute(delete(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id))


def set_paused(conn: Connection, subscription_id: str, paused: bool) -> Subscription:
    """Pause (messages are still recorded, sent after resume) or resume a subscription."""
    current = get(conn, subscription_id)
    conn.execute(
        update(webhook_subscriptions)
        .where(webhook_subscriptions.c.id == subscription_id)
        .values(paused=1 if paused else 0)
    )
    return replace(current, paused=paused)


def rotate_secret(conn: Connection, subscription_id: str, now: datetime) -> Subscription:
    """Issue a new secret; the old one keeps signing alongside for ROTATION_OVERLAP."""
    current = get(conn, subscription_id)
    rotated = replace(
        current,
        secret=new_secret(),
        previous_secret=current.secret,
        previous_secret_until=now + ROTATION_OVERLAP,
    )
    conn.execute(
        update(webhook_subscriptions)
        .where(webhook_subscriptions.c.id == subscription_id)
        .values(
            secret=rotated.secret,
            previous_secret=rotated.previous_secret,
            previous_secret_until=rotated.previous_secret_until,
        )
    )
    return rotated

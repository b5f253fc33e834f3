"""Request and response models of the change feed and the webhook admin API (pydantic v2).

Like api.schemas: they validate requests and generate /openapi.json, imported lazily.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, RootModel, StrictStr

from ratecard.web.api.schemas import QUERY_TEXT, Schema

Kind = Literal[
    "added", "removed", "changed", "held", "released", "appeared", "priced", "price_book"
]
DeliveryStatus = Literal["pending", "delivered", "dead"]
Name = Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=512)]
FEED_LIMIT_MAX = 500


class _Query(Schema):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class ChangesQuery(_Query):
    """Cursor and filters of GET /api/changes."""

    since: Annotated[
        str,
        Field(
            pattern=r"^[0-9]{1,18}$",
            description="A next_cursor from an earlier answer; omitted: from the first change.",
        ),
    ] = "0"
    limit: Annotated[int, Field(ge=1, le=FEED_LIMIT_MAX)] = 100
    model: Name | None = None
    provider: Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=128)] | None = None
    source: Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=64)] | None = None
    kind: Kind | None = None


class AtomQuery(_Query):
    """Filters of GET /api/changes.atom (the newest `limit` changes)."""

    limit: Annotated[int, Field(ge=1, le=FEED_LIMIT_MAX)] = 50
    model: Name | None = None
    provider: Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=128)] | None = None
    source: Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=64)] | None = None
    kind: Kind | None = None


class ChangeOut(Schema):
    """One change: prices before and after as snapshots of exact decimal strings."""

    seq: int
    kind: Kind
    source: str
    model: str | None
    provider: str | None
    observed_at: str
    run_id: int | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    held_id: int | None = None
    reason: str | None = None
    resolution: str | None = None


class ChangesOut(Schema):
    """A page of the change feed; poll again with `since=next_cursor` (always present)."""

    items: list[ChangeOut]
    next_cursor: str


class AtomText(RootModel):
    """An Atom 1.0 feed document (application/atom+xml)."""

    model_config = ConfigDict(defer_build=True)  # as Schema's root models
    root: str


class WebhookFilterIn(Schema):
    """Which changes a subscription hears; each given list must contain the change's value."""

    model_config = ConfigDict(extra="forbid", strict=True)

    models: Annotated[list[Name], Field(max_length=1000)] = []
    providers: Annotated[list[Name], Field(max_length=1000)] = []
    sources: Annotated[list[Name], Field(max_length=100)] = []
    kinds: list[Kind] = []


class WebhookCreate(Schema):
    """Body of POST /admin/webhooks."""

    model_config = ConfigDict(extra="forbid", strict=True)

    url: Annotated[StrictStr, Field(min_length=1, max_length=2000)]
    filter: WebhookFilterIn = WebhookFilterIn()


class WebhookOut(Schema):
    """A subscription (the secret is shown only on creation and rotation)."""

    id: str
    url: str
    filter: dict[str, list[str]]
    paused: bool
    created_at: str
    deliveries: dict[str, int] = {}


class WebhookCreatedOut(WebhookOut):
    """A new subscription with its signing secret (shown this once)."""

    secret: str


class WebhookListOut(Schema):
    items: list[WebhookOut]


class SecretRotatedOut(Schema):
    """The new secret; the old one keeps signing (a second signature) until the given time."""

    id: str
    secret: str
    previous_secret_valid_until: str


class DeletedOut(Schema):
    id: str
    deleted: bool


class DeliveriesQuery(_Query):
    status: DeliveryStatus | None = None
    limit: Annotated[int, Field(ge=1, le=FEED_LIMIT_MAX)] = 50


class DeliveryOut(Schema):
    """One message (its id is the webhook-id every attempt carries)."""

    id: str
    status: DeliveryStatus
    run_id: int | None
    page: int
    changes: int
    first_seq: int
    last_seq: int
    attempts: int
    created_at: str | None
    last_attempt_at: str | None
    next_attempt_at: str | None
    delivered_at: str | None
    last_status_code: int | None
    last_error: str | None


class DeliveriesOut(Schema):
    items: list[DeliveryOut]


class RedeliveryOut(Schema):
    id: str
    status: DeliveryStatus

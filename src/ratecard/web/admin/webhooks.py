"""/admin/webhooks: subscriptions (create, list, delete, pause, resume, rotate the secret),
their deliveries, and redelivery of a dead-lettered message.

Behind the admin bearer token like every /admin route. A subscription's secret is shown twice
only: in the answer that creates it and in the one that rotates it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify

from ratecard.changes.destinations import DestinationRefused, resolve_destination
from ratecard.errors import ValidationFailed
from ratecard.timetext import instant_text
from ratecard.web.auth import admin_only
from ratecard.web.request_parsing import parse_body, parse_query
from ratecard.web.routes import RouteSpec, route_registrar
from ratecard.web.state import database_call, get_state

# Deferred: the subscription store and the outbox (SQLAlchemy) load with the first webhook
# request, not with create_app.

T = TypeVar("T")

bp = Blueprint("admin_webhooks", __name__, url_prefix="/admin/webhooks")
_ERRORS = {401: "ErrorOut", 403: "ErrorOut", 503: "ErrorOut"}
_ONE = {404: "ErrorOut", **_ERRORS}
route = route_registrar(
    bp,
    schemas="ratecard.web.api.change_schemas",
    tag="webhooks",
    tag_description="Signed webhook subscriptions to price changes (Standard Webhooks), "
    "behind the admin token.",
)
admin_only(bp)


def _transaction(call: Callable[[Any], T]) -> T:
    """Run `call(conn)` in one transaction (an outage is the one handler's 503)."""
    return database_call(call, transaction=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _wake_delivery() -> None:
    worker = get_state().delivery
    if worker is not None:
        worker.notify()


@route(
    RouteSpec(
        "POST",
        "/admin/webhooks",
        "create_webhook",
        "Subscribe a URL to price changes; the answer shows the secret once.",
        body="WebhookCreate",
        bearer=True,
        responses={201: "WebhookCreatedOut", 400: "ErrorOut", 422: "ErrorOut", **_ERRORS},
    )
)
def create_webhook() -> Response:
    from ratecard.changes import subscriptions

    body = parse_body("WebhookCreate")
    url = body.url.strip()
    try:
        resolve_destination(url, allow_private=get_state().settings.webhook_allow_private)
    except DestinationRefused as exc:
        raise ValidationFailed(f"url: {exc}", field="url") from None
    where = subscriptions.WebhookFilter.from_json(body.filter.model_dump())
    created = _transaction(lambda conn: subscriptions.create(conn, url, where, _now()))
    response = jsonify({**created.to_json(), "deliveries": {}, "secret": created.secret})
    response.status_code = 201
    return response


@route(
    RouteSpec(
        "GET",
        "/admin/webhooks",
        "list_webhooks",
        "Every subscription with its delivery counts by status (no secrets).",
        bearer=True,
        responses={200: "WebhookListOut", **_ERRORS},
    )
)
def list_webhooks() -> Response:
    from ratecard.changes import subscriptions

    def read(conn: Any) -> list[dict[str, Any]]:
        counts = subscriptions.delivery_counts(conn)
        return [
            {**s.to_json(), "deliveries": counts.get(s.id, {})}
            for s in subscriptions.list_all(conn)
        ]

    return jsonify({"items": _transaction(read)})


@route(
    RouteSpec(
        "GET",
        "/admin/webhooks/<webhook_id>",
        "get_webhook",
        "One subscription (no secret).",
        bearer=True,
        responses={200: "WebhookOut", **_ONE},
    )
)
def get_webhook(webhook_id: str) -> Response:
    from ratecard.changes import subscriptions

    def read(conn: Any) -> dict[str, Any]:
        found = subscriptions.get(conn, webhook_id)
        counts = subscriptions.delivery_counts(conn, webhook_id).get(webhook_id, {})
        return {**found.to_json(), "deliveries": counts}

    return jsonify(_transaction(read))


@route(
    RouteSpec(
        "DELETE",
        "/admin/webhooks/<webhook_id>",
        "delete_webhook",
        "Delete a subscription and its undelivered messages.",
        bearer=True,
        responses={200: "DeletedOut", **_ONE},
    )
)
def delete_webhook(webhook_id: str) -> Response:
    from ratecard.changes import subscriptions

    _transaction(lambda conn: subscriptions.remove(conn, webhook_id))
    return jsonify({"id": webhook_id, "deleted": True})


def _pause(webhook_id: str, paused: bool) -> Response:
    from ratecard.changes import subscriptions

    changed = _transaction(lambda conn: subscriptions.set_paused(conn, webhook_id, paused))
    if not paused:
        _wake_delivery()
    return jsonify({**changed.to_json(), "deliveries": {}})


@route(
    RouteSpec(
        "POST",
        "/admin/webhooks/<webhook_id>/pause",
        "pause_webhook",
        "Pause sending (messages are still recorded and sent after resume).",
        bearer=True,
        responses={200: "WebhookOut", **_ONE},
    )
)
def pause_webhook(webhook_id: str) -> Response:
    return _pause(webhook_id, True)


@route(
    RouteSpec(
        "POST",
        "/admin/webhooks/<webhook_id>/resume",
        "resume_webhook",
        "Resume sending, oldest pending message first.",
        bearer=True,
        responses={200: "WebhookOut", **_ONE},
    )
)
def resume_webhook(webhook_id: str) -> Response:
    return _pause(webhook_id, False)


@route(
    RouteSpec(
        "POST",
        "/admin/webhooks/<webhook_id>/rotate-secret",
        "rotate_webhook_secret",
        "Issue a new secret; the old one also signs (a second signature) for 24 hours.",
        bearer=True,
        responses={200: "SecretRotatedOut", **_ONE},
    )
)
def rotate_secret(webhook_id: str) -> Response:
    from ratecard.changes import subscriptions

    rotated = _transaction(lambda conn: subscriptions.rotate_secret(conn, webhook_id, _now()))
    return jsonify(
        {
            "id": rotated.id,
            "secret": rotated.secret,
            "previous_secret_valid_until": instant_text(rotated.previous_secret_until),
        }
    )


@route(
    RouteSpec(
        "GET",
        "/admin/webhooks/<webhook_id>/deliveries",
        "list_webhook_deliveries",
        "A subscription's messages, newest first: status, attempts, last error.",
        query="DeliveriesQuery",
        bearer=True,
        responses={200: "DeliveriesOut", 422: "ErrorOut", **_ONE},
    )
)
def list_deliveries(webhook_id: str) -> Response:
    from ratecard.changes import outbox, subscriptions

    query = parse_query("DeliveriesQuery")

    def read(conn: Any) -> list[dict[str, Any]]:
        subscriptions.get(conn, webhook_id)
        return outbox.list_deliveries(conn, webhook_id, query.status, query.limit)

    return jsonify({"items": _transaction(read)})


@route(
    RouteSpec(
        "POST",
        "/admin/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver",
        "redeliver_webhook",
        "Send a dead-lettered message again, with the same webhook-id and body.",
        bearer=True,
        responses={200: "RedeliveryOut", 409: "ErrorOut", **_ONE},
    )
)
def redeliver(webhook_id: str, delivery_id: str) -> Response:
    from ratecard.changes import outbox

    _transaction(lambda conn: outbox.redeliver(conn, webhook_id, delivery_id, outbox.db_now(conn)))
    _wake_delivery()
    return jsonify({"id": delivery_id, "status": "pending"})

"""The /admin/webhooks API: token, validation (SSRF rules), secrets, pause, rotation, delete."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.support.changes_app import ChangesApp, bearer, tiny_feed


def test_create_answers_201_with_id_and_a_whsec_secret_shown_once(
    changes_app: ChangesApp,
) -> None:
    created = changes_app.subscribe("/hook", models=["gpt-4o"], kinds=["changed"])
    assert created["id"].startswith("wh_")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["filter"] == {"models": ["gpt-4o"], "kinds": ["changed"]}

    listed = changes_app.client.get("/admin/webhooks", headers=bearer()).get_json()["items"]
    assert [s["id"] for s in listed] == [created["id"]]
    assert created["secret"] not in str(listed)
    one = changes_app.client.get(f"/admin/webhooks/{created['id']}", headers=bearer())
    assert one.status_code == 200 and "secret" not in one.get_json()
    assert one.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://user:pw@example.com/x"}, "url"),
        ({"url": "http://127.0.0.1:9/x"}, "url"),  # private: refused by default
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": 42}, "url"),
        ({}, "url"),
        ({"url": "https://example.com/x", "filter": {"kinds": ["renamed"]}}, "filter.kinds.0"),
        ({"url": "https://example.com/x", "filter": {"colour": ["red"]}}, "filter.colour"),
        ({"url": "https://example.com/x", "extra": 1}, "extra"),
        # Stored, these were a database error (NUL: a 503) or a different request each time.
        ({"url": "https://example.com/a\x00b"}, "url"),
        ({"url": "https://example.com/x\r\nX-Injected: 1"}, "url"),
        ({"url": "https://example.com/a b"}, "url"),
        ({"url": "https://example.com:0/x"}, "url"),
        ({"url": "https://example.com/x", "filter": {"models": ["a\x00b"]}}, "filter.models.0"),
    ],
)
def test_bad_subscriptions_are_422_naming_the_field(
    build_changes_app: Callable[..., ChangesApp], body: dict, field: str
) -> None:
    app = build_changes_app(webhook_allow_private=False)
    response = app.client.post("/admin/webhooks", json=body, headers=bearer())
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["field"] == field


def test_admin_token_is_required(changes_app: ChangesApp) -> None:
    assert changes_app.client.get("/admin/webhooks").status_code == 401
    wrong = changes_app.client.get("/admin/webhooks", headers=bearer("nope"))
    assert wrong.status_code == 401
    post = changes_app.client.post("/admin/webhooks", json={"url": "https://example.com/"})
    assert post.status_code == 401


def test_unknown_ids_are_404(changes_app: ChangesApp) -> None:
    for method, path in [
        ("get", "/admin/webhooks/wh_nope"),
        ("delete", "/admin/webhooks/wh_nope"),
        ("post", "/admin/webhooks/wh_nope/pause"),
        ("post", "/admin/webhooks/wh_nope/rotate-secret"),
        ("get", "/admin/webhooks/wh_nope/deliveries"),
        ("post", "/admin/webhooks/wh_nope/deliveries/msg_x/redeliver"),
    ]:
        response = getattr(changes_app.client, method)(path, headers=bearer())
        assert response.status_code == 404, (method, path, response.get_json())


def test_paused_subscription_keeps_its_messages_and_gets_them_on_resume(
    changes_app: ChangesApp,
) -> None:
    changes_app.refresh()
    created = changes_app.subscribe("/hook")
    paused = changes_app.client.post(f"/admin/webhooks/{created['id']}/pause", headers=bearer())
    assert paused.get_json()["paused"] is True
    changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    changes_app.deliver()
    assert changes_app.receiver.arrivals == []

    changes_app.client.post(f"/admin/webhooks/{created['id']}/resume", headers=bearer())
    changes_app.deliver()
    assert len(changes_app.receiver.delivered("/hook")) == 1


def test_rotation_signs_with_both_secrets_during_the_overlap(changes_app: ChangesApp) -> None:
    from standardwebhooks.webhooks import Webhook

    changes_app.refresh()
    created = changes_app.subscribe("/hook")
    rotated = changes_app.client.post(
        f"/admin/webhooks/{created['id']}/rotate-secret", headers=bearer()
    ).get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert rotated["previous_secret_valid_until"].endswith("Z")
    # The receiver knows only the NEW secret now; the message must verify with it...
    changes_app.receiver.expect("/hook", rotated["secret"])
    changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    changes_app.deliver()
    [arrival] = changes_app.receiver.delivered("/hook")
    assert arrival.verified
    # ...and with the old one too (two v1 signatures in the header during the overlap).
    assert len(arrival.headers["webhook-signature"].split(" ")) == 2
    for secret in (created["secret"], rotated["secret"]):
        assert Webhook(secret).verify(arrival.raw, arrival.headers) == arrival.body


def test_delete_removes_the_subscription_and_its_pending_messages(
    changes_app: ChangesApp,
) -> None:
    changes_app.refresh()
    created = changes_app.subscribe("/hook")
    changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    deleted = changes_app.client.delete(f"/admin/webhooks/{created['id']}", headers=bearer())
    assert deleted.get_json() == {"id": created["id"], "deleted": True}
    changes_app.deliver()

    assert changes_app.receiver.arrivals == []
    gone = changes_app.client.get(f"/admin/webhooks/{created['id']}", headers=bearer())
    assert gone.status_code == 404


def test_a_destination_turned_private_is_refused_at_delivery(
    build_changes_app: Callable[..., ChangesApp],
) -> None:
    # Created while private addresses were allowed; the fleet now refuses them (the same
    # check a DNS change to a private address meets at delivery time).
    allowing = build_changes_app()
    allowing.refresh()
    created = allowing.subscribe("/hook")
    allowing.worker.allow_private = False  # as RATECARD_WEBHOOK_ALLOW_PRIVATE=false would
    allowing.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    allowing.deliver()

    assert allowing.receiver.arrivals == []
    [delivery] = allowing.client.get(
        f"/admin/webhooks/{created['id']}/deliveries", headers=bearer()
    ).get_json()["items"]
    assert delivery["status"] == "pending" and "loopback" in delivery["last_error"]


def test_metrics_show_the_backlog(build_changes_app: Callable[..., ChangesApp]) -> None:
    app = build_changes_app(webhook_max_attempts=1)
    app.refresh()
    app.subscribe("/down", fail_first=5)
    app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    app.deliver()
    time.sleep(0.6)  # an idle holder recounts the backlog at most every 0.5 s
    app.worker.step()

    text = app.client.get("/metrics").get_data(as_text=True)
    assert 'ratecard_webhook_deliveries{state="dead"} 1.0' in text
    assert 'ratecard_webhook_deliveries{state="pending"} 0.0' in text
    assert 'ratecard_webhook_attempts_total{outcome="dead"}' in text


def test_dashboard_shows_the_backlog(build_changes_app: Callable[..., ChangesApp]) -> None:
    app = build_changes_app(webhook_max_attempts=1)
    app.refresh()
    app.subscribe("/down", fail_first=5)
    app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    app.deliver()

    status = app.client.get("/dashboard/status.json").get_json()
    assert status["webhooks"] == {"pending": 0, "failing": 0, "dead": 1}
    page = app.client.get("/").get_data(as_text=True)
    assert "1 dead-lettered" in page

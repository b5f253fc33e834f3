"""The dashboard's /webhooks page in-process: a public shell that renders nothing private, and
the per-subscription backlog (pending, failing, dead) its script reads from /admin/webhooks."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.changes_app import TOKEN, ChangesApp, bearer, tiny_feed
from tests.web.admin.conftest import js


def test_page_without_a_token_asks_for_one_and_leaks_no_subscription(
    changes_app: ChangesApp,
) -> None:
    created = changes_app.subscribe("/private-hook-path", models=["gpt-4o"])
    for headers in ({}, bearer("wrong-token"), bearer()):
        response = changes_app.client.get("/webhooks", headers=headers)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        html = response.get_data(as_text=True)
        assert "An admin token is needed" in html
        # The server never renders subscriptions: the script fetches them with the token.
        for private in (created["id"], created["secret"], "private-hook-path", TOKEN):
            assert private not in html, private
        assert 'id="webhook-form"' in html and 'id="webhook-rows"' in html
        assert "<script>" not in html  # the CSP forbids inline script; all wiring is in the file
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_every_page_links_the_webhooks_page(changes_app: ChangesApp) -> None:
    for path in ("/", "/disagreements", "/webhooks"):
        html = changes_app.client.get(path).get_data(as_text=True)
        assert 'href="/webhooks">webhooks</a>' in html, path


def test_list_counts_failing_messages_per_subscription(
    build_changes_app: Callable[..., ChangesApp],
) -> None:
    app = build_changes_app(webhook_max_attempts=5)
    app.refresh()
    down = app.subscribe("/down", fail_first=3)
    up = app.subscribe("/up")
    app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    app.deliver(passes=1)  # one attempt each: /down answers 503 and stays pending

    listed = js(app.client.get("/admin/webhooks", headers=bearer()))["items"]
    items = {s["id"]: s for s in listed}
    assert items[down["id"]]["deliveries"] == {"pending": 1, "failing": 1}
    assert items[up["id"]]["deliveries"] == {"delivered": 1}
    # One subscription's page counts its own messages only, as the list does.
    for sub in (down, up):
        one = js(app.client.get(f"/admin/webhooks/{sub['id']}", headers=bearer()))
        assert one["deliveries"] == items[sub["id"]]["deliveries"]

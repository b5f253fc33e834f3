"""Admin actions: review held changes (accept/reject, 404, 409) and trigger a refresh (202/409)."""

from __future__ import annotations

import time
from decimal import Decimal

from sqlalchemy import select

from ratecard.schema import runs
from ratecard.web.state import get_state
from tests.web.admin.conftest import FEED, AdminApp, bearer, js, tiny_feed


def hold_gpt4o_change(admin: AdminApp) -> int:
    """Load the tiny feed, then one where gpt-4o's input price is x1000; return the held id."""
    assert admin.refresh() == "success"
    admin.feeds.set_body(FEED, tiny_feed({"gpt-4o": "0.0025"}))
    admin.refresh()
    held = js(admin.client.get("/api/catalog"))["held"]
    ids = [h["id"] for h in held if h["model_id"] == "gpt-4o" and h["status"] == "pending"]
    assert len(ids) == 1, held
    return int(ids[0])


def input_per_million(admin: AdminApp, model_id: str) -> Decimal:
    response = admin.client.get(f"/api/models/{model_id}")
    assert response.status_code == 200, response.data
    return Decimal(js(response)["prices"]["input"]["per_million"])


def test_accepting_a_held_change_serves_the_new_price(admin_app: AdminApp) -> None:
    held_id = hold_gpt4o_change(admin_app)
    assert input_per_million(admin_app, "gpt-4o") == Decimal("2.5")  # held back

    response = admin_app.client.post(f"/admin/held/{held_id}/accept", headers=bearer())
    assert response.status_code == 200, response.data
    assert js(response)["status"] == "accepted"
    assert input_per_million(admin_app, "gpt-4o") == Decimal("2500")
    assert js(admin_app.client.get("/api/catalog"))["held"] == []

    again = admin_app.client.post(f"/admin/held/{held_id}/accept", headers=bearer())
    assert again.status_code == 409 and js(again)["error"] == "conflict"
    assert (
        admin_app.client.post(f"/admin/held/{held_id}/reject", headers=bearer()).status_code == 409
    )


def test_rejecting_a_held_change_keeps_the_old_price(admin_app: AdminApp) -> None:
    held_id = hold_gpt4o_change(admin_app)
    response = admin_app.client.post(f"/admin/held/{held_id}/reject", headers=bearer())
    assert response.status_code == 200, response.data
    assert js(response)["status"] == "rejected"
    assert input_per_million(admin_app, "gpt-4o") == Decimal("2.5")
    assert js(admin_app.client.get("/api/catalog"))["held"] == []


def test_unknown_held_id_is_404_and_leaves_no_run_behind(admin_app: AdminApp) -> None:
    assert admin_app.refresh() == "success"
    for action in ("accept", "reject"):
        response = admin_app.client.post(f"/admin/held/999999/{action}", headers=bearer())
        assert response.status_code == 404, response.data
        assert js(response)["error"] == "not_found"
    for path in ("/admin/held/abc/accept", "/admin/held/-1/accept"):
        assert admin_app.client.post(path, headers=bearer()).status_code == 404
    with get_state(admin_app.app).engine.connect() as conn:
        outcomes = conn.execute(select(runs.c.outcome)).scalars().all()
    assert "running" not in outcomes


def test_refresh_starts_once_and_refuses_a_second_while_running(admin_app: AdminApp) -> None:
    admin_app.feeds.delay(FEED, 3.0, times=1)  # keeps the first run (and its lease) busy
    first = admin_app.client.post("/admin/refresh", headers=bearer())
    assert first.status_code == 202, first.data
    assert js(first)["status"] == "started"
    second = admin_app.client.post("/admin/refresh", headers=bearer())
    assert second.status_code == 409, second.data
    assert js(second)["error"] == "conflict"

    deadline = time.monotonic() + 30
    while True:
        recent = js(admin_app.client.get("/admin/worker", headers=bearer()))["jobs"]["refresh"]
        runs_seen = recent.get("recent_runs") or []
        if runs_seen and runs_seen[0]["outcome"] != "running" and not recent["running_here"]:
            break
        assert time.monotonic() < deadline, recent
        time.sleep(0.1)
    assert runs_seen[0]["outcome"] == "success"
    assert runs_seen[0]["trigger"] == "admin"
    assert len(runs_seen) == 1, "the refused request ran nothing"
    assert input_per_million(admin_app, "gpt-4o-mini") == Decimal("0.15")

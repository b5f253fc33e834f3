"""The dashboard shows what a bad feed value did: a stale model, its run's problems, moves."""

from __future__ import annotations

from tests.web.admin.conftest import FEED as TINY_FEED
from tests.web.admin.conftest import AdminApp, js, tiny_feed


def test_rejected_entry_shows_stale_banner_problems_and_held_moves(admin_app: AdminApp) -> None:
    client = admin_app.client
    assert admin_app.refresh() == "success"
    admin_app.feeds.set_body(
        TINY_FEED, tiny_feed({"gpt-4o": '"abc"', "gpt-4o-mini": "1.5e-04"})
    )  # a word where gpt-4o's price belongs; gpt-4o-mini x1000

    assert admin_app.refresh() == "success"

    page = client.get("/models/gpt-4o").get_data(as_text=True)
    assert "Last good prices" in page
    assert "input_cost_per_token: &#39;abc&#39; is not a number" in page
    assert ">2.5<" in page  # still served at its last good price, per million tokens
    status = js(client.get("/dashboard/status.json"))
    [source] = status["runs"][0]["sources"]
    assert source["rejected"] == 1
    assert source["problems"] == [
        {
            "model_id": "gpt-4o",
            "field": None,
            "reason": "input_cost_per_token: 'abc' is not a number",
        }
    ]
    held = client.get("/models/gpt-4o-mini").get_data(as_text=True)
    assert "input_per_token: 0.00000015 → <strong>0.00015</strong> (\u00d71000)" in held

    admin_app.feeds.set_body(TINY_FEED, tiny_feed())
    assert admin_app.refresh() == "success"  # the feed reads cleanly again: the mark lifts
    assert "Last good prices" not in client.get("/models/gpt-4o").get_data(as_text=True)

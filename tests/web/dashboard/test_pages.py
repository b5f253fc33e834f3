"""The dashboard pages and JSON in-process, on a real (tiny) catalog: public vs admin views."""

from __future__ import annotations

from tests.web.admin.conftest import FEED as TINY_FEED
from tests.web.admin.conftest import TOKEN, AdminApp, bearer, js, tiny_feed


def loaded(admin: AdminApp) -> AdminApp:
    assert admin.refresh() == "success"
    admin.feeds.set_body(TINY_FEED, tiny_feed({"gpt-4o": "0.000005"}))  # x2: a plain change
    assert admin.refresh() == "success"
    return admin


def test_dashboard_lists_models_with_prices_per_million(admin_app: AdminApp) -> None:
    client = loaded(admin_app).client
    html = client.get("/").get_data(as_text=True)
    assert 'data-model-id="gpt-4o-mini"' in html
    assert ">0.15<" in html and ">0.6<" in html  # $ per million tokens
    narrowed = client.get("/dashboard/catalog?q=mini").get_data(as_text=True)
    assert 'data-model-id="gpt-4o-mini"' in narrowed
    assert 'data-model-id="claude-3-haiku-20240307"' not in narrowed
    data = js(client.get("/dashboard/catalog.json?mode=embedding"))
    assert [r["model_id"] for r in data["rows"]] == ["text-embedding-3-small"]


def test_status_hides_hosts_from_the_public_and_shows_them_to_admins(
    admin_app: AdminApp,
) -> None:
    client = loaded(admin_app).client
    public = client.get("/dashboard/status.json")
    assert public.status_code == 200
    assert js(public)["admin"] is False
    assert [r["outcome"] for r in js(public)["runs"]] == ["success", "success"]
    timeline = js(public)["timeline"]
    assert timeline[0]["source"] == "litellm" and len(timeline[0]["runs"]) == 2
    assert timeline[0]["runs"][-1]["changed"] == 1
    admin = client.get("/dashboard/status.json", headers=bearer())
    assert js(admin)["admin"] is True
    wrong = client.get("/dashboard/status.json", headers=bearer("wrong"))
    assert js(wrong)["admin"] is False
    for response in (public, admin):
        assert TOKEN not in response.get_data(as_text=True)


def test_model_page_shows_history_chart_and_unknown_models_are_404(admin_app: AdminApp) -> None:
    client = loaded(admin_app).client
    page = client.get("/models/gpt-4o")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'class="series series-input"' in html
    assert "2.5 → 5" in html  # the history table, per million tokens
    assert client.get("/models/no-such-model").status_code == 404
    assert client.get("/models/bad%00id").status_code == 404
    assert client.get("/models/" + "x" * 600).status_code == 404


def test_live_fragment_swaps_in_whole_sections(admin_app: AdminApp) -> None:
    client = loaded(admin_app).client
    html = client.get("/dashboard/live").get_data(as_text=True)
    assert html.lstrip().startswith('<div id="live"')
    for section in ('id="fleet"', 'id="runs"', 'id="held"'):
        assert section in html


def test_model_page_lists_every_price_and_offers_the_calculator(admin_app: AdminApp) -> None:
    feed = tiny_feed().replace(
        b'"input_cost_per_token": 2.5e-06,',
        b'"input_cost_per_token": 2.5e-06, "input_cost_per_token_batches": 0.00000125,'
        b' "cache_read_input_token_cost_priority": 0.000002125,',
        1,
    )
    assert b"_batches" in feed
    admin_app.feeds.set_body(TINY_FEED, feed)
    assert admin_app.refresh() == "success"
    client = admin_app.client
    html = client.get("/models/gpt-4o").get_data(as_text=True)
    # The batch and priority variants and the rules, not only the four token prices.
    assert "<code>variants.batch.input_per_token</code>" in html
    assert "<code>variants.priority.cache_read_per_token</code>" in html
    assert "rules: batch half" in html
    assert 'id="cost-form" data-model="gpt-4o" data-endpoint="/api/cost"' in html
    assert "calculator.js" in html

"""The dashboard in real headless Chromium against a real instance (gunicorn, PostgreSQL,
Redis, the coordinator, a catalog loaded from the real LiteLLM snapshots)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.services import FEED_DATA
from tests.web.dashboard.conftest import ADMIN_TOKEN, FEED_PATH, HISTORY_MODEL, INSTANCE_ID, Fleet
from tests.web.dashboard.serving import latest_refresh, wait_for_refresh_after

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOT_COPY = Path("/tmp/ratecard-dashboard.png")
RESPONSES = FEED_DATA / "responses"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    try:
        yield page, problems
    finally:
        context.close()


def api_input_per_million(base_url: str, model_id: str) -> str:
    response = httpx.get(f"{base_url}/api/models/{model_id}", timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["prices"]["input"]["per_million"])


def test_operator_reviews_a_held_change_and_watches_a_refresh(
    fleet: Fleet, page: tuple[Page, list[str]], tmp_path: Path
) -> None:
    tab, problems = page
    base = fleet.instance.base_url
    tab.goto(base + "/")

    # The fleet: the live instance, the backend in use, the catalog with real prices.
    expect(tab.locator("#instances")).to_contain_text(INSTANCE_ID)
    expect(tab.locator("#backend")).to_have_text("redis")
    count = tab.locator("#catalog-count")
    total = int(count.get_attribute("data-matched") or 0)
    assert total > 2900, "the whole LiteLLM catalog is listed"

    # Search narrows the table without a reload; the real prices of gpt-4o-mini show.
    tab.fill("#catalog-q", "gpt-4o-mini")
    expect(count).not_to_have_attribute("data-matched", str(total))
    matched = int(count.get_attribute("data-matched") or 0)
    assert 0 < matched < 50
    ids = tab.locator("#catalog-body tr").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-model-id'))"
    )
    assert ids and all("gpt-4o-mini" in i for i in ids), ids
    mini = tab.locator('#catalog-body tr[data-model-id="gpt-4o-mini"]')
    expect(mini.locator(".price-input")).to_have_text("0.15")
    expect(mini.locator(".price-output")).to_have_text("0.6")

    # The held change is listed (old -> new, factor) and the old price is still served.
    held_row = tab.locator("#held-table tr", has_text=fleet.held_model).first
    expect(held_row).to_contain_text("2.5 → 2500")
    expect(held_row).to_contain_text("1000")
    assert api_input_per_million(base, fleet.held_model) == "2.5"
    expect(held_row.locator('button[data-action="accept"]')).to_be_hidden()  # no token yet

    # An admin enters the token (kept in sessionStorage, sent as a header) and accepts.
    tab.fill("#admin-token", ADMIN_TOKEN)
    tab.click("#admin-token-use")
    expect(tab.locator("body")).to_have_class("admin")
    expect(tab.locator("#admin-message")).to_contain_text("Admin token in use")
    assert tab.evaluate("document.cookie") == "", "the token must never become a cookie"
    held_row.locator('button[data-action="accept"]').click()
    expect(tab.locator("#admin-message")).to_contain_text(f"Held change #{fleet.held_id} accepted")
    assert api_input_per_million(base, fleet.held_model) == "2500"
    expect(tab.locator("#held-none")).to_be_visible()
    # With the token, the fleet shows hosts.
    expect(tab.locator("#instances td.admin-col").first).not_to_have_text("token needed")

    # A refresh started from the page: the lease holder appears while it runs (slow feed).
    before = latest_refresh(fleet.instance.client(ADMIN_TOKEN))
    fleet.feeds.delay(FEED_PATH, 6.0, times=1)
    tab.click('button[data-action="refresh"]')
    expect(tab.locator("#admin-message")).to_contain_text("Refresh started")
    expect(tab.locator("#lease-holder")).to_have_text(INSTANCE_ID, timeout=8_000)
    expect(tab.locator("#instances tr.holder")).to_contain_text(INSTANCE_ID)
    shot = tmp_path / "dashboard.png"
    tab.screenshot(path=str(shot), full_page=False)
    shutil.copyfile(shot, SCREENSHOT_COPY)
    print(f"dashboard screenshot: {shot} (copy: {SCREENSHOT_COPY})")
    finished = wait_for_refresh_after(
        fleet.instance.client(ADMIN_TOKEN), before["id"] if before else None
    )
    assert finished["outcome"] != "failed", finished
    expect(tab.locator("#lease-free")).to_be_visible(timeout=8_000)

    assert problems == [], problems


def test_model_page_draws_its_price_history(fleet: Fleet, page: tuple[Page, list[str]]) -> None:
    tab, problems = page
    tab.goto(f"{fleet.instance.base_url}/models/{HISTORY_MODEL}")
    expect(tab.locator("#model-id")).to_have_text(HISTORY_MODEL)
    chart = tab.locator("svg.price-chart").first
    expect(chart).to_be_visible()
    path = chart.locator("path.series-input")
    d = path.get_attribute("d") or ""
    assert d.startswith("M") and "V" in d, f"a step line with a price change, got {d!r}"
    box = path.bounding_box()
    assert box is not None and box["width"] > 100, "the line spans the chart"
    assert chart.locator("circle.marker-input").count() >= 2  # first price and the change
    history = tab.locator("table.history tbody tr")
    assert history.count() >= 2
    expect(history.first).to_contain_text("changed")
    assert problems == [], problems


def test_dashboard_fits_a_phone_screen(fleet: Fleet, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        tab = context.new_page()
        tab.goto(fleet.instance.base_url + "/")
        expect(tab.locator("#catalog-table")).to_be_visible()
        overflow = tab.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"the page scrolls sideways by {overflow}px on a phone"
        # Table cells are stacked, each labelled, instead of a sideways-scrolling table.
        display = tab.locator("#catalog-body td").first.evaluate(
            "td => getComputedStyle(td).display"
        )
        assert display == "block"
    finally:
        context.close()


def test_operator_manages_a_webhook_subscription_from_the_page(
    fleet: Fleet, page: tuple[Page, list[str]]
) -> None:
    tab, problems = page
    tab.on("dialog", lambda dialog: dialog.accept())  # the delete confirmation
    base = fleet.instance.base_url
    # A global address literal: accepted without RATECARD_WEBHOOK_ALLOW_PRIVATE and without DNS;
    # nothing is sent to it, as no refresh commits while it exists and the test deletes it.
    hook_url = "https://1.1.1.1/ratecard-browser-hook"
    tab.goto(base + "/")
    tab.click("footer a:text-is('webhooks')")
    expect(tab).to_have_url(base + "/webhooks")

    # Without a token: only the notice, no form, no list.
    expect(tab.locator("#webhooks-token-needed")).to_be_visible()
    expect(tab.locator("#webhook-form")).to_be_hidden()

    tab.fill("#admin-token", ADMIN_TOKEN)
    tab.click("#admin-token-use")
    expect(tab.locator("#webhooks-token-needed")).to_be_hidden()
    expect(tab.locator("#webhook-form")).to_be_visible()

    tab.fill("#webhook-url", hook_url)
    tab.fill("#webhook-models", "gpt-4o, gpt-4o-mini")
    tab.fill("#webhook-kinds", "changed")
    tab.click("#webhook-create")
    secret = tab.locator("#webhook-secret-value")
    expect(secret).to_have_text(re.compile(r"^whsec_[A-Za-z0-9+/=]{20,}$"))
    shown = secret.inner_text()
    webhook_id = tab.locator("#webhook-secret-id").inner_text()
    row = tab.locator(f'#webhook-rows tr[data-webhook-id="{webhook_id}"]')
    expect(row.locator(".webhook-url")).to_have_text(hook_url)
    expect(row).to_contain_text("models: gpt-4o, gpt-4o-mini; kinds: changed")
    expect(row.locator(".webhook-state")).to_have_text("active")
    expect(row.locator(".count-pending")).to_have_text("0")

    # The API agrees, and never lists the secret; a reload does not show it again.
    listed = httpx.get(
        f"{base}/admin/webhooks", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
    ).json()["items"]
    assert [s["url"] for s in listed if s["id"] == webhook_id] == [hook_url]
    assert shown not in str(listed)
    tab.reload()
    expect(row).to_be_visible()
    expect(tab.locator("#webhook-secret")).to_be_hidden()
    assert shown not in tab.content()

    # Pause, then rotate (a new secret shown once), then look at its (empty) deliveries.
    row.locator('button[data-webhook-action="pause"]').click()
    expect(row.locator(".webhook-state")).to_have_text("paused")
    row.locator('button[data-webhook-action="rotate"]').click()
    expect(secret).to_have_text(re.compile(r"^whsec_"))
    expect(secret).not_to_have_text(shown)
    row.locator('button[data-webhook-action="deliveries"]').click()
    expect(tab.locator("#delivery-rows")).to_contain_text("No messages yet")

    row.locator('button[data-webhook-action="delete"]').click()
    expect(tab.locator("#admin-message")).to_contain_text(f"Subscription {webhook_id} deleted")
    expect(row).to_have_count(0)
    assert tab.evaluate("document.cookie") == ""
    assert problems == [], problems


def test_operator_reads_a_price_book_and_compares_list_and_book_prices(
    fleet: Fleet, page: tuple[Page, list[str]]
) -> None:
    tab, problems = page
    base = fleet.instance.base_url
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    book = {
        "description": "browser test contract",
        "rules": [
            {"match": {"model": "gpt-4o"}, "set": {"input_per_token": "0.000002"}},
            {"match": {"provider": "openai"}, "multiply": "0.85"},
        ],
    }
    created = httpx.put(f"{base}/admin/price-books/browser-book", json=book, headers=admin)
    assert created.status_code in (200, 201), created.text
    try:
        tab.goto(base + "/")
        tab.click("footer a:text-is('price books')")
        expect(tab).to_have_url(base + "/price-books")
        expect(tab.locator("#price-books-token-needed")).to_be_visible()
        expect(tab.locator("#price-books-admin")).to_be_hidden()
        tab.fill("#admin-token", ADMIN_TOKEN)
        tab.click("#admin-token-use")
        row = tab.locator('#price-book-rows tr[data-book="browser-book"]')
        expect(row).to_contain_text("browser test contract")
        row.locator("button[data-book-open]").click()
        expect(tab.locator("#rule-rows tr")).to_have_count(2)
        expect(tab.locator("#rule-rows")).to_contain_text("set input_per_token = 0.000002")
        tab.fill("#compare-model", "gpt-4o")
        tab.click("#compare-run")
        # The list prices as served now (another test may have moved gpt-4o's), per million.
        listed = httpx.get(f"{base}/api/models/gpt-4o", timeout=10).json()["prices"]
        line = tab.locator('#compare-rows tr[data-price="input"]')
        expect(line.locator(".list-price")).to_have_text(listed["input"]["per_million"])
        expect(line.locator(".book-price")).to_have_text("2")  # set by rule #0
        expect(line.locator(".applied-rule")).to_have_text(re.compile(r"^browser-book v\d+ #0$"))
        output = tab.locator('#compare-rows tr[data-price="output"]')
        discounted = Decimal(listed["output"]["per_million"]) * Decimal("0.85")
        expect(output.locator(".book-price")).to_have_text(f"{discounted.normalize():f}")
        assert problems == [], problems
    finally:
        httpx.delete(f"{base}/admin/price-books/browser-book", headers=admin)


def test_model_page_prices_a_pasted_response(fleet: Fleet, page: tuple[Page, list[str]]) -> None:
    """Paste a real OpenAI chat response on the model page: the breakdown is the API's."""
    tab, problems = page
    base = fleet.instance.base_url
    response = (RESPONSES / "openai_chat" / "gpt-4o_cached.json").read_text()
    expected = httpx.post(
        f"{base}/api/cost",
        json={"model": "gpt-4o", "source": "litellm", "response": json.loads(response)},
        timeout=10,
    )
    assert expected.status_code == 200, expected.text
    tab.goto(f"{base}/models/gpt-4o")
    tab.fill("#cost-body", response)
    tab.click("#cost-form button[type=submit]")
    expect(tab.locator(".cost-total")).to_contain_text(f"Total: {expected.json()['total']} USD")
    rows = tab.locator("table.cost-components tbody tr")
    expect(rows).to_have_count(len(expected.json()["components"]))
    expect(rows.first).to_contain_text("input_tokens")
    # Garbage gets an error naming the field, not a broken page.
    tab.fill("#cost-body", "{not json")
    tab.click("#cost-form button[type=submit]")
    expect(tab.locator(".cost-error")).to_contain_text("field: body")
    # Counts that cannot be true are refused, naming the field.
    tab.fill("#cost-body", '{"prompt_tokens": 10, "completion_tokens": 5, '
             '"prompt_tokens_details": {"cached_tokens": 11}}')  # fmt: skip
    tab.click("#cost-form button[type=submit]")
    expect(tab.locator(".cost-error")).to_contain_text("usage.prompt_tokens_details.cached_tokens")
    # A stated total that is not the sum of its parts is priced by the parts: the notes say so.
    tab.fill("#cost-body", '{"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 99}')
    tab.click("#cost-form button[type=submit]")
    expect(tab.locator(".cost-notes")).to_contain_text("usage.total_tokens 99 is not")
    expect(tab.locator(".cost-total")).to_be_visible()
    assert problems == [] or all("400" in p or "422" in p for p in problems)


def test_the_docs_page_renders_the_api_reference(
    fleet: Fleet, page: tuple[Page, list[str]], tmp_path: Path
) -> None:
    """Swagger UI from the package's files, under the CSP, over the instance's own document."""
    tab, problems = page
    tab.goto(fleet.instance.base_url + "/docs")
    tags = tab.locator(".opblock-tag")
    expect(tags).to_have_count(6)
    assert [t.split("\n", 1)[0] for t in tags.all_inner_texts()] == [
        "models",
        "cost",
        "changes",
        "admin",
        "webhooks",
        "price books",
    ]
    expect(tab.locator(".opblock-summary-path").first).to_contain_text("/api/catalog")
    tab.screenshot(path=str(tmp_path / "docs.png"))
    assert problems == []


SCREENS = Path("/tmp/ratecard-screens")
PAGES = {
    "dashboard": "/",
    "model": f"/models/{HISTORY_MODEL}",
    "disagreements": "/disagreements",
    "webhooks": "/webhooks",
    "price books": "/price-books",
    "docs": "/docs",
}


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_fits_its_screen_without_a_problem(
    fleet: Fleet, browser: Browser, tmp_path: Path, width: int
) -> None:
    """Each page at a laptop's and a phone's width: nothing wider than the screen, no console
    error; the screenshots are kept (and copied to /tmp/ratecard-screens) to be looked at."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    SCREENS.mkdir(exist_ok=True)
    try:
        for name, path in PAGES.items():
            tab.goto(fleet.instance.base_url + path)
            tab.wait_for_load_state("networkidle")
            overflow = tab.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, f"{path} is {overflow} px wide on a {width} px screen"
            # A table's caption spans its table (stacked tables once squeezed it into a column).
            squeezed = tab.evaluate(
                "[...document.querySelectorAll('table caption')].filter(c =>"
                " c.getBoundingClientRect().width < 0.9 * c.closest('table')"
                ".getBoundingClientRect().width).map(c => c.textContent.trim())"
            )
            assert squeezed == [], f"{path}: captions narrower than their tables: {squeezed}"
            shot = tmp_path / f"{name}_{width}.png"
            tab.screenshot(path=str(shot), full_page=False)  # the first screen, as seen
            shutil.copyfile(shot, SCREENS / shot.name)
    finally:
        context.close()
    assert problems == []

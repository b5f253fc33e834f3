"""Price books over HTTP: create, replace (a version only when the content changes), read with
the admin token or the book's read key, history, delete; costs with `price_book` in single and
batch requests; chains; the change log and webhook filters; exact Decimal throughout."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ratecard.changes.records import Change
from ratecard.changes.subscriptions import WebhookFilter
from tests.web.admin.conftest import AdminApp, bearer, js

CONTRACT = {
    "description": "Azure contract 2026",
    "rules": [
        {
            "match": {"model": "gpt-4o"},
            "set": {"input_per_token": "0.000002"},
            "from": "2026-06-01T00:00:00Z",
        },
        {"match": {"provider": "openai"}, "multiply": "0.85"},
    ],
}


def put(app: AdminApp, name: str, body: Any, **headers: str) -> Any:
    return app.client.put(f"/admin/price-books/{name}", json=body, headers=headers or bearer())


def cost(app: AdminApp, headers: dict[str, str] | None = None, **body: Any) -> Any:
    request = {"model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 100_000, **body}
    return app.client.post("/api/cost", json=request, headers=headers or {})


@pytest.fixture
def app(admin_app: AdminApp) -> AdminApp:
    assert admin_app.refresh() == "success"
    return admin_app


def test_a_book_is_created_versioned_and_read_with_the_token_or_its_key(app: AdminApp) -> None:
    created = put(app, "azure", CONTRACT)
    body = js(created)
    assert created.status_code == 201 and body["version"] == 1 and body["changed"] is True
    key = body["read_key"]
    assert key.startswith("rcb_") and len(key) > 40
    assert created.headers["Cache-Control"] == "no-store"
    # The same content again: no new version, no key shown again.
    again = js(put(app, "azure", json.loads(json.dumps(CONTRACT))))
    assert (again["version"], again["changed"], again["read_key"]) == (1, False, None)
    changed = js(put(app, "azure", {**CONTRACT, "unmatched": "refuse"}))
    assert (changed["version"], changed["changed"]) == (2, True)

    read = app.client.get("/admin/price-books/azure", headers=bearer(key))
    assert read.status_code == 200 and js(read)["unmatched"] == "refuse"
    first = js(app.client.get("/admin/price-books/azure?version=1", headers=bearer()))
    assert first["unmatched"] == "list" and first["rules"][1] == {
        "match": {"provider": "openai"},
        "multiply": "0.85",
    }
    assert app.client.get("/admin/price-books/azure").status_code == 401
    assert (
        app.client.get("/admin/price-books/azure", headers=bearer("rcb_wrong")).status_code == 403
    )
    history = js(app.client.get("/admin/price-books/azure/history", headers=bearer(key)))
    assert [(v["version"], v["summary"]["change"]) for v in history["items"]] == [
        (2, "updated"),
        (1, "created"),
    ]
    assert history["items"][0]["summary"]["fields"] == ["unmatched"]
    listed = js(app.client.get("/admin/price-books", headers=bearer()))["items"]
    assert [(b["name"], b["version"], b["rules"]) for b in listed] == [("azure", 2, 2)]
    assert key not in json.dumps(listed)
    assert app.client.get("/admin/price-books", headers=bearer(key)).status_code == 401
    # A new key: the old one no longer opens the book.
    rotated = js(app.client.post("/admin/price-books/azure/read-key", headers=bearer()))
    assert app.client.get("/admin/price-books/azure", headers=bearer(key)).status_code == 403
    assert (
        app.client.get("/admin/price-books/azure", headers=bearer(rotated["read_key"])).status_code
        == 200
    )


def test_writes_need_the_admin_token_and_bad_rules_are_422_naming_them(app: AdminApp) -> None:
    assert app.client.put("/admin/price-books/x", json=CONTRACT).status_code == 401
    bad = put(app, "x", {"rules": [{"multiply": "0.5"}, {"multiply": "1e3"}]})
    assert bad.status_code == 422 and js(bad)["field"] == "rules[1].multiply"
    name = put(app, "bad name", CONTRACT)
    assert name.status_code in (404, 422)  # a space is no book name
    assert app.client.get("/admin/price-books/nothing", headers=bearer()).status_code == 404


def test_a_cost_with_a_book_carries_list_price_price_and_rule(app: AdminApp) -> None:
    key = js(put(app, "azure", CONTRACT))["read_key"]
    list_cost = js(cost(app))
    assert list_cost["total"] == "3.5" and "price_book" not in list_cost  # 2.5 + 1.0
    priced = cost(app, bearer(key), price_book="azure")
    answer = js(priced)
    assert priced.status_code == 200, answer
    # input set to 2 per M from June; output at list x 0.85.
    assert Decimal(answer["total"]) == Decimal("2") + Decimal("0.85")
    components = {c["name"]: c for c in answer["components"]}
    assert components["input_tokens"]["price"] == "0.000002"
    assert components["input_tokens"]["list_price"] == "0.0000025"
    assert components["input_tokens"]["rule"] == {"book": "azure", "version": 1, "rule": 0}
    assert components["output_tokens"]["price"] == "0.0000085"
    assert components["output_tokens"]["rule"]["rule"] == 1
    assert answer["price_book"] == {"name": "azure", "version": 1, "bases": []}
    # A rule applies from `from` until `until`, at the request's time (`at` or now).
    later = {"rules": [{"multiply": "0.5", "from": "2027-01-01T00:00:00Z"}]}
    put(app, "later", later)
    assert js(cost(app, bearer(), price_book="later"))["total"] == "3.5"
    assert js(cost(app, bearer(), price_book="later", at="2027-02-01T00:00:00Z"))["total"] == "1.75"
    # Private: no key, a 401 naming the remedy; another book's key, a 403.
    assert cost(app, price_book="azure").status_code == 401
    assert cost(app, bearer("rcb_nope"), price_book="azure").status_code == 403
    assert cost(app, bearer(), price_book="missing").status_code == 404
    # An older version on request.
    put(app, "azure", {**CONTRACT, "rules": [{"multiply": "0.5"}]})
    v1 = js(cost(app, bearer(key), price_book="azure", price_book_version=1))
    assert (v1["total"], v1["price_book"]["version"]) == ("2.85", 1)
    assert js(cost(app, bearer(key), price_book="azure"))["total"] == "1.75"


def test_unmatched_refuse_is_a_422_naming_model_and_price(app: AdminApp) -> None:
    only_input = {
        "unmatched": "refuse",
        "public": True,
        "rules": [{"set": {"input_per_token": "0.000001"}}],
    }
    put(app, "strict", only_input)
    refused = cost(app, price_book="strict")  # public: no key needed
    body = js(refused)
    assert refused.status_code == 422, body
    assert (body["field"], body["price"], body["model"]) == (
        "output_tokens",
        "output_per_token",
        "gpt-4o",
    )
    assert js(cost(app, price_book="strict", output_tokens=0))["total"] == "1"


def test_chains_apply_the_base_first_and_cycles_and_long_chains_are_refused(
    build_app: Any,
) -> None:
    app = build_app(price_book_max_chain=2)
    assert app.refresh() == "success"
    put(app, "contract", {"rules": [{"match": {"provider": "openai"}, "multiply": "0.8"}]})
    resale = js(put(app, "resale", {"base": "contract", "rules": [{"multiply": "1.25"}]}))
    assert resale["version"] == 1
    answer = js(cost(app, bearer(), price_book="resale"))
    assert answer["total"] == "3.5"  # 0.8 x 1.25 = 1: list again, exactly
    assert answer["price_book"]["bases"] == [{"name": "contract", "version": 1}]
    cycle = put(app, "contract", {"base": "resale", "rules": []})
    assert cycle.status_code == 422 and "cycle" in js(cycle)["detail"]
    longer = put(app, "third", {"base": "resale", "rules": []})
    assert longer.status_code == 422 and js(longer)["field"] == "base"
    assert put(app, "nobase", {"base": "absent"}).status_code == 422
    # A base cannot be deleted from under its books; the leaf can.
    assert app.client.delete("/admin/price-books/contract", headers=bearer()).status_code == 409
    deleted = js(app.client.delete("/admin/price-books/resale", headers=bearer()))
    assert deleted == {"name": "resale", "deleted": True, "version": 2}
    assert app.client.get("/admin/price-books/resale", headers=bearer()).status_code == 404


def test_batch_lines_price_with_books_and_a_bad_book_fails_its_line_alone(app: AdminApp) -> None:
    key = js(put(app, "azure", CONTRACT))["read_key"]
    lines = [
        {"model": "gpt-4o", "input_tokens": 1_000_000, "price_book": "azure"},
        {"model": "gpt-4o", "input_tokens": 1_000_000},
        {"model": "gpt-4o", "input_tokens": 1_000_000, "price_book": "missing"},
        {"model": "gpt-4o-mini", "input_tokens": 1_000_000, "price_book": "azure"},
    ]
    body = "\n".join(json.dumps(line) for line in lines)
    answer = app.client.post(
        "/api/cost/batch", data=body, content_type="application/x-ndjson", headers=bearer(key)
    )
    results = [json.loads(line) for line in answer.get_data(as_text=True).splitlines()]
    assert [r.get("total") for r in results] == ["2", "2.5", None, "0.1275"]
    assert results[2]["status"] == 404 and results[2]["line"] == 3
    assert results[3]["components"][0]["rule"] == {"book": "azure", "version": 1, "rule": 1}


def test_each_version_is_logged_privately_and_heard_by_subscriptions_that_ask(
    app: AdminApp,
) -> None:
    put(app, "azure", CONTRACT)
    put(app, "azure", {**CONTRACT, "description": "renewed"})
    put(app, "list", {"public": True, "rules": []})
    admin = js(app.client.get("/api/changes?kind=price_book", headers=bearer()))["items"]
    books = [
        (c["price_book"]["name"], c["price_book"]["version"], c["price_book"]["change"])
        for c in admin
    ]
    assert books == [("azure", 1, "created"), ("azure", 2, "updated"), ("list", 1, "created")]
    assert admin[1]["price_book"]["fields"] == ["description"]
    # Without the token only the public book's entry is there.
    public = js(app.client.get("/api/changes?kind=price_book"))["items"]
    assert [c["price_book"]["name"] for c in public] == ["list"]
    entry = Change(1, None, "price_book", "price_books", None, None, datetime.now(UTC))
    assert WebhookFilter(kinds=("price_book",)).matches(entry)
    assert not WebhookFilter().matches(entry)  # a catch-all subscription does not get them


def test_a_batch_large_enough_for_two_cores_prices_every_book_line(app: AdminApp) -> None:
    # Past 8,192 lines the batch is shared with a forked child, which has neither the books
    # nor the request's credentials: it hands such lines back to the parent.
    key = js(put(app, "azure", CONTRACT))["read_key"]
    lines = [
        {
            "model": "gpt-4o",
            "output_tokens": 1_000_000,
            **({"price_book": "azure"} if i % 2 else {}),
        }
        for i in range(20_000)
    ]
    body = "\n".join(json.dumps(line) for line in lines)
    answer = app.client.post(
        "/api/cost/batch", data=body, content_type="application/x-ndjson", headers=bearer(key)
    )
    totals = [json.loads(line)["total"] for line in answer.get_data(as_text=True).splitlines()]
    assert totals == ["10" if i % 2 == 0 else "8.5" for i in range(20_000)]

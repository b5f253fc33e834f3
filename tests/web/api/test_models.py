"""The JSON API: validation errors name the field, 404s, exact cost arithmetic, `at`, paging."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from ratecard.app import create_app
from ratecard.catalog.model import ModelPrice
from ratecard.ingest import run_records, store
from ratecard.web.state import get_state
from tests.support.store_helpers import TIERED, SettingsFactory, decision, price, sources_setting

# Fixtures (db_url, engine, pg_engine, shared_redis) shared by the price storage tests.


def commit(engine: Engine, source: str, *prices: ModelPrice) -> int:
    """Commit `prices` for `source` as a new catalog version; return it."""
    run_id = run_records.start_run(engine, run_records.RunInfo(trigger="test"))
    with engine.begin() as conn:
        rows = store.load_source_rows(conn, source)
        dec = decision({p.model_id: p for p in prices})
        store.apply_decision(conn, source, dec, rows=rows, run_id=run_id, now=store.utcnow())
        run_records.finish_run(conn, run_id, "success", catalog_version=run_id)
    return run_id


def build_app(database_url: str, make_settings: SettingsFactory) -> Flask:
    """An app over a catalog of seven models in two sources (tiers, cache, free, dynamic)."""
    settings = make_settings(
        database_url=database_url,
        sources=sources_setting(litellm="file:///nowhere", openrouter="file:///nowhere"),
    )
    application = create_app(settings)
    engine = get_state(application).engine
    commit(
        engine,
        "litellm",
        TIERED,
        price("acme/a-small", "0.000001", "0.000002"),
        price("acme/b-large", "0.00001", "0.00003", provider="other"),
        price("acme/c-free", "0", "0", status="free"),
        price("shared/model", "0.000005", "0.000005"),
    )
    commit(
        engine,
        "openrouter",
        price("shared/model", "0.000007", "0.000007", source="openrouter"),
        price("acme/dyn", None, None, status="dynamic", source="openrouter"),
    )
    return application


@pytest.fixture
def app(db_url: str, make_settings: SettingsFactory) -> Iterator[Flask]:
    """The app on PostgreSQL and on SQLite (for what touches the database)."""
    application = build_app(db_url, make_settings)
    yield application
    get_state(application).shutdown()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def sqlite_client(
    migrated_sqlite_url: str, make_settings: SettingsFactory
) -> Iterator[FlaskClient]:
    """The app on SQLite only, for request validation (no database difference to cover)."""
    application = build_app(migrated_sqlite_url, make_settings)
    yield application.test_client()
    get_state(application).shutdown()


def cost(client: FlaskClient, **body: Any) -> Any:
    return client.post("/api/cost", json=body)


def get_json(client: FlaskClient, url: str) -> Any:
    return client.get(url).json


# --- validation ------------------------------------------------------------------------------

VALID = {"model": "acme/tiered", "input_tokens": 10, "output_tokens": 10}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"input_tokens": True}, "input_tokens"),
        ({"input_tokens": 10.0}, "input_tokens"),
        ({"output_tokens": "10"}, "output_tokens"),
        ({"output_tokens": -1}, "output_tokens"),
        ({"cache_read_tokens": 10**12 + 1}, "cache_read_tokens"),
        ({"cache_write_tokens": None}, "cache_write_tokens"),
        ({"model": 42}, "model"),
        ({"model": ""}, "model"),
        ({"at": "yesterday"}, "at"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_cost_body_is_422_naming_the_field(
    sqlite_client: FlaskClient, change: dict[str, Any], field: str
) -> None:
    response = cost(sqlite_client, **{**VALID, **change})
    assert response.status_code == 422
    assert response.json["error"] == "validation_failed"
    assert response.json["field"] == field
    assert response.json["detail"].startswith(field)


def test_missing_model_and_non_finite_numbers_are_422(sqlite_client: FlaskClient) -> None:
    missing = cost(sqlite_client, input_tokens=1)
    nan: Any = sqlite_client.post(
        "/api/cost",
        data='{"model": "acme/tiered", "input_tokens": NaN, "output_tokens": 1}',
        content_type="application/json",
    )
    infinite: Any = sqlite_client.post(
        "/api/cost",
        data='{"model": "acme/tiered", "input_tokens": 1, "output_tokens": Infinity}',
        content_type="application/json",
    )
    assert (missing.status_code, missing.json["field"]) == (422, "model")
    assert (nan.status_code, nan.json["field"]) == (422, "input_tokens")
    assert (infinite.status_code, infinite.json["field"]) == (422, "output_tokens")


def test_malformed_bodies(sqlite_client: FlaskClient) -> None:
    broken: Any = sqlite_client.post("/api/cost", data="{not json", content_type="application/json")
    array: Any = sqlite_client.post("/api/cost", json=[1, 2])
    assert (broken.status_code, broken.json["error"]) == (400, "bad_request")
    assert (array.status_code, array.json["field"]) == (422, "body")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("sort=price", "sort"),
        ("status=cheap", "status"),
        ("cursor=%21%21", "cursor"),
        ("page=1&cursor=abc", "cursor"),
    ],
)
def test_bad_list_query_is_422(sqlite_client: FlaskClient, query: str, field: str) -> None:
    response: Any = sqlite_client.get(f"/api/models?{query}")
    assert (response.status_code, response.json["field"]) == (422, field)


def test_not_found(sqlite_client: FlaskClient) -> None:
    assert sqlite_client.get("/api/models/acme/nope").status_code == 404
    wrong_source: Any = sqlite_client.get("/api/models/acme/a-small?source=openrouter")
    assert wrong_source.status_code == 404 and "litellm" in wrong_source.json["detail"]
    assert sqlite_client.get("/api/models/acme/nope/history").status_code == 404
    assert cost(sqlite_client, **{**VALID, "model": "acme/nope"}).status_code == 404


# --- models ----------------------------------------------------------------------------------


def test_model_detail_has_prices_per_token_and_per_million(client: FlaskClient) -> None:
    body = get_json(client, "/api/models/acme/tiered")
    assert body["source"] == "litellm" and body["status"] == "priced"
    assert body["prices"]["input"] == {
        "per_token": "0.0000000208333333333333",
        "per_million": "0.0208333333333333",
    }
    assert body["prices"]["cache_write"] == {"per_token": "0.00000375", "per_million": "3.75"}
    assert body["tiers"][0]["above_tokens"] == 200000
    assert body["tiers"][0]["prices"]["output"]["per_million"] == "22.5"
    assert body["units"] == {"per_image": "0.04", "per_request": "0.005"}
    assert body["held_change"] is None and body["last_observed_at"]


def test_shared_id_prefers_configured_order_and_honours_source(client: FlaskClient) -> None:
    default = get_json(client, "/api/models/shared/model")
    chosen = get_json(client, "/api/models/shared/model?source=openrouter")
    assert (default["source"], default["other_sources"]) == ("litellm", ["openrouter"])
    assert chosen["prices"]["input"]["per_token"] == "0.000007"


def test_history_newest_first(app: Flask, client: FlaskClient) -> None:
    commit(get_state(app).engine, "litellm", price("acme/a-small", "0.000003", "0.000002"))
    body = get_json(client, "/api/models/acme/a-small/history")
    assert [e["change"] for e in body["entries"]] == ["changed", "added"]
    assert body["entries"][0]["new"]["input_per_token"] == "0.000003"
    assert body["entries"][0]["old"]["input_per_token"] == "0.000001"


def test_pagination_by_cursor_and_by_page(client: FlaskClient) -> None:
    seen: list[str] = []
    url = "/api/models?limit=2&sort=-input_price"
    cursor = None
    for _ in range(10):
        page: Any = client.get(url + (f"&cursor={cursor}" if cursor else "")).json
        seen += [f"{m['source']}:{m['id']}" for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert page["total"] == 7 and len(seen) == 7 == len(set(seen))
    assert seen[:2] == ["litellm:acme/b-large", "openrouter:shared/model"]
    assert seen[-1] == "openrouter:acme/dyn"  # unpriced last, even descending
    third = get_json(client, "/api/models?limit=3&page=3")
    assert [m["id"] for m in third["items"]] == ["shared/model"]
    assert third["next_cursor"] is None


def test_page_counts_from_the_cursor_when_both_are_given(client: FlaskClient) -> None:
    every = [m["id"] for m in get_json(client, "/api/models?limit=7&sort=id")["items"]]
    cursor = get_json(client, "/api/models?limit=2&sort=id")["next_cursor"]
    both = get_json(client, f"/api/models?limit=2&sort=id&cursor={cursor}&page=2")
    assert [m["id"] for m in both["items"]] == every[4:6], "page 2 after the first two items"


def test_filters(sqlite_client: FlaskClient) -> None:
    def ids(query: str) -> list[str]:
        return [m["id"] for m in get_json(sqlite_client, f"/api/models?{query}")["items"]]

    assert ids("provider=OTHER") == ["acme/b-large"]
    assert ids("status=dynamic") == ["acme/dyn"]
    assert ids("q=TIER") == ["acme/tiered"]
    assert ids("source=openrouter&sort=-id") == ["shared/model", "acme/dyn"]


def test_catalog_summary(client: FlaskClient) -> None:
    body = get_json(client, "/api/catalog")
    assert body["models"] == 7
    assert body["counts"] == {"priced": 5, "free": 1, "dynamic": 1, "unpriced": 0}
    assert body["version"] is not None and body["held"] == []


# --- cost ------------------------------------------------------------------------------------


def test_cost_is_exact_with_cache_and_per_request_fee(client: FlaskClient) -> None:
    body = cost(
        client,
        model="acme/tiered",
        input_tokens=1000,
        output_tokens=2000,
        cache_read_tokens=300,
        cache_write_tokens=50,
    ).json
    # 1000 x 0.0000000208333333333333 + 2000 x 0.000004 + 300 x 0.0000003
    # + 50 x 0.00000375 + 0.005 per request
    parts = {c["name"]: c for c in body["components"]}
    assert parts["input_tokens"] == {
        "name": "input_tokens",
        "quantity": 1000,
        "unit": "token",
        "price": "0.0000000208333333333333",
        "price_per_million": "0.0208333333333333",
        "price_name": "input_per_token",
        "cost": "0.0000208333333333333",
    }
    assert parts["cache_read_tokens"]["cost"] == "0.00009"
    assert parts["cache_write_tokens"]["cost"] == "0.0001875"
    assert (parts["requests"]["quantity"], parts["requests"]["cost"]) == (1, "0.005")
    assert {c["name"] for c in body["components"]} == {
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "requests",
    }  # fmt: skip
    assert body["total"] == "0.0132983333333333333"
    assert Decimal(body["total"]) == (
        Decimal(1000) * Decimal("0.0000000208333333333333")
        + Decimal("0.008")
        + Decimal("0.00009")
        + Decimal("0.0001875")
        + Decimal("0.005")
    )
    assert (body["source"], body["tier_above_tokens"]) == ("litellm", None)


def test_cost_above_the_tier_threshold_uses_tier_prices(client: FlaskClient) -> None:
    body = cost(
        client,
        model="acme/tiered",
        input_tokens=250_000,
        output_tokens=1000,
        cache_write_tokens=100,
    ).json
    # tier: 250000 x 0.000006 = 1.5; 1000 x 0.0000225 = 0.0225; the tier has no cache-write
    # price, so the base one applies: 100 x 0.00000375 = 0.000375; + 0.005 per request
    assert body["tier_above_tokens"] == 200000
    output = next(c for c in body["components"] if c["name"] == "output_tokens")
    assert output["price"] == "0.0000225"
    assert body["total"] == "1.527875"


def test_cost_of_huge_requests_never_rounds(client: FlaskClient) -> None:
    body = cost(client, model="acme/tiered", input_tokens=10**12, output_tokens=0).json
    assert body["components"][0]["cost"] == "6000000"
    small = cost(client, model="acme/a-small", input_tokens=10**12 - 1, output_tokens=1).json
    assert small["total"] == "1000000.000001"  # 999999999999 x 0.000001 + 0.000002 - 0.000001


def test_dynamic_model_cannot_be_priced(client: FlaskClient) -> None:
    response = cost(client, model="acme/dyn", input_tokens=1, output_tokens=1)
    assert (response.status_code, response.json["field"]) == (422, "model")


def test_cost_at_a_past_time_uses_prices_then_in_force(app: Flask, client: FlaskClient) -> None:
    engine = get_state(app).engine
    before_change = datetime.now(UTC)
    time.sleep(0.01)
    new_version = commit(engine, "litellm", price("acme/a-small", "0.000004", "0.000002"))
    get_state(app).need_catalog_cache().invalidate()  # as after this process's own refresh

    then = cost(
        client, model="acme/a-small", input_tokens=1000, output_tokens=0,
        at=before_change.isoformat(),
    ).json  # fmt: skip
    now = cost(client, model="acme/a-small", input_tokens=1000, output_tokens=0).json
    naive = before_change.replace(tzinfo=None).isoformat()  # naive means UTC
    naive_then = cost(client, model="acme/a-small", input_tokens=1000, output_tokens=0, at=naive)
    long_ago = cost(
        client, model="acme/a-small", input_tokens=1, output_tokens=0, at="2001-01-01T00:00:00Z"
    )

    assert then["total"] == "0.001" and then["price_version"] != new_version
    assert now["total"] == "0.004" and now["price_version"] == new_version
    assert naive_then.json["total"] == "0.001"
    assert long_ago.status_code == 404


# --- OpenAPI ---------------------------------------------------------------------------------


def test_openapi_document_is_generated_from_the_validators(sqlite_client: FlaskClient) -> None:
    doc = get_json(sqlite_client, "/openapi.json")
    assert doc["openapi"].startswith("3.0")
    assert set(doc["paths"]) == {
        "/api/models",
        "/api/models/{model_id}",
        "/api/models/{model_id}/history",
        "/api/cost",
        "/api/cost/batch",
        "/api/catalog",
        "/api/disagreements",
        "/api/prices.csv",  # the dated price table (tests/web/api/test_price_table.py)
        "/api/prices.parquet",  # the same table typed (tests/web/api/test_price_table.py)
        "/api/catalog/copy",  # the in-process client's copy (tests/test_client.py)
        "/admin/refresh",
        "/admin/worker",
        "/admin/held/{held_id}/accept",
        "/admin/held/{held_id}/reject",
        # The change feed and the webhook admin API (tests/changes, tests/web/admin).
        "/api/changes",
        "/api/changes.atom",
        "/admin/webhooks",
        "/admin/webhooks/{webhook_id}",
        "/admin/webhooks/{webhook_id}/pause",
        "/admin/webhooks/{webhook_id}/resume",
        "/admin/webhooks/{webhook_id}/rotate-secret",
        "/admin/webhooks/{webhook_id}/deliveries",
        "/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        # Price books (tests/web/admin/test_price_books_api.py).
        "/admin/price-books",
        "/admin/price-books/{name}",
        "/admin/price-books/{name}/history",
        "/admin/price-books/{name}/read-key",
    }
    # Admin routes sit under the bearer scheme; the API's do not.
    assert doc["components"]["securitySchemes"]["adminBearer"]["scheme"] == "bearer"
    assert doc["paths"]["/admin/refresh"]["post"]["security"] == [{"adminBearer": []}]
    assert "security" not in doc["paths"]["/api/cost"]["post"]
    # Examples name a model the catalog serves, so generated requests reach the logic.
    cost_body = doc["paths"]["/api/cost"]["post"]["requestBody"]["content"]["application/json"]
    assert cost_body["examples"]["flat counts"]["value"]["model"] == "gpt-4o"
    assert len(cost_body["examples"]) == 3  # one per form
    assert all("414" in op["responses"] for path in doc["paths"].values() for op in path.values())
    # Three forms, exactly one of which a body matches (each forbids the others' keys).
    schemas = doc["components"]["schemas"]
    forms = [ref["$ref"].rsplit("/", 1)[-1] for ref in schemas["CostRequest"]["oneOf"]]
    assert forms == ["CostFromCounts", "CostFromUsage", "CostFromResponse"]
    counts, usage, response = (schemas[name] for name in forms)
    assert counts["properties"]["input_tokens"]["maximum"] == 10**12
    assert all(schemas[name]["additionalProperties"] is False for name in forms)
    assert counts["required"] == ["model"] and "input_tokens" not in usage["properties"]
    assert usage["required"] == ["usage"] and response["required"] == ["response"]
    assert {"service_tier", "region", "seconds"} <= set(counts["properties"])
    # A key of another form may be given only as null (JSON Schema's "type: null" in 3.0 terms).
    assert {k: counts["properties"]["usage"][k] for k in ("nullable", "enum")} == {
        "nullable": True,
        "enum": [None],
    }
    params = {p["name"] for p in doc["paths"]["/api/models"]["get"]["parameters"]}
    assert {"provider", "mode", "q", "sort", "limit", "cursor", "page"} <= params


# --- answers kept per catalog version: ETag and 304 ---------------------------------------------


def test_model_read_has_an_etag_answers_304_and_moves_with_the_price(
    app: Flask, client: FlaskClient
) -> None:
    first = client.get("/api/models/acme/a-small")
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and etag.endswith('"')
    assert first.headers["Cache-Control"] == "no-cache"
    again = client.get("/api/models/acme/a-small")
    assert again.get_data() == first.get_data() and again.headers["ETag"] == etag

    unchanged = client.get("/api/models/acme/a-small", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.get_data() == b""
    assert unchanged.headers["ETag"] == etag
    # Weak and listed forms match too (RFC 9110's weak comparison for If-None-Match).
    listed = client.get("/api/models/acme/a-small", headers={"If-None-Match": f'"x", W/{etag}'})
    assert listed.status_code == 304
    other = client.get("/api/models/acme/a-small", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200 and other.get_data() == first.get_data()

    # A new catalog version: new bytes (the price, and catalog_version), so a new ETag.
    commit(get_state(app).engine, "litellm", price("acme/a-small", "0.000003", "0.000002"))
    get_state(app).need_catalog_cache().invalidate()
    moved = client.get("/api/models/acme/a-small", headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["ETag"] != etag
    assert (
        get_json(client, "/api/models/acme/a-small")["prices"]["input"]["per_token"] == "0.000003"
    )


def test_kept_answers_are_the_uncached_bytes_and_bounded_per_spelling(
    app: Flask, client: FlaskClient
) -> None:
    snapshot = get_state(app).need_catalog_cache().current()
    kept = client.get("/api/models/acme/a-small").get_data()
    assert kept == client.get("/api/models/acme/a-small").get_data()
    # The same entry asked with ?source= is answered by the same view without the memo's
    # shortcut for the bare id: its document is the bare id's (the source was already first).
    by_source = get_json(client, "/api/models/acme/a-small?source=litellm")
    assert by_source == get_json(client, "/api/models/acme/a-small")
    entries = len(snapshot.memo)
    for spelling in ("ACME/A-SMALL", "Acme/A-Small", "acme/A-small"):
        answer = client.get(f"/api/models/{spelling}")
        body: Any = answer.json
        assert answer.status_code == 200 and body["id"] == "acme/a-small"
        assert body["resolved"]["by"] != "exact" and "ETag" in answer.headers
    assert len(snapshot.memo) == entries, "a spelling of an id is served, never kept"


def test_listing_first_pages_are_kept_and_filtered_pages_computed(client: FlaskClient) -> None:
    first = client.get("/api/models")
    etag = first.headers["ETag"]
    assert client.get("/api/models", headers={"If-None-Match": etag}).status_code == 304
    second = client.get("/api/models?page=2&limit=50")
    assert "ETag" in second.headers and get_json(client, "/api/models?page=2")["items"] == []
    # A filter, a cursor or another page size is computed per request, with the same shape.
    filtered = client.get("/api/models?provider=other")
    assert "ETag" not in filtered.headers
    body: Any = filtered.json
    assert [m["id"] for m in body["items"]] == ["acme/b-large"]
    assert set(body) == set(get_json(client, "/api/models"))

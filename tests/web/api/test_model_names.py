"""The API's model identity: resolution on every model route, 409 candidates, linked entries,
/api/disagreements, `?at=` on model reads and history in time order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ratecard.app import create_app
from ratecard.catalog.model import ModelPrice
from ratecard.web.state import get_state
from tests.support.store_helpers import SettingsFactory, price, sources_setting
from tests.web.api.test_models import commit


def lite(model_id: str, i: str | None, o: str | None, provider: str, **kw: Any) -> ModelPrice:
    return price(model_id, i, o, provider=provider, **kw)


def router(model_id: str, i: str | None, o: str | None, **kw: Any) -> ModelPrice:
    maker = model_id.lstrip("~").split("/")[0]
    return price(model_id, i, o, provider=maker, source="openrouter", **kw)


SONNET = "claude-sonnet-4-20250514"
DEEPSEEK = "deepseek/deepseek-chat"
LITELLM = [
    lite("gpt-4o", "0.0000025", "0.00001", "openai"),
    lite("openrouter/openai/gpt-4o", "0.0000025", "0.00001", "openrouter"),
    lite("deepseek/deepseek-chat", "0.00000028", "0.00000042", "deepseek"),
    lite("claude-sonnet-4-20250514", "0.000003", "0.000015", "anthropic"),
    lite("together_ai/llama-x", "0.000001", "0.000001", "together_ai"),
    lite("fireworks_ai/llama-x", "0.000002", "0.000002", "fireworks_ai"),
    lite("openrouter/openrouter/auto", "0", "0", "openrouter", status="free"),
    lite("claude-haiku-4-5", "0.000001", "0.000005", "anthropic"),
]
OPENROUTER = [
    router("openai/gpt-4o", "0.0000025", "0.00001"),
    router("deepseek/deepseek-chat", "0.0000002574", "0.0000010287"),
    router("openrouter/auto", None, None, status="dynamic"),
    router(
        "~anthropic/claude-haiku-latest",
        "0.000001",
        "0.000005",
        alias_target="anthropic/claude-haiku-4.5",
    ),
]


@pytest.fixture
def app(db_url: str, make_settings: SettingsFactory) -> Iterator[Flask]:
    settings = make_settings(
        database_url=db_url,
        sources=sources_setting(litellm="file:///nowhere", openrouter="file:///nowhere"),
    )
    application = create_app(settings)
    engine = get_state(application).engine
    commit(engine, "litellm", *LITELLM)
    commit(engine, "openrouter", *OPENROUTER)
    yield application
    get_state(application).shutdown()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def post(client: FlaskClient, body: dict[str, Any]) -> tuple[int, Any]:
    response = client.post("/api/cost", json=body)
    return response.status_code, response.json


def get(client: FlaskClient, url: str) -> Any:
    response = client.get(url)
    return response.status_code, response.json


@pytest.mark.parametrize(
    ("asked", "served", "by"),
    [
        ("/api/models/gpt-4o", ("gpt-4o", "litellm"), "exact"),
        ("/api/models/GPT-4o", ("gpt-4o", "litellm"), "case"),
        ("/api/models/%20gpt-4o%20", ("gpt-4o", "litellm"), "case"),
        ("/api/models/anthropic/" + SONNET, (SONNET, "litellm"), "prefix"),
        ("/api/models/gpt-4o?source=openrouter", ("openai/gpt-4o", "openrouter"), "prefix"),
        ("/api/models/deepseek-chat?source=openrouter", (DEEPSEEK, "openrouter"), "prefix"),
    ],
)  # fmt: skip
def test_model_reads_resolve_as_people_type(
    client: FlaskClient, asked: str, served: tuple[str, str], by: str
) -> None:
    status, body = get(client, asked)
    assert status == 200, body
    assert (body["id"], body["source"]) == served
    assert body["resolved"]["by"] == by


def test_a_model_shows_its_linked_entries_and_where_they_disagree(client: FlaskClient) -> None:
    status, body = get(client, "/api/models/deepseek/deepseek-chat")
    assert status == 200
    assert body["other_sources"] == ["openrouter"]
    assert [(e["id"], e["source"]) for e in body["linked"]] == [
        ("deepseek/deepseek-chat", "openrouter")
    ]
    assert body["linked"][0]["prices"]["output"]["per_million"] == "1.0287"
    (dispute,) = body["disagreements"]
    assert dispute["other"] == {"id": "deepseek/deepseek-chat", "source": "openrouter"}
    assert {f["field"]: (f["a"], f["b"], f["ratio"]) for f in dispute["fields"]} == {
        "input_per_token": ("0.00000028", "0.0000002574", "0.919286"),
        "output_per_token": ("0.00000042", "0.0000010287", "2.44929"),
    }
    _, agreeing = get(client, "/api/models/gpt-4o")
    assert {e["id"] for e in agreeing["linked"]} == {"openrouter/openai/gpt-4o", "openai/gpt-4o"}
    assert agreeing["disagreements"] == []


def test_an_alias_is_linked_to_its_target_through_storage(client: FlaskClient) -> None:
    """alias_target goes feed -> models row -> catalog -> index (PostgreSQL and SQLite)."""
    status, body = get(client, "/api/models/~anthropic/claude-haiku-latest")
    assert status == 200
    assert [(e["id"], e["source"]) for e in body["linked"]] == [("claude-haiku-4-5", "litellm")]
    status, body = get(client, "/api/models/~anthropic/claude-haiku-latest?source=litellm")
    assert (body["id"], body["resolved"]["by"]) == ("claude-haiku-4-5", "linked")


def test_ambiguous_is_409_with_candidates_and_unknown_is_404(client: FlaskClient) -> None:
    status, body = get(client, "/api/models/llama-x")
    assert status == 409
    assert body["error"] == "conflict"
    # Ranked (two platforms, no maker: the plainer id first), as the resolver ranks them.
    assert body["candidates"] == [
        {"id": "together_ai/llama-x", "source": "litellm"},
        {"id": "fireworks_ai/llama-x", "source": "litellm"},
    ]
    for other_model in ("claude-sonnet-4", "gpt-4", "openai/claude-sonnet-4-20250514"):
        status, body = get(client, f"/api/models/{other_model}")
        assert (status, body["error"]) == (404, "not_found"), other_model
    status, body = post(client, {"model": "llama-x", "input_tokens": 1, "output_tokens": 1})
    assert status == 409 and len(body["candidates"]) == 2
    # A 404 names what is near (the served ids holding the name, then close spellings).
    status, body = get(client, "/api/models/gpt-4")
    assert status == 404 and body["field"] == "model"
    assert {"id": "gpt-4o", "source": "litellm"} in body["suggestions"]
    assert "did you mean" in body["detail"]
    status, body = post(client, {"model": "gpt4o", "input_tokens": 1, "output_tokens": 1})
    assert status == 404 and body["suggestions"][0] == {"id": "gpt-4o", "source": "litellm"}


def test_cost_resolves_its_model(client: FlaskClient) -> None:
    status, body = post(client, {"model": " GPT-4o ", "input_tokens": 10**6, "output_tokens": 0})
    assert status == 200, body
    assert (body["model"], body["total"]) == ("gpt-4o", "2.5")
    assert body["resolved"] == {"requested": " GPT-4o ", "by": "case"}
    status, body = post(
        client,
        {"model": "deepseek-chat", "source": "openrouter", "input_tokens": 0,
         "output_tokens": 10**6},
    )  # fmt: skip
    assert (body["model"], body["total"]) == ("deepseek/deepseek-chat", "1.0287")


def test_disagreements_route(client: FlaskClient) -> None:
    status, body = get(client, "/api/disagreements")
    assert status == 200
    pairs = {(i["a"]["id"], i["b"]["id"]): i for i in body["items"]}
    assert set(pairs) == {
        ("deepseek/deepseek-chat", "deepseek/deepseek-chat"),
        ("openrouter/openrouter/auto", "openrouter/auto"),
    }
    assert body["total"] == 2
    assert body["linked_models"] == 4  # gpt-4o, deepseek-chat, openrouter/auto, claude-haiku
    auto = pairs[("openrouter/openrouter/auto", "openrouter/auto")]
    assert auto["model"] == "openrouter/auto"
    assert auto["fields"] == [{"field": "status", "a": "free", "b": "dynamic", "ratio": None}]
    _, only_status = get(client, "/api/disagreements?field=status")
    assert [i["model"] for i in only_status["items"]] == ["openrouter/auto"]
    _, elsewhere = get(client, "/api/disagreements?source=nowhere")
    assert elsewhere["items"] == []
    status, bad = get(client, "/api/disagreements?field=colour")
    assert (status, bad["field"]) == (422, "field")


def test_at_on_model_reads_and_history_in_time_order(app: Flask, client: FlaskClient) -> None:
    engine = get_state(app).engine
    commit(engine, "litellm", *LITELLM[:1], lite("gpt-4o", "0.000003", "0.00001", "openai"))
    get_state(app).need_catalog_cache().invalidate()
    _, newest_first = get(client, "/api/models/GPT-4o/history")
    _, oldest_first = get(client, "/api/models/GPT-4o/history?order=asc")
    assert newest_first["resolved"] == {"requested": "GPT-4o", "by": "case"}
    assert [e["change"] for e in oldest_first["entries"]] == ["added", "changed"]
    assert oldest_first["entries"] == list(reversed(newest_first["entries"]))
    first_seen = oldest_first["entries"][0]["observed_at"]

    status, then = get(client, f"/api/models/gpt-4o?at={first_seen}")
    assert status == 200, then
    assert then["prices"]["input"]["per_million"] == "2.5"
    assert (then["at"], then["priced_since"]) == (first_seen, first_seen)
    # Linked entries as they were then too: OpenRouter's was committed after that time.
    assert [e["id"] for e in then["linked"]] == ["openrouter/openai/gpt-4o"]
    _, now = get(client, "/api/models/gpt-4o")
    assert now["prices"]["input"]["per_million"] == "3"
    assert now["at"] is None
    status, before = get(client, "/api/models/gpt-4o?at=2001-01-01T00:00:00Z")
    assert (status, before["error"]) == (404, "not_found")
    status, bad = get(client, "/api/models/gpt-4o?at=yesterday")
    assert (status, bad["field"]) == (422, "at")


def test_openapi_documents_resolution(client: FlaskClient) -> None:
    _, doc = get(client, "/openapi.json")
    model = doc["paths"]["/api/models/{model_id}"]["get"]
    assert "409" in model["responses"]
    assert "at" in {p["name"] for p in model["parameters"]}
    assert "409" in doc["paths"]["/api/cost"]["post"]["responses"]
    assert "order" in {
        p["name"] for p in doc["paths"]["/api/models/{model_id}/history"]["get"]["parameters"]
    }
    assert "candidates" in doc["components"]["schemas"]["AmbiguousOut"]["properties"]
    assert "/api/disagreements" in doc["paths"]


def test_dashboard_disagreements_page_and_model_page_resolution(client: FlaskClient) -> None:
    page = client.get("/disagreements")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-model="deepseek/deepseek-chat"' in html
    assert "2.44929" in html and "1.0287" in html  # the ratio, and OpenRouter's output per 1M
    assert 'data-model="openrouter/auto"' in html
    moved = client.get("/models/GPT-4o")
    assert moved.status_code == 302
    assert moved.headers["Location"].endswith("/models/gpt-4o")
    assert client.get("/models/no-such-model").status_code == 404

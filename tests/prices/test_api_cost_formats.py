"""POST /api/cost with a provider's usage block or whole response: the recorded responses of
tests/data/responses give the same answer as their expected partition sent as flat counts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ratecard.extension import get_state
from tests.prices.test_api import build_app

RESPONSES = Path(__file__).resolve().parents[1] / "data" / "responses"
RECORDED = sorted(p for p in RESPONSES.glob("*/*.json") if not p.name.endswith(".expected.json"))
# A model of the test catalog with input, output, cache read and write prices (and a tier).
MODEL = "acme/tiered"


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[FlaskClient]:
    import shutil
    import uuid

    from ratecard.settings import Settings

    path = tmp_path_factory.mktemp("formats") / "rc.sqlite3"
    shutil.copyfile(sqlite_template, path)
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{path}"}).with_overrides(
        start_coordinator=False, instance_id=f"test-{uuid.uuid4().hex[:6]}"
    )
    app: Flask = build_app(settings.database_url, lambda **kw: settings.with_overrides(**kw))
    yield app.test_client()
    get_state(app).shutdown()


def recorded(path: Path) -> tuple[Any, Any]:
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text())
    return json.loads(path.read_text()), expected


def usage_block(body: Any, form: str) -> Any:
    return body["usageMetadata"] if form == "gemini" else body["usage"]


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_recorded_response_prices_as_its_partition(client: FlaskClient, path: Path) -> None:
    body, expected = recorded(path)
    flat = {"model": MODEL, **expected["partition"], "service_tier": expected["service_tier"]}
    as_counts = client.post("/api/cost", json=flat)
    as_response = client.post("/api/cost", json={"model": MODEL, "response": body})

    assert as_response.status_code == as_counts.status_code, as_response.json
    if as_counts.status_code == 200:
        answer, reference = as_response.json, as_counts.json
        assert answer["format"] == expected["format"] and reference["format"] is None
        del answer["format"], reference["format"]
        assert answer == reference
    else:  # a price the test model lacks, or a tier not priced yet: the same 422 either way
        assert as_response.json["field"] == as_counts.json["field"]


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_model_is_read_from_the_response(client: FlaskClient, path: Path) -> None:
    body, expected = recorded(path)
    response = client.post("/api/cost", json={"response": body})
    if expected["model"] is None:  # Bedrock Converse: the model id is in the request path
        assert (response.status_code, response.json["field"]) == (422, "model")
    else:  # not in the test catalog: the 404 names the id read from the body
        assert response.status_code == 404
        assert repr(expected["model"]) in response.json["detail"]


def test_a_usage_block_with_its_format(client: FlaskClient) -> None:
    body, expected = recorded(RESPONSES / "anthropic" / "claude-sonnet-4_cache_read.json")
    answer = client.post(
        "/api/cost", json={"model": MODEL, "format": "anthropic", "usage": body["usage"]}
    ).json
    assert answer["format"] == "anthropic"
    quantities = {c["name"]: c["quantity"] for c in answer["components"]}
    assert quantities["cache_read_tokens"] == expected["partition"]["cache_read_tokens"]


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        (
            {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11,
             "prompt_tokens_details": {"cached_tokens": 30}},
            "usage.prompt_tokens_details.cached_tokens",
        ),  # cached > prompt: counts that contradict each other
        ({"prompt_tokens": "10", "completion_tokens": 1}, "usage.prompt_tokens"),
        ({"tokens": 10}, "format"),  # no format has these keys
    ],
)  # fmt: skip
def test_contradicting_or_bad_usage_is_422_naming_its_path(
    client: FlaskClient, usage: Any, field: str
) -> None:
    response = client.post("/api/cost", json={"model": MODEL, "usage": usage})
    assert (response.status_code, response.json["field"]) == (422, field), response.json


def test_a_stated_tier_and_an_explicit_one(client: FlaskClient) -> None:
    plain, _ = recorded(RESPONSES / "anthropic" / "claude-sonnet-4_plain.json")
    priority, _ = recorded(RESPONSES / "anthropic" / "claude-sonnet-4_priority.json")
    # The body says standard: an explicit tier overrides it (a batch the body cannot know of).
    overridden = client.post(
        "/api/cost", json={"model": MODEL, "response": plain, "service_tier": "batch"}
    )
    # The body says priority: asking for batch contradicts what was billed.
    contradicted = client.post(
        "/api/cost", json={"model": MODEL, "response": priority, "service_tier": "batch"}
    )
    flat_batch = client.post(
        "/api/cost",
        json={"model": MODEL, "input_tokens": plain["usage"]["input_tokens"],
              "output_tokens": plain["usage"]["output_tokens"], "service_tier": "batch"},
    )  # fmt: skip
    assert overridden.status_code == flat_batch.status_code
    if flat_batch.status_code == 200:
        assert overridden.json["total"] == flat_batch.json["total"]
        assert overridden.json["service_tier"] == "batch"
    assert (contradicted.status_code, contradicted.json["field"]) == (422, "service_tier")


def test_batch_takes_every_form(client: FlaskClient) -> None:
    body, _ = recorded(RESPONSES / "anthropic" / "claude-sonnet-4_cache_read.json")
    items = [
        {"model": MODEL, "input_tokens": 10},
        {"model": MODEL, "usage": body["usage"]},
        {"model": MODEL, "response": body},
        {"model": MODEL, "usage": {"tokens": 1}},
    ]
    single = [client.post("/api/cost", json=item).json for item in items[:3]]
    answer = client.post("/api/cost/batch", json=items).json
    assert answer[:3] == single
    assert (answer[3]["line"], answer[3]["field"]) == (4, "format")

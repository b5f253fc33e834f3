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

from ratecard.web.state import get_state
from tests.costing.formats.helpers import RESPONSES
from tests.web.api.test_models import build_app

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


def post(client: FlaskClient, body: Any, url: str = "/api/cost") -> tuple[int, Any]:
    response = client.post(url, json=body)
    return response.status_code, response.json


def recorded(path: Path) -> tuple[Any, Any]:
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text())
    return json.loads(path.read_text()), expected


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_recorded_response_prices_as_its_partition(client: FlaskClient, path: Path) -> None:
    body, expected = recorded(path)
    flat = {"model": MODEL, **expected["partition"], "service_tier": expected["service_tier"]}
    status, reference = post(client, flat)
    status_read, answer = post(client, {"model": MODEL, "response": body})

    assert status_read == status, answer
    if status == 200:
        assert answer["format"] == expected["format"] and reference["format"] is None
        del answer["format"], reference["format"]
        assert answer == reference
    else:  # a price the test model lacks: the same 422, naming the same quantity
        assert (answer["field"], answer.get("price")) == (
            reference["field"],
            reference.get("price"),
        )


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_model_is_read_from_the_response(client: FlaskClient, path: Path) -> None:
    body, expected = recorded(path)
    status, answer = post(client, {"response": body})
    if expected["model"] is None:  # Bedrock Converse: the model id is in the request path
        assert (status, answer["field"]) == (422, "model")
    else:  # not in the test catalog: the 404 names the id read from the body
        assert status == 404 and repr(expected["model"]) in answer["detail"]


def test_a_usage_block_with_its_format(client: FlaskClient) -> None:
    body, expected = recorded(RESPONSES / "anthropic" / "claude-sonnet-4_cache_read.json")
    status, answer = post(client, {"model": MODEL, "format": "anthropic", "usage": body["usage"]})
    assert (status, answer["format"]) == (200, "anthropic")
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
    status, answer = post(client, {"model": MODEL, "usage": usage})
    assert (status, answer["field"]) == (422, field), answer


def test_a_stated_tier_and_an_explicit_one(client: FlaskClient) -> None:
    plain, _ = recorded(RESPONSES / "anthropic" / "claude-sonnet-4_plain.json")
    priority, _ = recorded(RESPONSES / "anthropic" / "claude-sonnet-4_priority.json")
    usage = plain["usage"]
    flat = {"model": MODEL, "input_tokens": usage["input_tokens"]}
    flat["output_tokens"] = usage["output_tokens"]
    # The body says standard: an explicit tier overrides it (the model states no flex and no
    # batch prices, and has no "half" rule: a tier it has no prices at is refused, never
    # priced at the standard ones).
    flex = post(client, {"model": MODEL, "response": plain, "service_tier": "flex"})
    flat_flex = post(client, {**flat, "service_tier": "flex"})
    batch = post(client, {"model": MODEL, "response": plain, "service_tier": "batch"})
    # The body says priority: asking for batch contradicts what was billed, and priority is a
    # tier the model has no prices at either.
    contradicted = post(client, {"model": MODEL, "response": priority, "service_tier": "batch"})
    stated = post(client, {"model": MODEL, "response": priority})

    for tier, (status, answer) in [("flex", flex), ("flex", flat_flex), ("batch", batch),
                                   ("priority", stated)]:  # fmt: skip
        assert (status, answer["field"], answer["price"]) == (
            422, "input_tokens", "input_per_token",
        ), answer  # fmt: skip
        assert f"({tier})" in answer["detail"] and answer["detail"].startswith("input_tokens ")
    assert (contradicted[0], contradicted[1]["field"]) == (422, "service_tier")


def test_batch_takes_every_form(client: FlaskClient) -> None:
    body, _ = recorded(RESPONSES / "anthropic" / "claude-sonnet-4_cache_read.json")
    items = [
        {"model": MODEL, "input_tokens": 10},
        {"model": MODEL, "usage": body["usage"]},
        {"model": MODEL, "response": body},
        {"model": MODEL, "usage": {"tokens": 1}},
    ]
    single = [post(client, item)[1] for item in items[:3]]
    status, answer = post(client, items, "/api/cost/batch")
    assert status == 200 and answer[:3] == single
    assert (answer[3]["line"], answer[3]["field"]) == (4, "format")

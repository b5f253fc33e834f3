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

from ratecard.costing.formats import FORMATS
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
    status_read, answer = post(client, {"model": MODEL, "response": body})
    if expected.get("uplifts"):
        # The test model lists no multipliers: a body billed with one is not priced without it.
        _kind, name, field = expected["uplifts"][0]
        assert (status_read, answer["field"], answer["price"]) == (
            422, f"response.{field}", f"uplifts.{name}",
        )  # fmt: skip
        return
    text_priced = FORMATS[expected["format"]].text_priced & {
        name for name, count in expected["partition"].items() if count
    }
    if text_priced:
        # The provider bills these as text: priced as text input tokens would be.
        for name in text_priced:
            flat["input_tokens"] += flat.pop(name)
    status, reference = post(client, flat)

    assert status_read == status, answer
    if status == 200:
        assert answer["format"] == expected["format"] and reference["format"] is None
        read_notes = [f"response.{note}" for note in expected.get("notes", [])]
        priced_as_text = [n for n in answer["notes"] if "priced at the text input price" in n]
        assert len(priced_as_text) == len(text_priced)
        assert answer["notes"] == read_notes + priced_as_text + reference["notes"]
        assert answer["total"] == reference["total"]
        if not text_priced:
            del answer["format"], reference["format"], answer["notes"], reference["notes"]
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
        ({"token_count": 10}, "format"),  # no format has these keys
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
        {"model": MODEL, "usage": {"token_count": 1}},
    ]
    single = [post(client, item)[1] for item in items[:3]]
    status, answer = post(client, items, "/api/cost/batch")
    assert status == 200 and answer[:3] == single
    assert (answer[3]["line"], answer[3]["field"]) == (4, "format")


@pytest.fixture(scope="module")
def geo_client(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[FlaskClient]:
    """The test catalog and a model with Anthropic's multipliers (data residency, fast mode)."""
    import shutil
    import uuid
    from decimal import Decimal

    from ratecard.settings import Settings
    from tests.support.store_helpers import price
    from tests.web.api.test_models import commit

    path = tmp_path_factory.mktemp("geo") / "rc.sqlite3"
    shutil.copyfile(sqlite_template, path)
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{path}"}).with_overrides(
        start_coordinator=False, instance_id=f"test-{uuid.uuid4().hex[:6]}"
    )
    app: Flask = build_app(settings.database_url, lambda **kw: settings.with_overrides(**kw))
    geo = price(GEO, "0.000005", "0.000025", uplifts={"us": Decimal("1.1"), "fast": Decimal("2")})
    commit(get_state(app).engine, "litellm", geo)
    yield app.test_client()
    get_state(app).shutdown()


GEO = "acme/geo"


def anthropic_usage(**extra: Any) -> dict[str, Any]:
    return {"input_tokens": 1000, "output_tokens": 100, "cache_read_input_tokens": 0, **extra}


def test_a_stated_data_residency_and_speed_are_priced_and_named(geo_client: FlaskClient) -> None:
    plain = post(geo_client, {"model": GEO, "usage": anthropic_usage()})[1]
    status, us = post(geo_client, {"model": GEO, "usage": anthropic_usage(inference_geo="us")})
    assert status == 200 and plain["total"] == "0.0075"
    assert (us["total"], us["region"]) == ("0.00825", "us")
    assert us["components"][-1] == {
        "name": "regional_uplift", "quantity": 1, "unit": "multiplier", "price": "1.1",
        "price_per_million": None, "price_name": "uplifts.us", "cost": "0.00075",
    }  # fmt: skip
    both = post(geo_client, {"model": GEO, "usage": anthropic_usage(inference_geo="us",
                                                                    speed="fast")})[1]  # fmt: skip
    assert both["total"] == "0.0165"
    assert [c["name"] for c in both["components"][-2:]] == ["regional_uplift", "speed_uplift"]
    # `global` (the default routing) and `standard` speed are the standard prices.
    same = post(geo_client, {"model": GEO, "usage": anthropic_usage(
        inference_geo="global", speed="standard")})[1]  # fmt: skip
    assert same["total"] == plain["total"] and same["region"] is None
    # The request's own region agreeing is applied once; contradicting it is a 422.
    agreed = post(geo_client, {"model": GEO, "region": "us",
                               "usage": anthropic_usage(inference_geo="us")})[1]  # fmt: skip
    assert agreed["total"] == us["total"]
    status, error = post(geo_client, {"model": GEO, "region": "eu",
                                      "usage": anthropic_usage(inference_geo="us")})  # fmt: skip
    assert (status, error["field"]) == (422, "region")


def test_a_stated_multiplier_the_model_lacks_is_a_422_naming_it(geo_client: FlaskClient) -> None:
    status, error = post(geo_client, {"model": MODEL, "usage": anthropic_usage(inference_geo="us")})
    assert (status, error["field"], error["price"]) == (422, "usage.inference_geo", "uplifts.us")
    assert "'us'" in error["detail"]
    status, error = post(geo_client, {"model": MODEL, "usage": anthropic_usage(speed="warp")})
    assert (status, error["field"]) == (422, "usage.speed")


def test_notes_are_the_same_in_single_and_batch_answers(geo_client: FlaskClient) -> None:
    compaction, expected = recorded(RESPONSES / "anthropic" / "claude-opus-5_compaction.json")
    items = [
        {"model": MODEL, "response": compaction},
        # A stated total that is not prompt + completion: priced by the parts, with a note.
        {"model": MODEL, "usage": {"prompt_tokens": 100, "completion_tokens": 10,
                                   "total_tokens": 111}},
        {"model": GEO, "usage": anthropic_usage(inference_geo="us")},
        {"model": MODEL, "input_tokens": 100, "output_tokens": 10},
    ]  # fmt: skip
    single = [post(geo_client, item)[1] for item in items]
    assert single[0]["notes"] == [f"response.{note}" for note in expected["notes"]]
    assert single[1]["notes"] == [
        "usage.total_tokens 111 is not prompt_tokens + completion_tokens (110): the parts are "
        "priced"
    ]
    assert single[1]["total"] == single[3]["total"]
    assert single[3]["notes"] == []
    status, array = post(geo_client, items, "/api/cost/batch")
    lines = geo_client.post(
        "/api/cost/batch",
        data=b"".join(json.dumps(item).encode() + b"\n" for item in items),
        content_type="application/x-ndjson",
    ).data.splitlines()
    assert status == 200 and array == single
    assert [json.loads(line) for line in lines] == single


@pytest.mark.parametrize(
    ("usage", "field", "words"),
    [
        # Anthropic: an advisor's (another model's) iteration cannot be priced with this model.
        ({"input_tokens": 10, "output_tokens": 5, "iterations": [
            {"type": "advisor_message", "model": "claude-opus-5", "input_tokens": 823,
             "output_tokens": 1612}]}, "usage.iterations[0]", "'claude-opus-5'"),
        ({"input_tokens": 10, "output_tokens": 20,
          "output_tokens_details": {"thinking_tokens": 21}},
         "usage.output_tokens_details.thinking_tokens", "more than output_tokens"),
        # DeepSeek: two counts of the cache hits that disagree.
        ({"prompt_tokens": 10, "completion_tokens": 1, "prompt_cache_hit_tokens": 4,
          "prompt_cache_miss_tokens": 6, "prompt_tokens_details": {"cached_tokens": 5}},
         "usage.prompt_tokens_details.cached_tokens", "prompt_cache_hit_tokens (4)"),
        # Cohere: billed classifications have no quantity to price.
        ({"billed_units": {"input_tokens": 1, "classifications": 2}},
         "usage.billed_units.classifications", "no price"),
        # Images: details larger than their total.
        ({"input_tokens": 5, "output_tokens": 1,
          "input_tokens_details": {"text_tokens": 4, "image_tokens": 2}},
         "usage.input_tokens_details", "more than input_tokens"),
        ({"type": "duration", "seconds": -1}, "usage.seconds", "non-negative number"),
        ({"type": "words", "input_tokens": 1, "output_tokens": 1}, "usage.type", "'words'"),
    ],
)  # fmt: skip
def test_new_formats_refuse_counts_that_cannot_be_true(
    client: FlaskClient, usage: Any, field: str, words: str
) -> None:
    status, answer = post(client, {"model": MODEL, "usage": usage})
    assert (status, answer["field"]) == (422, field), answer
    assert words in answer["detail"]

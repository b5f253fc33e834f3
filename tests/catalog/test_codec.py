"""The one price codec: exact round trips, the shapes as served, a whole field table."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ratecard.catalog import codec
from ratecard.catalog.model import PRICE_FIELDS, ModelPrice, Tier
from ratecard.catalog.snapshot import CatalogSnapshot, ServedModel
from ratecard.ingest.feeds import genai_prices, litellm, openrouter
from ratecard.schema import models

PRICE = ModelPrice(
    source="litellm",
    model_id="gemini-pro",
    status="priced",
    provider="google",
    mode="chat",
    context_window=2_000_000,
    max_output_tokens=8192,
    input_per_token=Decimal("0.0000029999900000000002"),
    output_per_token=Decimal("0.00001"),
    cache_read_per_token=None,
    cache_write_per_token=Decimal("0"),
    tiers=(Tier(above_tokens=200_000, input_per_token=Decimal("0.000005")),),
    units={"per_request": Decimal("0.005"), "per_image": Decimal("0.04")},
)


def row_of(values: dict[str, Any], **extra: Any) -> SimpleNamespace:
    # Rows hold JSON columns as text when selected through schema.MODEL_ROW_COLUMNS.
    text = {k: json.dumps(v) if k in ("tiers", "units") else v for k, v in values.items()}
    return SimpleNamespace(**text, **extra)


def test_row_round_trip_is_exact_and_keeps_the_column_shape() -> None:
    row = codec.to_row(PRICE)
    assert list(row) == [
        "source",
        "model_id",
        "provider",
        "mode",
        "status",
        "context_window",
        "max_output_tokens",
        "alias_target",
        "input_per_token",
        "output_per_token",
        "cache_read_per_token",
        "cache_write_per_token",
        "tiers",
        "units",
        "pricing",
    ]
    assert row["tiers"] == [{"above_tokens": 200_000, "input_per_token": "0.000005"}]
    assert row["units"] == {"per_image": "0.04", "per_request": "0.005"}
    assert codec.from_row(row_of(row)) == PRICE


def test_snapshot_round_trip_takes_descriptive_fields_from_like() -> None:
    snapshot = codec.to_snapshot(PRICE)
    assert snapshot == {
        "status": "priced",
        "input_per_token": "0.0000029999900000000002",
        "output_per_token": "0.00001",
        "cache_read_per_token": None,
        "cache_write_per_token": "0",
        "tiers": [{"above_tokens": 200_000, "input_per_token": "0.000005"}],
        "units": {"per_image": "0.04", "per_request": "0.005"},
    }
    assert codec.from_snapshot(snapshot, "litellm", "gemini-pro", like=PRICE) == PRICE
    bare = codec.from_snapshot(snapshot, "litellm", "gemini-pro")
    assert bare.provider is None and bare.context_window is None
    assert bare.same_prices(PRICE)


def test_catalog_item_from_a_row_reads_back_as_the_same_price() -> None:
    row = row_of(codec.to_row(PRICE))
    item = codec.row_to_item(row, "2026-07-24T00:00:00Z", None)
    assert item["input_per_token"] == "0.0000029999900000000002"
    assert item["last_observed_at"] == "2026-07-24T00:00:00Z"
    assert list(item)[-2:] == ["last_observed_at", "last_changed_at"]
    # What Redis holds is this item as JSON: it must survive the trip.
    assert codec.from_item(json.loads(json.dumps(item))) == PRICE


def test_api_output_lists_prices_per_unit_and_per_million() -> None:
    body = codec.to_api(PRICE, None, None)
    assert body["prices"] == {
        "input": {"per_token": "0.0000029999900000000002", "per_million": "2.9999900000000002"},
        "output": {"per_token": "0.00001", "per_million": "10"},
        "cache_write": {"per_token": "0", "per_million": "0"},
    }
    assert body["tiers"] == [
        {
            "above_tokens": 200_000,
            "prices": {"input": {"per_token": "0.000005", "per_million": "5"}},
            "units": {},
        }
    ]
    assert body["units"] == {"per_image": "0.04", "per_request": "0.005"}
    assert (body["variants"], body["windows"], body["uplifts"], body["rules"]) == ({}, [], {}, {})


def test_same_prices_compares_values_not_spelling() -> None:
    respelt = dataclasses.replace(PRICE, output_per_token=Decimal("0.000010"), provider="other")
    assert PRICE.same_prices(respelt)
    assert not PRICE.same_prices(dataclasses.replace(PRICE, output_per_token=Decimal("0.00002")))
    assert not PRICE.same_prices(dataclasses.replace(PRICE, tiers=()))
    assert not PRICE.same_prices(dataclasses.replace(PRICE, units={}))


def test_every_declared_price_field_exists_where_it_lives() -> None:
    price_attrs = {f.name for f in dataclasses.fields(ModelPrice)}
    tier_attrs = {f.name for f in dataclasses.fields(Tier)}
    for field in PRICE_FIELDS:
        assert field.name in price_attrs, f"ModelPrice lacks {field.name}"
        assert field.name in models.c, f"models lacks a column {field.name}"
        assert (field.name in tier_attrs) == field.tiered, f"Tier and {field.name} disagree"
    priced_attrs = {name for name in price_attrs if name.endswith(("_per_token", "_per_request"))}
    assert priced_attrs == {f.name for f in PRICE_FIELDS}, "a price attribute is not declared"
    assert len({f.api_name for f in PRICE_FIELDS}) == len(PRICE_FIELDS)


@pytest.mark.parametrize(
    ("parse", "snapshot"),
    [
        (litellm.parse, "litellm_2026-07-24.json"),
        (genai_prices.parse, "genai_prices_2026-07-25.json"),
        (openrouter.parse, "openrouter_models_2026-08-19.json"),
    ],
    ids=["litellm", "genai-prices", "openrouter"],
)
def test_items_and_rows_read_back_as_what_the_constructor_builds_for_every_real_model(
    feed_data: Path, parse: Any, snapshot: str
) -> None:
    # from_item and from_row fill the instance without running __init__ (model.assembled):
    # every field, and the same values, as ModelPrice(**fields) would hold, for each model of
    # a real feed.
    names = [f.name for f in dataclasses.fields(ModelPrice)]
    parsed = parse("src", json.loads((feed_data / snapshot).read_text()))
    assert len(parsed.models) > 100
    items = [
        json.loads(json.dumps(codec.to_item(price) | {"status": price.status}))
        for price in parsed.models.values()
    ]
    for price, item in zip(parsed.models.values(), items, strict=True):
        read = codec.from_item(item)
        assert sorted(vars(read)) == sorted(names), price.model_id
        assert read == ModelPrice(**{name: getattr(read, name) for name in names}) == price
        # from_row too: the same for the row the store writes (JSON columns read as text).
        row = codec.from_row(row_of(codec.to_row(price)))
        assert sorted(vars(row)) == sorted(names), price.model_id
        assert row == ModelPrice(**{name: getattr(row, name) for name in names}) == price
    # And the served model around each, as the catalog's snapshot builds it.
    served_names = sorted(f.name for f in dataclasses.fields(ServedModel))
    for served in CatalogSnapshot.from_data({"models": items}).models:
        assert sorted(vars(served)) == served_names
        assert served == ServedModel(**vars(served))


@pytest.mark.parametrize(
    "text",
    [
        '[{"gt": 128000, "input": "0.0000025"}]',
        '{"input_per_image": "0.04", "note": "caf\\u00e9 \\ud83d\\ude00"}',
        # Beyond 64 bits: orjson would read these as floats.
        '[{"gt": 99999999999999999999999, "input": "1"}]',
        "[-9223372036854775809, 18446744073709551616]",
        # What json reads and orjson refuses.
        '{"a": NaN, "b": -Infinity}',
        '{"a": "\\ud800"}',
    ],
)
def test_a_stored_json_column_reads_exactly_as_json_reads_it(text: str) -> None:
    value = codec.json_value(text, None)
    assert repr(value) == repr(json.loads(text))

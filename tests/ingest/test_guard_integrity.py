"""The guard never lets one bad value remove or silently change a served price."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from ratecard.catalog.codec import price_moves, to_snapshot
from ratecard.catalog.model import ModelPrice, Tier
from ratecard.ingest.feeds import DroppedField, ParsedFeed, Rejection
from ratecard.ingest.guard import guard_feed

OLD = ModelPrice(
    source="litellm",
    model_id="m",
    status="priced",
    context_window=128000,
    input_per_token=Decimal("0.000003"),
    output_per_token=Decimal("0.000015"),
    cache_read_per_token=Decimal("0.0000003"),
    tiers=(Tier(200000, input_per_token=Decimal("0.000006")),),
    units={"input_per_image": Decimal("0.04"), "cache_write_1h_per_token": Decimal("0.000006")},
)
OTHER = ModelPrice(source="litellm", model_id="n", status="priced", input_per_token=Decimal(1))


def test_a_rejected_entry_is_stale_not_removed():
    incoming = ParsedFeed("litellm", {"n": OTHER}, rejected=[Rejection("m", "bad price")])
    decision = guard_feed({"m": OLD, "n": OTHER}, incoming, {}, max_removed_fraction=0.9)
    assert decision.removals == [] and decision.removed == 0
    assert decision.stale == {"m": "bad price"}
    assert "m" not in decision.upserts
    assert decision.listed == frozenset({"n"})


def test_a_model_the_feed_no_longer_lists_is_removed():
    incoming = ParsedFeed("litellm", {"n": OTHER}, rejected=[Rejection("x", "bad")])
    decision = guard_feed({"m": OLD, "n": OTHER}, incoming, {}, max_removed_fraction=0.9)
    assert decision.removals == ["m"] and decision.stale == {}


def test_many_rejected_entries_quarantine_the_feed():
    current = {f"m{i}": replace(OTHER, model_id=f"m{i}") for i in range(10)}
    incoming = ParsedFeed(
        "litellm",
        {k: v for k, v in current.items() if k >= "m4"},
        rejected=[Rejection(f"m{i}", "garbage") for i in range(4)],
    )
    decision = guard_feed(current, incoming, {})
    assert decision.quarantined
    assert decision.quarantine_reason == (
        "feed would remove 0 and reject 4 of 10 models (40%), more than the 30% allowed"
    )


@pytest.mark.parametrize(
    ("change", "field", "factor"),
    [
        ({"tiers": (Tier(200000, input_per_token=Decimal("0.006")),)}, "tiers[>200000]", "1000"),
        (
            {"units": {**OLD.units, "cache_write_1h_per_token": Decimal("0.006")}},
            "units.cache_write_1h_per_token",
            "1000",
        ),
        (
            {"units": {**OLD.units, "input_per_image": Decimal("40")}},
            "units.input_per_image",
            "1000",
        ),
        ({"cache_read_per_token": Decimal("0.0003")}, "cache_read_per_token", "1000"),
        ({"tiers": ()}, "tiers[>200000].input_per_token disappeared", None),
        ({"units": {"input_per_image": Decimal("0.04")}}, "cache_write_1h_per_token disapp", None),
        ({"output_per_token": None}, "output_per_token disappeared (was 0.000015)", None),
    ],
)
def test_every_stored_price_is_guarded(change, field, factor):
    proposed = replace(OLD, **change)
    decision = guard_feed({"m": OLD}, ParsedFeed("litellm", {"m": proposed}), {})
    [held] = decision.held
    assert field in held.reason
    assert held.factor == (None if factor is None else Decimal(factor))
    assert decision.upserts == {}


def test_held_change_lists_which_field_moved_and_by_how_much():
    proposed = replace(
        OLD, output_per_token=Decimal("0.015"), units={"input_per_image": Decimal(1)}
    )
    moves = price_moves(to_snapshot(OLD), to_snapshot(proposed))
    assert moves == [
        {"field": "output_per_token", "old": "0.000015", "new": "0.015", "factor": "1000"},
        {
            "field": "units.cache_write_1h_per_token",
            "old": "0.000006",
            "new": None,
            "factor": None,
        },
        {"field": "units.input_per_image", "old": "0.04", "new": "1", "factor": "25"},
    ]


def test_a_dropped_field_keeps_its_last_good_value():
    # The feed's `input_cost_per_image: true` and `max_tokens: "128k"` were dropped by the
    # parser; everything else of the entry is applied.
    proposed = replace(OLD, output_per_token=Decimal("0.00002"), units={}, context_window=None)
    incoming = ParsedFeed(
        "litellm",
        {"m": proposed},
        dropped=[
            DroppedField("m", "input_per_image", "bad"),
            DroppedField("m", "cache_write_1h_per_token", "bad"),
            DroppedField("m", "context_window", "bad"),
        ],
    )
    decision = guard_feed({"m": OLD}, incoming, {})
    assert decision.held == []
    assert decision.upserts["m"] == replace(OLD, output_per_token=Decimal("0.00002"))


def test_a_dropped_variant_or_tier_price_keeps_that_part_as_it_was():
    from ratecard.ingest.feeds import parse_feed
    from ratecard.settings import Source

    body = (
        b'{"m": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06,'
        b' "output_cost_per_token": 2e-06, "input_cost_per_token_priority": "lots",'
        b' "output_cost_per_token_priority": 4e-06,'
        b' "cache_creation_input_token_cost_above_1hr_above_200k_tokens": true}}'
    )
    parsed = parse_feed(Source(name="litellm", url="file:///f.json", kind="litellm"), body)
    assert sorted(d.field for d in parsed.dropped) == [
        "tiers[>200000].units.cache_write_1h_per_token",
        "variants.priority.input_per_token",
    ]
    proposed = parsed.models["m"]
    assert proposed.variants["priority"].input_per_token is None
    old = replace(
        proposed,
        variants={"priority": replace(proposed.variants["priority"], input_per_token=Decimal(3))},
        tiers=(Tier(200000, units={"cache_write_1h_per_token": Decimal("0.00001")}),),
    )
    decision = guard_feed({"m": old}, parsed, {})
    assert decision.held == []
    assert "m" not in decision.upserts  # nothing else moved: the last good parts stay served
    assert guard_feed({}, parsed, {}).upserts["m"] == proposed

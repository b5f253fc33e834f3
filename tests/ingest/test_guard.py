"""The guard: real snapshot diffs, quarantine of shrinking feeds, held and confirmed changes."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from ratecard.catalog.model import ModelPrice
from ratecard.ingest.feeds import ParsedFeed, parse_feed
from ratecard.ingest.guard import guard_feed
from ratecard.settings import Source

LITELLM = Source(name="litellm", url="file:///feed.json", kind="litellm")


@pytest.fixture(scope="module")
def march(feed_data: Path) -> ParsedFeed:
    return parse_feed(LITELLM, (feed_data / "litellm_2026-03-14.json").read_bytes())


@pytest.fixture(scope="module")
def july(feed_data: Path) -> ParsedFeed:
    return parse_feed(LITELLM, (feed_data / "litellm_2026-07-24.json").read_bytes())


def model(model_id: str, **prices: object) -> ModelPrice:
    fields: dict[str, object] = {"status": "priced", "provider": "acme", "mode": "chat"}
    fields.update(prices)
    return ModelPrice(source="litellm", model_id=model_id, **fields)  # type: ignore[arg-type]


def feed(*models: ModelPrice) -> ParsedFeed:
    return ParsedFeed(source="litellm", models={m.model_id: m for m in models})


def catalog(n: int) -> dict[str, ModelPrice]:
    return {f"m{i}": model(f"m{i}", input_per_token=Decimal("0.000001")) for i in range(n)}


# -- real snapshots --------------------------------------------------------------------------


def test_march_to_july_gives_the_real_adds_removes_and_changes(march, july):
    decision = guard_feed(march.models, july, {})
    assert not decision.quarantined
    added = set(july.models) - set(march.models)
    removed = set(march.models) - set(july.models)
    assert decision.added == len(added) == 409
    assert decision.removals == sorted(removed)
    assert decision.removed == 8
    assert "luminous-base" in removed and "luminous-supreme-control" in removed
    # 157 real price changes: 133 applied, and 24 held because a price disappears (the
    # Claude 4.6 long-context tier, 1-hour cache-write and priority cache-read prices). Real,
    # probably, but a vanishing price is held until a second fetch confirms it. (Before the
    # service-tier variants, tier units and pricing rules were compared: 111 and 19.)
    assert decision.changed == 133
    assert len(decision.held) == 24
    assert all("disappeared" in h.reason for h in decision.held)
    sonnet = next(h for h in decision.held if h.model_id == "claude-sonnet-4-6")
    assert "tiers[>200000].input_per_token disappeared (was 0.000006)" in sonnet.reason
    # A real cut: Titan embeddings v2 went from 0.0000002 to 0.00000002 (÷10, not held).
    titan = decision.upserts["amazon.titan-embed-text-v2:0"]
    assert titan.input_per_token == Decimal("2E-8")
    # Unpriced in March, priced in July: a new price, not a factor change.
    snowflake = decision.upserts["snowflake/claude-3-5-sonnet"]
    assert march.models["snowflake/claude-3-5-sonnet"].status == "unpriced"
    assert snowflake.status == "priced" and snowflake.input_per_token == Decimal("0.000003")
    # Unchanged models are not rewritten.
    assert "gpt-4o" not in decision.upserts
    assert len(decision.upserts) == decision.added + decision.changed + decision.described


def test_same_snapshot_again_changes_nothing(july):
    decision = guard_feed(july.models, july, {})
    assert decision.upserts == {} and decision.removals == []
    assert (decision.added, decision.changed, decision.removed) == (0, 0, 0)


def test_first_load_applies_everything_even_wild_prices(july):
    decision = guard_feed({}, july, {})
    assert not decision.quarantined
    assert decision.added == len(july.models) == len(decision.upserts)
    assert decision.held == []


def test_unit_error_on_a_real_model_is_held(july):
    current = {"gpt-4o": july.models["gpt-4o"]}
    per_thousand = replace(july.models["gpt-4o"], input_per_token=Decimal("0.0025"))
    decision = guard_feed(current, feed(per_thousand), {})
    assert decision.upserts == {}
    [held] = decision.held
    assert held.model_id == "gpt-4o"
    assert held.old == july.models["gpt-4o"]
    assert held.proposed == per_thousand
    assert held.factor == Decimal(1000)
    assert held.reason == "input_per_token moved x1000 (0.0000025 -> 0.0025)"


# -- quarantine ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kept", "quarantined"),
    [(10, False), (8, False), (7, False), (6, True), (0, True)],
)
def test_removal_fraction_threshold(kept, quarantined):
    current = catalog(10)
    incoming = feed(*list(current.values())[:kept], model("new", input_per_token=Decimal(1)))
    if kept == 0:
        incoming = feed(model("new", input_per_token=Decimal(1)))
    decision = guard_feed(current, incoming, {})
    assert decision.quarantined is quarantined
    if quarantined:
        assert decision.quarantine_reason == (
            f"feed would remove {10 - kept} of 10 models ({(10 - kept) * 10}%), "
            "more than the 30% allowed"
        )
        assert decision.upserts == {} and decision.removals == [] and decision.held == []
    else:
        assert decision.removals == sorted(f"m{i}" for i in range(kept, 10))
        assert "new" in decision.upserts


def test_real_feed_shrunk_by_half_is_quarantined(july):
    half = dict(list(july.models.items())[: len(july.models) // 2])
    decision = guard_feed(july.models, ParsedFeed(source="litellm", models=half), {})
    assert decision.quarantined
    assert decision.quarantine_reason is not None
    assert "1491 of 2982" in decision.quarantine_reason


def test_removal_fraction_is_a_setting():
    current = catalog(10)
    incoming = feed(*list(current.values())[:8])
    assert guard_feed(current, incoming, {}, max_removed_fraction=0.1).quarantined
    assert not guard_feed(current, incoming, {}, max_removed_fraction=0.2).quarantined


# -- held changes ----------------------------------------------------------------------------

OLD = model("m", input_per_token=Decimal("0.000002"), output_per_token=Decimal("0.000008"))


@pytest.mark.parametrize(
    ("change", "held", "factor"),
    [
        ({"input_per_token": Decimal("0.0002")}, True, Decimal(100)),  # x100 exactly
        ({"input_per_token": Decimal("0.00000002")}, True, Decimal("0.01")),  # ÷100 exactly
        ({"output_per_token": Decimal("0.008")}, True, Decimal(1000)),
        ({"input_per_token": Decimal("0.000199999")}, False, None),  # just under x100
        ({"input_per_token": Decimal("0.0000000200001")}, False, None),  # just under ÷100
        ({"input_per_token": Decimal("0.000004")}, False, None),  # a doubling is a price change
        ({"cache_read_per_token": Decimal("5")}, False, None),  # a new price: no old value
        ({"input_per_token": None}, True, None),  # a price disappears: held
    ],
)
def test_factor_holds(change, held, factor):
    proposed = replace(OLD, **change)
    decision = guard_feed({"m": OLD}, feed(proposed), {})
    if held:
        assert [h.model_id for h in decision.held] == ["m"]
        assert decision.held[0].factor == factor
        assert decision.upserts == {} and decision.changed == 0
    else:
        assert decision.held == []
        assert decision.upserts == {"m": proposed} and decision.changed == 1


def test_paid_to_zero_is_held():
    proposed = replace(OLD, output_per_token=Decimal(0))
    decision = guard_feed({"m": OLD}, feed(proposed), {})
    [held] = decision.held
    assert held.factor is None
    assert held.reason == "output_per_token went from 0.000008 to 0 (paid to free)"


def test_everything_to_zero_is_held_but_zero_to_paid_is_not():
    free = replace(OLD, status="free", input_per_token=Decimal(0), output_per_token=Decimal(0))
    assert len(guard_feed({"m": OLD}, feed(free), {}).held) == 1
    decision = guard_feed({"m": free}, feed(OLD), {})
    assert decision.held == [] and decision.upserts == {"m": OLD}


@pytest.mark.parametrize(("status", "held"), [("dynamic", 0), ("unpriced", 1)])
def test_changes_from_dynamic_or_unpriced_are_not_held_to_unpriced_is(status, held):
    other = replace(OLD, status=status, input_per_token=None, output_per_token=None)
    # To dynamic: priced per request now (a router), not a lost price. To unpriced: every
    # price disappeared, held like any price that disappears.
    assert len(guard_feed({"m": OLD}, feed(other), {}).held) == held
    assert guard_feed({"m": other}, feed(OLD), {}).held == []


def test_second_sighting_of_the_same_prices_confirms():
    proposed = replace(OLD, input_per_token=Decimal("0.002"))
    first = guard_feed({"m": OLD}, feed(proposed), {})
    assert len(first.held) == 1
    # The next fetch proposes the same prices (descriptive fields may differ).
    again = replace(proposed, context_window=999)
    second = guard_feed({"m": OLD}, feed(again), {"m": first.held[0].proposed})
    assert second.confirmed == ["m"]
    assert second.upserts == {"m": again}
    assert second.held == [] and second.changed == 1


def test_a_different_second_proposal_is_held_again():
    proposed = replace(OLD, input_per_token=Decimal("0.002"))
    other = replace(OLD, input_per_token=Decimal("0.003"))
    decision = guard_feed({"m": OLD}, feed(other), {"m": proposed})
    assert decision.confirmed == []
    assert [h.proposed for h in decision.held] == [other]


def test_hold_factor_is_a_setting():
    proposed = replace(OLD, input_per_token=Decimal("0.00002"))  # x10
    assert guard_feed({"m": OLD}, feed(proposed), {}).held == []
    assert len(guard_feed({"m": OLD}, feed(proposed), {}, hold_factor=Decimal(10)).held) == 1
    assert len(guard_feed({"m": OLD}, feed(proposed), {}, hold_factor=10.0).held) == 1
    with pytest.raises(ValueError, match="hold_factor"):
        guard_feed({"m": OLD}, feed(proposed), {}, hold_factor=Decimal(1))


def test_descriptive_change_only_is_written_but_not_a_price_change():
    renamed = replace(OLD, mode="responses", context_window=200000)
    decision = guard_feed({"m": OLD}, feed(renamed), {})
    assert decision.upserts == {"m": renamed}
    assert decision.changed == 0 and decision.described == 1


def test_equal_decimals_in_other_spellings_are_unchanged():
    respelled = replace(OLD, input_per_token=Decimal("2E-6"), output_per_token=Decimal("8.0E-6"))
    decision = guard_feed({"m": OLD}, feed(respelled), {})
    assert decision.upserts == {}

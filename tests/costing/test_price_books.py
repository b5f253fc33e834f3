"""The price book rules engine: each rule form, precedence, every form of a price, dated rules,
unmatched prices, chains, and the 422 each bad rule gets; exact Decimal throughout."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ratecard.catalog.model import DatedPrices, PriceSet, Tier, TimeWindow
from ratecard.costing.cost import price_usage
from ratecard.costing.price_books import PriceBook, book_prices, parse_book
from ratecard.costing.usage import Usage
from ratecard.errors import ValidationFailed
from tests.support.store_helpers import price

AT = datetime(2026, 7, 1, tzinfo=UTC)
GPT = price("gpt-4o", "0.0000025", "0.00001", provider="openai")
CLAUDE = price("claude-sonnet-4", "0.000003", "0.000015", provider="anthropic")


def book(rules: list[dict[str, Any]], name: str = "contract", **extra: Any) -> PriceBook:
    return parse_book(name, {"rules": rules, **extra}, version=1)


def test_set_replaces_and_multiply_scales_exactly() -> None:
    azure = book(
        [
            {"match": {"model": "gpt-4o"}, "set": {"input_per_token": "0.000002"}},
            {"match": {"provider": "openai"}, "multiply": "0.85"},
        ]
    )
    priced = book_prices(GPT, [azure], AT)
    # The set rule covers input only; output falls through to the provider-wide discount.
    assert priced.priced.input_per_token == Decimal("0.000002")
    assert priced.priced.output_per_token == Decimal("0.0000085")
    assert {k: (a.rule, a.book) for k, a in priced.applied.items()} == {
        "input_per_token": (0, "contract"),
        "output_per_token": (1, "contract"),
    }
    assert priced.listed.output_per_token == Decimal("0.00001")  # the list price kept beside
    # A rule for another model or provider leaves these prices at list.
    assert book_prices(CLAUDE, [azure], AT).priced == CLAUDE


def test_a_multiply_rule_covers_its_prices_or_all_and_the_first_covering_rule_wins() -> None:
    half_output = book(
        [
            {"match": {"pattern": "claude-*"}, "prices": ["output_per_token"], "multiply": "0.5"},
            {"match": {}, "multiply": "2"},
        ]
    )
    claude = book_prices(CLAUDE, [half_output], AT).priced
    assert (claude.input_per_token, claude.output_per_token) == (
        Decimal("0.000006"),
        Decimal("0.0000075"),
    )
    gpt = book_prices(GPT, [half_output], AT).priced  # the glob does not match gpt-4o
    assert gpt.output_per_token == Decimal("0.00002")


def test_a_rule_applies_to_every_form_of_its_price() -> None:
    model = price(
        "gemini-pro",
        "0.00000125",
        "0.00001",
        provider="google",
        tiers=(Tier(200_000, input_per_token=Decimal("0.0000025")),),
        units={"per_request": Decimal("0.01")},
        variants={"batch": PriceSet(input_per_token=Decimal("0.000000625"))},
        windows=(TimeWindow(30, 1630, PriceSet(input_per_token=Decimal("0.000001"))),),
    )
    priced = book_prices(
        model, [book([{"multiply": "0.5", "prices": ["input_per_token", "per_request"]}])], AT
    ).priced
    assert priced.input_per_token == Decimal("0.000000625")
    assert priced.tiers[0].input_per_token == Decimal("0.00000125")
    assert priced.variants["batch"].input_per_token == Decimal("0.0000003125")
    assert priced.windows[0].prices.input_per_token == Decimal("0.0000005")
    assert priced.units["per_request"] == Decimal("0.005")
    assert priced.output_per_token == Decimal("0.00001")  # not covered: list
    # And through the cost engine: past the tier, 300,000 tokens at the book's tier price.
    cost = price_usage(priced, Usage(input_tokens=300_000), at=datetime(2026, 7, 1, 20, tzinfo=UTC))
    assert cost.total == Decimal("0.375") + Decimal("0.005")


def test_rules_are_in_force_from_until_and_the_dated_list_price_is_taken_first() -> None:
    dated = price(
        "o3",
        "0.00001",
        "0.00004",
        provider="openai",
        dated=(
            DatedPrices(None, PriceSet(input_per_token=Decimal("0.00001"))),
            DatedPrices(
                datetime(2025, 6, 10, tzinfo=UTC), PriceSet(input_per_token=Decimal("0.000002"))
            ),
        ),
    )
    contract = book(
        [
            {
                "match": {},
                "multiply": "0.5",
                "from": "2026-06-01T00:00:00Z",
                "until": "2027-01-01T00:00:00Z",
            },
        ]
    )
    assert book_prices(dated, [contract], AT).priced.input_per_token == Decimal("0.000001")
    before = book_prices(dated, [contract], datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC))
    assert before.priced.input_per_token == Decimal("0.000002") and before.applied == {}
    early = book_prices(dated, [contract], datetime(2025, 1, 1, tzinfo=UTC))
    assert early.priced.input_per_token == Decimal("0.00001")  # the list's entry then
    assert book_prices(dated, [contract], datetime(2027, 1, 1, tzinfo=UTC)).applied == {}


def test_unmatched_refuse_names_the_prices_no_rule_covers() -> None:
    strict = book(
        [{"match": {"model": "gpt-4o"}, "set": {"input_per_token": "0.000002"}}], unmatched="refuse"
    )
    priced = book_prices(GPT, [strict], AT)
    assert priced.refused == {"contract": frozenset({"output_per_token"})}
    assert book_prices(GPT, [book([])], AT).refused == {}


def test_a_set_rule_states_a_price_the_list_lacks() -> None:
    search = book([{"set": {"web_search": "0.01"}}])
    priced = book_prices(GPT, [search], AT)
    assert priced.priced.units["web_search"] == Decimal("0.01")
    assert "web_search" not in priced.listed.units and priced.applied["web_search"].rule == 0


def test_a_chain_applies_the_base_first() -> None:
    contract = book([{"match": {"provider": "openai"}, "multiply": "0.8"}], name="contract")
    resale = book([{"multiply": "1.25"}], name="resale", base="contract")
    priced = book_prices(GPT, [contract, resale], AT)
    assert priced.priced.input_per_token == Decimal("0.0000025")  # 0.8 x 1.25 of list
    assert priced.applied["input_per_token"].book == "resale"


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([{"multiply": "0"}], "rules[0].multiply"),
        ([{"multiply": "1000.5"}], "rules[0].multiply"),
        ([{"multiply": 0.85}], "rules[0].multiply"),
        ([{"multiply": "-1"}], "rules[0].multiply"),
        ([{"set": {"input_per_token": "-0.1"}}], "rules[0].set.input_per_token"),
        ([{"set": {"input_per_token": "1e-6"}}], "rules[0].set.input_per_token"),
        ([{"set": {"input_per_tokens": "1"}}], "rules[0].set.input_per_tokens"),
        ([{"multiply": "2", "prices": ["nope"]}], "rules[0].prices[0]"),
        ([{"set": {"input_per_token": "1"}, "multiply": "2"}], "rules[0]"),
        ([{}], "rules[0]"),
        ([{"match": {"pattern": "claude-[*"}, "multiply": "2"}], "rules[0].match.pattern"),
        ([{"match": {"family": "x"}, "multiply": "2"}], "rules[0].match"),
        (
            [{"multiply": "2", "from": "2027-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}],
            "rules[0].until",
        ),
        ([{"multiply": "2", "from": "2026-01-01"}], "rules[0].from"),
        ([{"multiply": "2", "surprise": 1}], "rules[0].surprise"),
    ],
)
def test_a_bad_rule_is_a_422_naming_the_rule_and_field(rules: list[Any], field: str) -> None:
    good = {"multiply": "0.5"}
    with pytest.raises(ValidationFailed) as caught:
        parse_book("contract", {"rules": [good, *rules]})
    shifted = field.replace("rules[0]", "rules[1]")
    assert caught.value.extra["field"] == shifted
    assert caught.value.detail.startswith(shifted)


def test_the_book_level_limits() -> None:
    with pytest.raises(ValidationFailed) as many:
        parse_book("big", {"rules": [{"multiply": "1"}] * 11}, max_rules=10)
    assert many.value.extra["field"] == "rules"
    for name, body, field in (
        ("bad name!", {}, "name"),
        ("self", {"base": "self"}, "base"),
        ("x", {"unmatched": "maybe"}, "unmatched"),
        ("x", {"colour": "red"}, "colour"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            parse_book(name, body)
        assert caught.value.extra["field"] == field
    # What is stored: exact text, only what each rule states.
    stored = parse_book(
        "x", {"rules": [{"match": {"model": "gpt-4o"}, "multiply": "0.850"}]}
    ).content
    assert stored["rules"] == [{"match": {"model": "gpt-4o"}, "multiply": "0.85"}]

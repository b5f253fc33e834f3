"""The catalog table: search, provider and mode filters, sorting (unpriced last), cut."""

from __future__ import annotations

from decimal import Decimal

from ratecard.catalog.model import ModelPrice
from ratecard.catalog.model import PriceStatusText as PriceStatus
from ratecard.catalog.snapshot import ServedModel
from ratecard.web.dashboard.catalog_table import TableQuery, build_table


def served(model_id: str, provider: str, mode: str, price: str | None) -> ServedModel:
    value = None if price is None else Decimal(price)
    status: PriceStatus = "priced" if value is not None else "unpriced"
    return ServedModel(
        ModelPrice("litellm", model_id, status, provider, mode, 1000, None, value, value),
        None,
        None,
    )


MODELS = [
    served("gpt-4o", "openai", "chat", "0.0000025"),
    served("gpt-4o-mini", "openai", "chat", "0.00000015"),
    served("text-embedding-3-small", "openai", "embedding", "0.00000002"),
    served("claude-3-haiku", "anthropic", "chat", "0.00000025"),
    served("mystery", "acme", "chat", None),
]


def ids(query: TableQuery) -> list[str]:
    return [row.model_id for row in build_table(MODELS, query).rows]


def test_search_is_case_insensitive_and_counts_matches() -> None:
    table = build_table(MODELS, TableQuery(q="GPT-4O"))
    assert [r.model_id for r in table.rows] == ["gpt-4o", "gpt-4o-mini"]
    assert table.matched == 2 and table.total == 5


def test_filters_by_provider_and_mode() -> None:
    assert ids(TableQuery(provider="openai", mode="chat")) == ["gpt-4o", "gpt-4o-mini"]
    assert ids(TableQuery(mode="embedding")) == ["text-embedding-3-small"]
    assert build_table(MODELS, TableQuery()).providers == ("acme", "anthropic", "openai")


def test_sorting_by_price_puts_unpriced_last_in_both_directions() -> None:
    ascending = ids(TableQuery(sort="input"))
    assert ascending[0] == "text-embedding-3-small" and ascending[-1] == "mystery"
    descending = ids(TableQuery(sort="input", descending=True))
    assert descending[0] == "gpt-4o" and descending[-1] == "mystery"


def test_prices_are_shown_per_million_tokens() -> None:
    row = build_table(MODELS, TableQuery(q="gpt-4o-mini")).rows[0]
    assert row.input_per_million == "0.15"


def test_query_from_args_falls_back_on_nonsense() -> None:
    query = TableQuery.from_args({"sort": "-; DROP TABLE", "limit": "lots", "q": " x " * 500})
    assert query.sort == "relevance" and not query.descending and query.limit == 200
    assert len(query.q) <= 200
    assert TableQuery.from_args({"sort": "-output", "limit": "5"}) == TableQuery(
        sort="output", descending=True, limit=5
    )
    assert ids(TableQuery(sort="id", limit=2)) == ["claude-3-haiku", "gpt-4o"]
    assert TableQuery(sort="input").sort_param("input") == "-input"


def test_the_best_match_comes_first_and_the_first_screen_is_the_makers_chat_models() -> None:
    resold = [
        served("azure/gpt-4o", "azure", "chat", "0.0000025"),
        served("openrouter/openai/gpt-4o", "openrouter", "chat", "0.0000025"),
        served("1024-x-1024/50-steps/stability-diffusion", "bedrock", "image_generation", None),
        *MODELS,
    ]
    # The exact id first; then the same name elsewhere (a reseller's copy before a platform's
    # offering); then longer names.
    assert [r.model_id for r in build_table(resold, TableQuery(q="gpt-4o")).rows] == [
        "gpt-4o",
        "openrouter/openai/gpt-4o",
        "azure/gpt-4o",
        "gpt-4o-mini",
    ]
    # No text: the makers' own models (chat before embeddings), then copies, then platforms'
    # (their image sizes last).
    assert [r.model_id for r in build_table(resold, TableQuery()).rows] == [
        "gpt-4o",
        "gpt-4o-mini",
        "claude-3-haiku",
        "text-embedding-3-small",
        "openrouter/openai/gpt-4o",
        "azure/gpt-4o",
        "mystery",
        "1024-x-1024/50-steps/stability-diffusion",
    ]
    # A column sort is what it says (the id here), the match rule unchanged.
    by_id = build_table(resold, TableQuery(q="gpt-4o", sort="id")).rows
    assert [r.model_id for r in by_id] == sorted(r.model_id for r in by_id)


def test_a_price_is_shown_short_and_exact_on_hover() -> None:
    from ratecard.web.dashboard.format import shown_price
    from ratecard.web.dashboard.pages import price_filter

    assert shown_price("2.9999900000000002") == "2.99999"
    assert shown_price("0.2574") == "0.2574" and shown_price("1.25") == "1.25"
    assert shown_price(None) is None and price_filter(None) == "—"
    assert price_filter("0.15") == "0.15"
    assert str(price_filter("2.9999900000000002")) == (
        '<span class="rounded" title="exactly 2.9999900000000002">2.99999</span>'
    )

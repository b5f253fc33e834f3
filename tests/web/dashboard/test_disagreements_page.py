"""The disagreements page: a source's two ids with one price read as one row, not two."""

from __future__ import annotations

from ratecard.catalog.identity import ModelIndex
from ratecard.web.dashboard.pages import disagreement_rows
from tests.support.store_helpers import price

# LiteLLM lists DeepSeek's chat model under two ids with one price, and a copy of OpenRouter's
# with another; OpenRouter's own entry differs from all of them.
INDEX = ModelIndex(
    [
        price("deepseek-chat", "0.00000028", "0.00000042", provider="deepseek"),
        price("deepseek/deepseek-chat", "0.00000028", "0.00000042", provider="deepseek"),
        price("openrouter/deepseek/deepseek-chat", "0.00000014", "0.00000028",
              provider="openrouter"),
        price("deepseek/deepseek-chat", "0.0000002574", "0.0000010287", source="openrouter",
              provider="deepseek"),
    ]
)  # fmt: skip


def test_pairs_that_differ_alike_share_a_row() -> None:
    pairs = INDEX.disagreements()
    assert len(pairs) == 3, "the API keeps every pair"
    rows = disagreement_rows(pairs)
    assert [(r["a"]["ids"], r["b"]["ids"]) for r in rows] == [
        (["deepseek-chat", "deepseek/deepseek-chat"], ["deepseek/deepseek-chat"]),
        (["openrouter/deepseek/deepseek-chat"], ["deepseek/deepseek-chat"]),
    ]
    first = rows[0]
    assert (first["a"]["source"], first["b"]["source"]) == ("litellm", "openrouter")
    # One source each side (each source speaks once for a model): 1 of 2 with either.
    assert first["fields"][0] == {
        "label": "input",
        "a": "0.28",
        "b": "0.2574",
        "ratio": "0.919286",
        "sides": (1, 1, 2),
    }

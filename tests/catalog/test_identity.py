"""Model identity (pure): provider vocabulary, link keys, the resolver, disagreements."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ratecard.catalog.identity import (
    AmbiguousModel,
    ModelIndex,
    UnknownModel,
    canonical_provider,
    link_key,
    price_agreement,
    price_differences,
)
from ratecard.catalog.model import ModelPrice
from ratecard.ingest.feeds import parse_feed
from ratecard.settings import Source
from tests.support.store_helpers import LITELLM_NEW, OPENROUTER, price


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("gemini", "google"),
        ("vertex_ai-language-models", "google"),
        ("google", "google"),
        ("palm", "google"),
        ("vertex_ai-anthropic_models", "vertex_ai"),  # Google's platform, another maker's model
        ("text-completion-openai", "openai"),
        ("openai", "openai"),
        ("x-ai", "xai"),
        ("xai", "xai"),
        ("mistralai", "mistral"),
        ("codestral", "mistral"),
        ("moonshotai", "moonshot"),
        ("z-ai", "zai"),
        ("meta-llama", "meta"),
        ("Azure", "azure"),  # a reseller keeps its own name
        ("bedrock", "bedrock"),
        ("", None),
        (None, None),
    ],
)
def test_one_provider_vocabulary(raw: str | None, canonical: str | None) -> None:
    assert canonical_provider(raw) == canonical


OR = "openrouter"
HAIKU_ALIAS = "~anthropic/claude-haiku-latest"
SONNET = "claude-sonnet-4-20250514"


def entry(model_id: str, provider: str | None, source: str = "litellm", **kw: str) -> ModelPrice:
    return price(model_id, source=source, provider=provider, **kw)


@pytest.mark.parametrize(
    ("model", "key"),
    [
        (entry("gpt-4o", "openai"), ("openai", "gpt-4o")),
        (entry("openai/gpt-4o", "openai", "openrouter"), ("openai", "gpt-4o")),
        (entry("openrouter/openai/gpt-4o", "openrouter"), ("openai", "gpt-4o")),
        (entry("gemini/gemini-2.5-pro", "gemini"), ("google", "gemini-2-5-pro")),
        (entry("gemini-2.5-pro", "vertex_ai-language-models"), ("google", "gemini-2-5-pro")),
        (entry("google/gemini-2.5-pro", "google", "openrouter"), ("google", "gemini-2-5-pro")),
        # OpenRouter writes versions with a dot, Anthropic with a dash: the same version.
        (entry("anthropic/claude-haiku-4.5", "anthropic", OR), ("anthropic", "claude-haiku-4-5")),
        (entry("claude-haiku-4-5", "anthropic"), ("anthropic", "claude-haiku-4-5")),
        # An alias keys on its target (it is that model today).
        (
            entry(HAIKU_ALIAS, "anthropic", OR, alias_target="anthropic/claude-haiku-4.5"),
            ("anthropic", "claude-haiku-4-5"),
        ),
        (entry(HAIKU_ALIAS, "anthropic", OR), ("anthropic", "~claude-haiku-latest")),
        # Resellers keep their own key: their price is theirs, not the maker's.
        (entry("azure/gpt-4o", "azure"), ("azure", "gpt-4o")),
        (entry("vercel/openai/gpt-4o", "vercel"), ("vercel", "openai/gpt-4o")),
        (entry("deepseek/deepseek-chat", "deepseek"), ("deepseek", "deepseek-chat")),
        (entry("xai/grok-4", "xai"), ("xai", "grok-4")),
        (entry("x-ai/grok-4", "x-ai", "openrouter"), ("xai", "grok-4")),
        (entry("orphan", None), None),
    ],
)  # fmt: skip
def test_link_keys(model: ModelPrice, key: tuple[str, str] | None) -> None:
    assert link_key(model) == key


CATALOG = ModelIndex(
    [
        entry("gpt-4o", "openai"),
        entry("gpt-4o-mini", "openai"),
        entry("azure/gpt-4o", "azure"),
        entry("openrouter/openai/gpt-4o", "openrouter"),
        entry("claude-sonnet-4-20250514", "anthropic"),
        entry("claude-haiku-4-5", "anthropic"),
        entry("gemini-2.5-pro", "vertex_ai-language-models"),
        entry("gemini/gemini-2.5-pro", "gemini"),
        entry("github_copilot/claude-haiku-4.5", "github_copilot"),
        entry("together_ai/llama-x", "together_ai"),
        entry("fireworks_ai/llama-x", "fireworks_ai"),
        entry("openai/gpt-4o", "openai", "openrouter"),
        entry("anthropic/claude-haiku-4.5", "anthropic", "openrouter"),
        entry(
            "~anthropic/claude-haiku-latest",
            "anthropic",
            "openrouter",
            alias_target="anthropic/claude-haiku-4.5",
        ),
        entry("google/gemini-2.5-pro", "google", "openrouter"),
    ]
)
PREFERRED = ("litellm", "openrouter")


@pytest.mark.parametrize(
    ("requested", "source", "served", "by"),
    [
        ("gpt-4o", None, ("litellm", "gpt-4o"), "exact"),
        ("openai/gpt-4o", None, ("openrouter", "openai/gpt-4o"), "exact"),
        ("GPT-4o", None, ("litellm", "gpt-4o"), "case"),
        ("  gpt-4o\t", None, ("litellm", "gpt-4o"), "case"),
        # A prefix the feed does not use is dropped (LiteLLM lists Anthropic models bare)...
        ("anthropic/claude-sonnet-4-20250514", None, ("litellm", SONNET), "prefix"),
        ("Anthropic/Claude-Sonnet-4-20250514", None, ("litellm", SONNET), "prefix"),
        # ...and one it does use is added (OpenRouter's vendor ids).
        ("gpt-4o", "openrouter", ("openrouter", "openai/gpt-4o"), "prefix"),
        ("openai/gpt-4o", "litellm", ("litellm", "gpt-4o"), "prefix"),
        # The maker's name in either vocabulary: Google's models under google/ or gemini/.
        ("google/gemini-2.5-pro", "litellm", ("litellm", "gemini-2.5-pro"), "prefix"),
        ("gemini-2.5-pro", "openrouter", ("openrouter", "google/gemini-2.5-pro"), "prefix"),
        # Another source's id for the same model.
        ("anthropic/claude-haiku-4.5", "litellm", ("litellm", "claude-haiku-4-5"), "linked"),
        ("~anthropic/claude-haiku-latest", "litellm", ("litellm", "claude-haiku-4-5"), "linked"),
        # A maker's entry wins over a reseller listing the same name.
        ("claude-haiku-4.5", None, ("openrouter", "anthropic/claude-haiku-4.5"), "prefix"),
        # The maker's own entry answers a name, never the copy a reseller lists beside it.
        ("openai/gpt-4o", "litellm", ("litellm", "gpt-4o"), "prefix"),
    ],
)  # fmt: skip
def test_resolution(requested: str, source: str | None, served: tuple[str, str], by: str) -> None:
    resolution = CATALOG.resolve(requested, source, PREFERRED)
    assert (resolution.price.source, resolution.price.model_id) == served
    assert resolution.by == by
    assert resolution.requested == requested


@pytest.mark.parametrize(
    ("requested", "source"),
    [
        ("claude-sonnet-4", None),  # undated: not the 20250514 snapshot
        ("gpt-4", None),  # not gpt-4o
        ("gpt-4o-mini-2024", None),  # not gpt-4o-mini
        ("openai/claude-haiku-4-5", None),  # the wrong maker
        ("gpt-4o-mini", "openrouter"),  # only LiteLLM lists it; linking never invents an entry
        ("   ", None),
    ],
)
def test_never_a_different_model(requested: str, source: str | None) -> None:
    with pytest.raises(UnknownModel):
        CATALOG.resolve(requested, source, PREFERRED)


def test_ambiguity_lists_the_candidates() -> None:
    with pytest.raises(AmbiguousModel) as caught:
        CATALOG.resolve("llama-x", None, PREFERRED)
    assert caught.value.status == 409
    # Two platforms, no maker: the plainer id first.
    assert caught.value.extra["candidates"] == [
        {"id": "together_ai/llama-x", "source": "litellm"},
        {"id": "fireworks_ai/llama-x", "source": "litellm"},
    ]


# LiteLLM's view of claude-sonnet-4 (2026-07-24): Anthropic lists it only dated; a cloud, a
# platform and OpenRouter's copy list it bare.
RESOLD = ModelIndex(
    [
        entry(SONNET, "anthropic"),
        entry("vertex_ai/claude-sonnet-4", "vertex_ai-anthropic_models"),
        entry("github_copilot/claude-sonnet-4", "github_copilot"),
        entry("openrouter/anthropic/claude-sonnet-4", "openrouter"),
        entry("cerebras/llama-3.3-70b", "cerebras"),
        entry("gpt-4o", "openai"),
        entry("azure/gpt-4o", "azure"),
    ]
)


def test_a_bare_name_never_lands_silently_on_a_platform_or_a_resellers_copy() -> None:
    with pytest.raises(AmbiguousModel) as several:
        RESOLD.resolve("claude-sonnet-4", None, ("litellm",))
    # Ranked: the copy keyed on the maker before the platforms' own offerings.
    assert [c["id"] for c in several.value.extra["candidates"]] == [
        "openrouter/anthropic/claude-sonnet-4",
        "vertex_ai/claude-sonnet-4",
        "github_copilot/claude-sonnet-4",
    ]
    # One match, but only a cloud's: a 409 naming it, not a silent Cerebras price.
    with pytest.raises(AmbiguousModel, match="no maker's own model") as one:
        RESOLD.resolve("llama-3.3-70b")
    assert one.value.extra["candidates"] == [{"id": "cerebras/llama-3.3-70b", "source": "litellm"}]


def test_a_platform_the_request_names_is_not_a_silent_landing() -> None:
    assert RESOLD.resolve("AZURE/gpt-4o").price.model_id == "azure/gpt-4o"
    assert RESOLD.resolve("Cerebras/Llama-3.3-70b").price.model_id == "cerebras/llama-3.3-70b"
    assert RESOLD.resolve("GPT-4o").price.model_id == "gpt-4o"


def test_an_unknown_name_suggests_near_served_ids() -> None:
    with pytest.raises(UnknownModel) as caught:
        RESOLD.resolve("claude-sonet-4")
    suggested = [s["id"] for s in caught.value.extra["suggestions"]]
    assert len(suggested) <= 5 and suggested[0] == "openrouter/anthropic/claude-sonnet-4"
    assert set(suggested) >= {"vertex_ai/claude-sonnet-4", "github_copilot/claude-sonnet-4"}
    assert "did you mean" in caught.value.detail and caught.value.extra["field"] == "model"
    # A name holding the request: the maker's own entry first.
    assert [s["id"] for s in RESOLD.suggestions("gpt-4")] == ["gpt-4o", "azure/gpt-4o"]
    assert RESOLD.suggestions("gpt4o")[0]["id"] == "gpt-4o"
    # Nothing near, and nothing looked for in a name no typo makes: no suggestion, quickly.
    assert RESOLD.suggestions("zzz-unheard-of") == []
    assert RESOLD.suggestions("x" * 100_000) == []


def test_unknown_in_the_asked_source_names_the_sources_that_list_it() -> None:
    index = ModelIndex([entry("only/here", "acme", "openrouter")])
    with pytest.raises(UnknownModel, match="listed by: openrouter"):
        index.resolve("only/here", "litellm")


def test_linked_entries_of_a_model() -> None:
    served = CATALOG.resolve("gpt-4o", None, PREFERRED).price
    linked = {(p.source, p.model_id) for p in CATALOG.linked(served)}
    assert linked == {("litellm", "openrouter/openai/gpt-4o"), ("openrouter", "openai/gpt-4o")}


def test_price_differences_field_values_and_ratio() -> None:
    a = price("x/m", "0.00000028", "0.00000042", cache_read_per_token=Decimal("0.000000028"))
    b = price("x/m", "0.0000002574", "0.0000010287", source="openrouter")
    found = {d.field: (d.a, d.b, d.ratio) for d in price_differences(a, b)}
    # cache_read: only one side gives it, which is missing data, not a disagreement
    assert found == {
        "input_per_token": ("0.00000028", "0.0000002574", "0.919286"),
        "output_per_token": ("0.00000042", "0.0000010287", "2.44929"),
    }


def test_status_dispute_and_zero_base() -> None:
    free = price("r/auto", "0", "0", status="free")
    dynamic = price("r/auto", None, None, status="dynamic", source="openrouter")
    unpriced = price("r/auto", None, None, status="unpriced", source="openrouter")
    paid = price("r/auto", "0.000001", "0", source="openrouter")
    assert [(d.field, d.a, d.b) for d in price_differences(free, dynamic)] == [
        ("status", "free", "dynamic")
    ]
    assert price_differences(free, unpriced) == ()
    zero_base = [d for d in price_differences(free, paid) if d.field == "input_per_token"]
    assert zero_base[0].ratio is None


def test_disagreements_pair_sources_not_offerings_within_one() -> None:
    index = ModelIndex(
        [
            entry("gemini-2.5-pro", "vertex_ai-language-models", input_price="0.000001"),
            entry("gemini/gemini-2.5-pro", "gemini", input_price="0.000002"),
            entry("google/gemini-2.5-pro", "google", "openrouter", input_price="0.000001"),
        ]
    )
    pairs = {(d.a.model_id, d.b.model_id) for d in index.disagreements()}
    assert pairs == {("gemini/gemini-2.5-pro", "google/gemini-2.5-pro")}
    assert [m.label for m in index.linked_models()] == ["google/gemini-2-5-pro"]


def test_real_feeds_links_and_disagreements(feed_data: Path) -> None:
    """The figures the README quotes: 13 ids in both feeds, 5 disagree; 82 of LiteLLM's 96
    openrouter/ copies match an OpenRouter id, 39 of them disagree."""
    litellm = parse_feed(
        Source("litellm", "file:///x", "litellm"), (feed_data / LITELLM_NEW).read_bytes()
    ).models
    openrouter = parse_feed(
        Source("openrouter", "file:///x", "openrouter"), (feed_data / OPENROUTER).read_bytes()
    ).models
    index = ModelIndex([*litellm.values(), *openrouter.values()])
    disagreeing = {(d.a.model_id, d.b.model_id) for d in index.disagreements()}
    both = set(litellm) & set(openrouter)
    assert len(both) == 13
    assert sum((mid, mid) in disagreeing for mid in both) == 5
    assert ("deepseek/deepseek-chat", "deepseek/deepseek-chat") in disagreeing
    copies = [mid for mid in litellm if mid.startswith("openrouter/")]
    matched = [mid for mid in copies if mid.removeprefix("openrouter/") in openrouter]
    assert (len(copies), len(matched)) == (96, 82)
    assert sum((mid, mid.removeprefix("openrouter/")) in disagreeing for mid in matched) == 39
    # Every copy is linked to the OpenRouter id it copies (one key for both).
    assert all(
        link_key(litellm[mid]) == link_key(openrouter[mid.removeprefix("openrouter/")])
        for mid in matched
    )
    # Aliases link to their targets: the haiku alias is the same model as LiteLLM's entry.
    alias = openrouter["~anthropic/claude-haiku-latest"]
    assert alias.alias_target == "anthropic/claude-haiku-4.5"
    assert litellm["claude-haiku-4-5"] in index.linked(alias)


def test_agreement_counts_the_sources_stating_each_price_and_those_agreeing_exactly() -> None:
    mine = price("openai/gpt-4o", "0.0000025", "0.00001", source="genai_prices", provider="openai")
    linked = [
        # Equal as a Decimal; LiteLLM's maker's own entry speaks for it, not Azure's resale.
        price("gpt-4o", "0.00000250", "0.00001", source="litellm", provider="openai"),
        price("azure/gpt-4o", "0.000005", "0.00001", source="litellm", provider="azure"),
        price("openai/gpt-4o", "0.000003", None, source="openrouter", provider="openai"),
    ]
    found = {name: a.to_json() for name, a in price_agreement(mine, linked).items()}
    assert found == {
        "input_per_token": {
            "agree": 2,
            "of": 3,
            "sources": {"genai_prices": "0.0000025", "litellm": "0.0000025",
                        "openrouter": "0.000003"},
        },
        # OpenRouter states no output price: missing, not counted against.
        "output_per_token": {
            "agree": 2,
            "of": 2,
            "sources": {"genai_prices": "0.00001", "litellm": "0.00001"},
        },
    }  # fmt: skip
    # A price this entry does not state gets no agreement; alone, an entry agrees with itself.
    assert set(price_agreement(price("x", None, "1"), [])) == {"output_per_token"}
    assert price_agreement(price("x", "1", None), [])["input_per_token"].to_json() == {
        "agree": 1, "of": 1, "sources": {"litellm": "1"}
    }  # fmt: skip

"""Which served entry a typed id names, by the `match` clauses a source states (genai-prices).

Per source, the providers in the file's order, each with its `model_match` clause, its
fallback providers and its models in the file's order. `find` follows genai-prices 0.2.3's
lookup (`DataSnapshot.find_provider_model`, `Provider.find_model`), lower-cased throughout:
1. the first provider whose `model_match` claims the whole id; where that finds nothing, a
   provider named as the id's prefix (`openai/gpt-4o-2024-08-06`: ratecard's addition, as
   people type genai-prices' own served ids), its models tried with the rest;
2. in that provider, the first model whose clause matches; else, one step, the models of its
   fallback providers (Azure offers OpenAI's and Anthropic's);
3. the same again with a compact date written with dashes (`-20251211` -> `-2025-12-11`).
Built once per catalog version (lazily, on the first id the other rules do not resolve).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ratecard.catalog.match_clauses import compact_date_variant, matcher
from ratecard.catalog.model import ModelPrice
from ratecard.vocabulary import MODEL_TEXT_LIMITS


@dataclass
class _Provider:
    provider_id: str
    claims: Callable[[str], bool] | None
    fallbacks: tuple[str, ...]
    models: list[tuple[tuple[int, int], Callable[[str], bool], ModelPrice]] = field(
        default_factory=list
    )

    def first(self, ref: str) -> ModelPrice | None:
        return next((price for _, matches, price in self.models if matches(ref)), None)


@dataclass
class SourceClauses:
    """One source's clauses, providers and models in the file's order."""

    providers: dict[str, _Provider]
    order: list[_Provider]

    @classmethod
    def of(cls, entries: Iterable[ModelPrice]) -> SourceClauses:
        providers: dict[str, _Provider] = {}
        places: dict[str, int] = {}
        for price in entries:
            answers = price.answers_to
            if answers is None or price.provider is None:
                continue
            provider = providers.get(price.provider)
            if provider is None:
                claims = matcher(answers.provider_clause) if answers.provider_clause else None
                provider = _Provider(price.provider, claims, answers.fallback_providers)
                providers[price.provider] = provider
                places[price.provider] = answers.place[0]
            provider.models.append((answers.place, matcher(answers.clause), price))
        for provider in providers.values():
            provider.models.sort(key=lambda m: m[0])
        order = sorted(providers.values(), key=lambda p: places[p.provider_id])
        return cls(providers, order)

    def find(self, text: str) -> ModelPrice | None:
        ref = text.strip().lower()
        if len(ref) > MODEL_TEXT_LIMITS["model_id"]:
            return None  # longer than any id stored: no regex is ever run on such a text
        for attempt in dict.fromkeys((ref, compact_date_variant(ref))):
            found = self._find(attempt)
            if found is not None:
                return found
        return None

    def _find(self, ref: str) -> ModelPrice | None:
        claimed = next((p for p in self.order if p.claims is not None and p.claims(ref)), None)
        found = self._in_provider(claimed, ref) if claimed is not None else None
        first, slash, rest = ref.partition("/")
        named = self.providers.get(first) if slash and rest else None
        if found is None and named is not None:
            found = self._in_provider(named, rest)
        return found

    def _in_provider(self, provider: _Provider, ref: str) -> ModelPrice | None:
        found = provider.first(ref)
        for fallback in provider.fallbacks:
            if found is not None:
                break
            other = self.providers.get(fallback)
            found = other.first(ref) if other is not None else None
        return found


def clauses_by_source(entries: Iterable[ModelPrice]) -> dict[str, SourceClauses]:
    """The clause lookups of every source whose entries state clauses."""
    by_source: dict[str, list[ModelPrice]] = {}
    for price in entries:
        if price.answers_to is not None:
            by_source.setdefault(price.source, []).append(price)
    return {source: SourceClauses.of(prices) for source, prices in by_source.items()}

"""Model identity: one provider vocabulary, entries linked across sources, the resolver.

Pure functions over `ModelPrice` records (no Flask, no database): the catalog snapshot builds
one `ModelIndex` per catalog version and every route or command that takes a model asks it.

Vocabulary. LiteLLM names the platform that bills a model (`gemini`, `vertex_ai-language-models`,
`text-completion-openai`, `azure`, `bedrock`...); OpenRouter prefixes its ids with the model's
maker (`google/`, `openai/`, `x-ai/`, `mistralai/`...). `canonical_provider` maps both onto one
name per company (`google`, `openai`, `xai`, `mistral`...); platforms that resell other makers'
models (azure, bedrock, fireworks_ai...) keep their own name, so their offerings, priced by them,
are never merged with the maker's.

Linking. Every entry gets a link key `(canonical provider, name)`:
- its provider's own prefix is dropped (`gemini/gemini-2.5-pro` -> `gemini-2.5-pro`);
- an OpenRouter id, and LiteLLM's `openrouter/<maker>/<name>` copies, key on their maker;
- an OpenRouter `~maker/x-latest` alias keys on its `alias_target` (it *is* that model today);
- the name is compared without case and with `4.5` == `4-5` (OpenRouter writes versions with a
  dot, Anthropic with a dash). Nothing else is folded: a different version, size, date or
  variant suffix (`-20250514`, `-mini`, `:free`) is a different model and never links.

Resolution (`ModelIndex.resolve`), first rule that answers wins:
  exact id -> case and surrounding spaces -> match (with `source` naming a source that states
  `match` clauses, genai-prices: the model whose clause claims the id, `catalog.clause_index`)
  -> provider-prefix variants (a prefix the feed does not use, or one it uses that the request
  left out) -> linked (another source's id for the model) -> match again, without `source`
  (the preferred source's clauses first), before an UnknownModel.
Past the exact id, a name never lands silently on a platform's or a reseller's offering: it
answers with the maker's own entry (billed by the company that makes the model, not a cloud
reselling it, not LiteLLM's `openrouter/` copy) when the matches hold exactly one such model, or
with the platform's entry when the request named that platform (`AZURE/gpt-4o`). Anything else
is an `AmbiguousModel` (409) whose candidates are ranked, the maker's entries first; several
entries of the one model chosen pick the preferred source, then the plainest id. An unknown
name is an `UnknownModel` (404) suggesting up to five near names.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Context
from typing import Any, Literal

from ratecard.catalog.clause_index import SourceClauses, clauses_by_source
from ratecard.catalog.model import TOKEN_PRICE_FIELDS, ModelPrice, decimal_text
from ratecard.errors import Conflict, NotFound
from ratecard.vocabulary import PriceStatus

ResolvedBy = Literal["exact", "case", "match", "prefix", "linked"]
LinkKey = tuple[str, str]

# Raw provider names (LiteLLM `litellm_provider` values, OpenRouter id prefixes) -> one
# canonical name per company. Names not listed are canonical already (lower-cased).
PROVIDER_ALIASES: Mapping[str, str] = {
    # Google: the Gemini API, Vertex AI's Google models, and the retired PaLM API.
    "gemini": "google",
    "vertex_ai": "google",
    "vertex_ai-language-models": "google",
    "vertex_ai-text-models": "google",
    "vertex_ai-chat-models": "google",
    "vertex_ai-code-text-models": "google",
    "vertex_ai-code-chat-models": "google",
    "vertex_ai-embedding-models": "google",
    "vertex_ai-image-models": "google",
    "vertex_ai-video-models": "google",
    "vertex_ai-vision-models": "google",
    "palm": "google",
    "text-completion-openai": "openai",
    "mistralai": "mistral",
    "codestral": "mistral",
    "text-completion-codestral": "mistral",
    "x-ai": "xai",
    "moonshotai": "moonshot",
    "z-ai": "zai",
    "meta-llama": "meta",
    "meta_llama": "meta",
    "dashscope": "qwen",
    "amazon_nova": "amazon",
    "cohere_chat": "cohere",
    "text-completion-inception": "inception",
}

# LiteLLM's platform for OpenRouter: its ids are `openrouter/<maker>/<name>` copies.
OPENROUTER = "openrouter"

# How many near names a 404 suggests, and the longest request they are looked for (a longer
# one is no typo of a model id: the search would only cost time).
SUGGESTIONS = 5
_LONGEST_ASKED = 128

_WORD_BREAKS = re.compile(r"[^a-z0-9]+")
# Marks a name's first three letters in the word index (no word holds it).
_START = "^"
_VERSION_DOT = re.compile(r"(?<=\d)\.(?=\d)")
# A ratio is a comparison, not money: six significant digits say enough.
_RATIO = Context(prec=6)


# The catalog's few dozen provider spellings (and the prefixes of the ids under them) are met
# thousands of times when a version's index is built, which every start waits for; bounded,
# because requests pass names of their own.
_NAMES_KEPT = 1024


@functools.lru_cache(maxsize=_NAMES_KEPT)
def canonical_provider(name: str | None) -> str | None:
    """Return the one name ratecard uses for a provider however a feed spells it."""
    if name is None or not name.strip():
        return None
    raw = name.strip().lower()
    if raw in PROVIDER_ALIASES:
        return PROVIDER_ALIASES[raw]
    # Vertex AI hosting another maker's models (vertex_ai-anthropic_models...) is a platform.
    if raw.startswith("vertex_ai-"):
        return "vertex_ai"
    return raw


def normalize_name(name: str) -> str:
    """Return the form names are compared in: lower case, no surrounding spaces, `4.5` as `4-5`."""
    return _VERSION_DOT.sub("-", name.strip().lower())


@functools.lru_cache(maxsize=_NAMES_KEPT)
def _is_own_prefix(prefix: str, provider: str | None) -> bool:
    """Whether an id's first segment names the entry's own provider (`gemini/` for gemini)."""
    if provider is None:
        return False
    raw = provider.lower()
    segment = prefix.lower()
    return segment in (raw, raw.split("-", 1)[0]) or canonical_provider(
        segment
    ) == canonical_provider(raw)


def split_id(model_id: str, provider: str | None) -> tuple[str | None, str]:
    """Return (canonical provider, name) of an id: the provider's own prefix dropped.

    An OpenRouter-style id (`openai/gpt-4o`, `openrouter/openai/gpt-4o`) names its maker; an
    alias's `~` stays on the name (`~claude-haiku-latest` is not `claude-haiku-latest`).
    """
    text = model_id.strip()
    tilde = "~" if text.startswith("~") else ""
    text = text.removeprefix("~")
    canonical = canonical_provider(provider)
    first, slash, rest = text.partition("/")
    if slash and rest and _is_own_prefix(first, provider):
        text = rest
    if canonical == OPENROUTER and "/" in text:
        maker, _, name = text.partition("/")
        return canonical_provider(maker), tilde + name
    return canonical, tilde + text


def link_key(price: ModelPrice, split: tuple[str | None, str] | None = None) -> LinkKey | None:
    """Return the key that links this entry to the same model in other sources (or None);
    `split` is `split_id` of its id when the caller has it already."""
    if price.alias_target:
        # OpenRouter's slug names its maker, as the alias's own id does.
        maker, _, name = price.alias_target.strip().partition("/")
        if name:
            return (canonical_provider(maker) or maker.lower(), normalize_name(name))
    provider, name = split if split is not None else split_id(price.model_id, price.provider)
    if provider is None or not name:
        return None
    return (provider, normalize_name(name))


def is_copy(price: ModelPrice) -> bool:
    """Whether the entry is a reseller's copy of another source's model (LiteLLM `openrouter/`)."""
    return canonical_provider(price.provider) == OPENROUTER and price.model_id.count("/") >= 2


def is_makers_own(price: ModelPrice) -> bool:
    """Whether the entry is billed by the company that makes the model (`claude-sonnet-4-5` of
    anthropic; not `vertex_ai/claude-sonnet-4`, not LiteLLM's `openrouter/anthropic/...` copy)."""
    return not is_copy(price) and canonical_provider(price.provider) in _MAKERS


# --- the resolver ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    """The entry a request resolved to, what was asked, and which rule answered."""

    price: ModelPrice
    requested: str
    by: ResolvedBy

    def to_json(self) -> dict[str, str]:
        return {"requested": self.requested, "by": self.by}


class UnknownModel(NotFound):
    """No served entry is this model (in the source asked for, if any)."""


class AmbiguousModel(Conflict):
    """The request does not name one model of its maker; `candidates` lists what it matches,
    the maker's own entries first (then its copies, then the platforms'), in the order given."""

    def __init__(self, requested: str, candidates: Sequence[ModelPrice]) -> None:
        listed = list(dict.fromkeys((p.model_id, p.source) for p in candidates))
        several = len({mid for mid, _ in listed}) > 1
        detail = (
            f"{requested!r} matches several models; ask for one of the candidates by its id"
            if several
            else f"{requested!r} is no maker's own model; ask for the candidate by its id"
        )
        super().__init__(
            detail,
            field="model",
            candidates=[{"id": mid, "source": source} for mid, source in listed],
        )
        self.candidates = listed


@dataclass(frozen=True)
class LinkedModel:
    """Every entry of one model across sources (and across ids within a source)."""

    key: LinkKey
    entries: tuple[ModelPrice, ...]

    @property
    def label(self) -> str:
        return f"{self.key[0]}/{self.key[1]}"

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(p.source for p in self.entries)


@dataclass(frozen=True)
class FieldDifference:
    """One field two linked entries both give, with different values (decimal text or status)."""

    field: str
    a: str
    b: str
    ratio: str | None = None  # b / a for prices, six significant digits; None for a zero a


@dataclass(frozen=True)
class Disagreement:
    """Two entries of one linked model, from different sources, whose prices differ, and per
    differing price how many of the sources stating it side with each: (a, b, of)."""

    model: str
    a: ModelPrice
    b: ModelPrice
    differences: tuple[FieldDifference, ...]
    sides: Mapping[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def support(self) -> float:
        """The best-supported side's share of the sources, for the price least agreed on: 0.5
        for one source against one, 2/3 where a third sides with one of them."""
        return min((max(a, b) / of for a, b, of in self.sides.values()), default=1.0)


def price_differences(a: ModelPrice, b: ModelPrice) -> tuple[FieldDifference, ...]:
    """Return the per-token prices both entries give that differ, and a status dispute.

    A price one side lacks is missing data, not a disagreement, and so is an `unpriced` status;
    `free` against `dynamic` or `priced` is one (LiteLLM prices openrouter/auto at 0, OpenRouter
    says the price is decided per request). Units and tiers are not compared: the feeds name
    them differently (`web_search` vs `web_search_low`).
    """
    out = []
    if a.status != b.status and PriceStatus.UNPRICED not in (a.status, b.status):
        out.append(FieldDifference("status", a.status, b.status))
    for name in TOKEN_PRICE_FIELDS:
        left, right = getattr(a, name), getattr(b, name)
        if left is not None and right is not None and left != right:
            ratio = None if left == 0 else decimal_text(_RATIO.divide(right, left))
            out.append(FieldDifference(name, decimal_text(left), decimal_text(right), ratio))
    return tuple(out)


@dataclass(frozen=True)
class PriceAgreement:
    """How many sources state one price of a model, and how many of them state it exactly as
    the entry read does (itself included): `agree` of `of`, each source's value as text."""

    agree: int
    of: int
    sources: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"agree": self.agree, "of": self.of, "sources": dict(self.sources)}


def price_agreement(price: ModelPrice, linked: Iterable[ModelPrice]) -> dict[str, PriceAgreement]:
    """For each per-token price `price` states, which linked sources state it too and how many
    agree exactly (Decimal equality: 0.0000025 == 0.00000250).

    One entry per source: a source listing the model under several ids (`gpt-4o` and
    `azure/gpt-4o`) speaks through its entry billed by the same company as `price`, else the
    maker's own, else the same id, else its first by id (a cloud's resale price is not the
    maker's). A source that does not state a price is not counted for it (missing data, not a
    disagreement), as in price_differences.
    """
    company = canonical_provider(price.provider)

    def rank(entry: ModelPrice) -> tuple[bool, bool, bool, str]:
        return (
            canonical_provider(entry.provider) != company,
            not is_makers_own(entry),
            entry.model_id != price.model_id,
            entry.model_id,
        )

    voices: dict[str, ModelPrice] = {price.source: price}
    for other in sorted(linked, key=rank):
        voices.setdefault(other.source, other)
    out: dict[str, PriceAgreement] = {}
    for name in TOKEN_PRICE_FIELDS:
        mine = getattr(price, name)
        if mine is None:
            continue
        stated = {
            source: value
            for source, entry in sorted(voices.items())
            if (value := getattr(entry, name)) is not None
        }
        out[name] = PriceAgreement(
            agree=sum(1 for value in stated.values() if value == mine),
            of=len(stated),
            sources={source: decimal_text(value) for source, value in stated.items()},
        )
    return out


@dataclass
class ModelIndex:
    """Lookups over one catalog's entries: exact, case, prefix variants, linked models."""

    entries: Sequence[ModelPrice]
    by_id: dict[str, list[ModelPrice]] = field(default_factory=dict, init=False)
    by_lower: dict[str, list[ModelPrice]] = field(default_factory=dict, init=False)
    by_name: dict[str, list[ModelPrice]] = field(default_factory=dict, init=False)
    by_key: dict[LinkKey, list[ModelPrice]] = field(default_factory=dict, init=False)
    key_of: dict[tuple[str, str], LinkKey] = field(default_factory=dict, init=False)
    # Computed on first use, then kept: the entries never change after construction (one
    # index per catalog version), and GET /api/disagreements asks for both on every request.
    _linked_models: list[LinkedModel] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _disagreements: list[Disagreement] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _search_index: _Search | None = field(default=None, init=False, repr=False, compare=False)
    _clauses: dict[str, SourceClauses] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for price in self.entries:
            self.by_id.setdefault(price.model_id, []).append(price)
            self.by_lower.setdefault(price.model_id.strip().lower(), []).append(price)
            split = split_id(price.model_id, price.provider)
            self.by_name.setdefault(split[1].lower(), []).append(price)
            key = link_key(price, split)
            if key is not None:
                self.by_key.setdefault(key, []).append(price)
                self.key_of[(price.source, price.model_id)] = key

    # -- linked models ----------------------------------------------------------------------

    def linked(self, price: ModelPrice) -> tuple[ModelPrice, ...]:
        """Return the other entries of the same model (this one excluded), sources in order."""
        key = self.key_of.get((price.source, price.model_id))
        if key is None:
            return ()
        return tuple(
            sorted(
                (p for p in self.by_key[key] if p is not price),
                key=lambda p: (p.source, p.model_id),
            )
        )

    def linked_models(self) -> list[LinkedModel]:
        """Return every model listed by more than one source, by key."""
        if self._linked_models is None:
            self._linked_models = [
                LinkedModel(key, tuple(sorted(group, key=lambda p: (p.source, p.model_id))))
                for key, group in sorted(self.by_key.items())
                if len({p.source for p in group}) > 1
            ]
        return list(self._linked_models)

    def disagreements(self) -> list[Disagreement]:
        """Return each pair of linked entries from different sources whose prices differ."""
        if self._disagreements is None:
            self._disagreements = self._find_disagreements()
        return list(self._disagreements)

    def _find_disagreements(self) -> list[Disagreement]:
        """Every disagreeing pair, the most contested first (the least `support`; a stable
        sort: pairs alike keep the linked models' order)."""
        out = []
        for model in self.linked_models():
            entries = model.entries
            for i, a in enumerate(entries):
                for b in entries[i + 1 :]:
                    if a.source == b.source:
                        # Two offerings within one source (gemini/ vs vertex): not a dispute.
                        continue
                    differences = price_differences(a, b)
                    if differences:
                        of_a = price_agreement(a, self.linked(a))
                        of_b = price_agreement(b, self.linked(b))
                        sides = {
                            d.field: (of_a[d.field].agree, of_b[d.field].agree, of_a[d.field].of)
                            for d in differences
                            if d.field in of_a and d.field in of_b
                        }
                        out.append(Disagreement(model.label, a, b, differences, sides))
        return sorted(out, key=lambda found: found.support)

    # -- resolution -------------------------------------------------------------------------

    def resolve(
        self, requested: str, source: str | None = None, preferred: Sequence[str] = ()
    ) -> Resolution:
        """Return the entry `requested` names (in `source` if given); see the module docstring."""
        rank = {name: i for i, name in enumerate(preferred)}

        def in_source(prices: Iterable[ModelPrice]) -> list[ModelPrice]:
            return [p for p in prices if source is None or p.source == source]

        exact = in_source(self.by_id.get(requested, ()))
        if exact:
            return Resolution(self._pick(exact, rank), requested, "exact")
        text = requested.strip()
        if not text:
            raise UnknownModel("the model id is empty", field="model")
        by_case = in_source(self.by_lower.get(text.lower(), ()))
        if by_case:
            return Resolution(self._choose(requested, by_case, rank), requested, "case")
        # A source that says which ids its models answer to (genai-prices' clauses) is taken
        # at its word when the request names it; the other sources never consult clauses.
        clauses = self._clause_index()
        if source is not None and source in clauses:
            claimed = clauses[source].find(text)
            if claimed is not None:
                return Resolution(claimed, requested, "match")
        by_prefix = in_source(self._prefix_variants(text))
        if by_prefix:
            return Resolution(self._choose(requested, by_prefix, rank), requested, "prefix")
        by_link = in_source(self._linked_candidates(text))
        if by_link:
            return Resolution(self._choose(requested, by_link, rank), requested, "linked")
        if source is None:
            # Named by no source's id, prefix or link: a clause's claim, sources in the
            # preferred order, is the last word before a 404 (so no id the other rules
            # resolve ever answers differently because a clause source was added).
            ordered = sorted(clauses, key=lambda name: (rank.get(name, len(rank)), name))
            for name in ordered:
                claimed = clauses[name].find(text)
                if claimed is not None:
                    return Resolution(claimed, requested, "match")
        raise self._unknown(requested, source, in_source)

    def _clause_index(self) -> dict[str, SourceClauses]:
        # Built on the first id past the exact and case rules, then kept (one per version).
        if self._clauses is None:
            self._clauses = clauses_by_source(self.entries)
        return self._clauses

    def _prefix_variants(self, text: str) -> list[ModelPrice]:
        """Entries whose id is `text` with the provider prefix added or taken away."""
        first, slash, rest = text.partition("/")
        lowered = text.lower()
        found = [p for p in self.by_name.get(lowered, ()) if p.model_id.lower() != lowered]
        if slash and rest:
            # A prefix naming the maker must agree with the entry's provider: `openai/claude-x`
            # never reaches Anthropic's claude-x.
            wanted = canonical_provider(first)
            found += [
                p
                for p in self.by_name.get(rest.lower(), ())
                if wanted in (canonical_provider(p.provider), split_id(p.model_id, p.provider)[0])
            ]
        return found

    def _linked_candidates(self, text: str) -> list[ModelPrice]:
        """Entries of the models `text` names in any source (by id, case, prefix or its key)."""
        keys: set[LinkKey] = set()
        first, slash, rest = text.partition("/")
        if slash and rest:
            keys.add((canonical_provider(first) or first.lower(), normalize_name(rest)))
        named = self.by_lower.get(text.lower(), []) + self._prefix_variants(text)
        for price in named:
            key = self.key_of.get((price.source, price.model_id))
            if key is not None:
                keys.add(key)
        return [p for key in keys for p in self.by_key.get(key, ())]

    def _choose(
        self, requested: str, candidates: list[ModelPrice], rank: Mapping[str, int]
    ) -> ModelPrice:
        """The entry of the one model the request names: the maker's own, or the platform's the
        request named; else AmbiguousModel, the candidates ranked (see the module docstring)."""
        first, slash, _ = requested.strip().partition("/")
        named = canonical_provider(first) if slash else None
        allowed = [
            p
            for p in candidates
            if is_makers_own(p) or (named is not None and canonical_provider(p.provider) == named)
        ]
        if len({self._model_of(p) for p in allowed}) == 1:
            return self._pick(allowed, rank)
        raise AmbiguousModel(requested, self._ranked(candidates, rank))

    def _model_of(self, price: ModelPrice) -> LinkKey:
        return self.key_of.get((price.source, price.model_id), ("", price.model_id))

    def _ranked(
        self, candidates: Iterable[ModelPrice], rank: Mapping[str, int]
    ) -> list[ModelPrice]:
        """The maker's own entries first, then copies keyed on a maker, then the platforms'."""
        return sorted(
            candidates,
            key=lambda p: (
                self._standing(p),
                rank.get(p.source, len(rank)),
                len(p.model_id),
                p.model_id,
                p.source,
            ),
        )

    def _standing(self, price: ModelPrice) -> int:
        """0: the maker's own entry; 1: a copy keyed on the maker; 2: a platform's offering."""
        if is_makers_own(price):
            return 0
        return 1 if self._model_of(price)[0] in _MAKERS else 2

    @staticmethod
    def _pick(candidates: Sequence[ModelPrice], rank: Mapping[str, int]) -> ModelPrice:
        """An original entry before a copy, then the preferred source's, then the plainest id."""
        return min(
            candidates,
            key=lambda p: (
                # A reseller's copy is second-hand: the source that owns the id answers first.
                is_copy(p),
                rank.get(p.source, len(rank)),
                p.source,
                len(p.model_id),
                p.model_id,
            ),
        )

    def _unknown(
        self,
        requested: str,
        source: str | None,
        in_source: Callable[[Iterable[ModelPrice]], list[ModelPrice]],
    ) -> UnknownModel:
        if source is not None:
            elsewhere = sorted({p.source for p in self.by_id.get(requested, ())})
            if elsewhere:
                return UnknownModel(
                    f"source {source!r} does not list {requested!r} "
                    f"(listed by: {', '.join(elsewhere)})"
                )
        near = self.suggestions(requested, in_source)
        return UnknownModel(
            f"no model {requested!r} is served"
            + (f"; did you mean {near[0]['id']!r}?" if near else ""),
            field="model",
            suggestions=near,
        )

    def suggestions(
        self,
        requested: str,
        in_source: Callable[[Iterable[ModelPrice]], list[ModelPrice]] = list,
        limit: int = SUGGESTIONS,
    ) -> list[dict[str, str]]:
        """Up to `limit` served ids near `requested`: the ids containing it (the shortest, the
        maker's first), then the closest spellings of its name (difflib's ratio >= 0.75, the
        provider prefixes left out on both sides)."""
        text = normalize_name(requested)[:_LONGEST_ASKED]
        if not text:
            return []
        search = self._search()
        entries = in_source(p for name, p in search.ids if text in name)
        entries.sort(key=lambda p: (self._standing(p), len(p.model_id), p.model_id, p.source))
        if len(entries) < limit:
            wanted = text.rpartition("/")[2]
            # Spellings are compared only with the names sharing a word with it or beginning
            # alike: difflib over every name cost a 404 ~18 ms, a cheap way to load an instance.
            keys = [*_WORD_BREAKS.split(wanted), _START + wanted[:3]]
            alike = {n for key in keys for n in search.by_word.get(key, ())}
            close = difflib.get_close_matches(wanted, alike, n=limit, cutoff=0.75)
            rank = {name: i for i, name in enumerate(close)}
            near = [p for name in close for p in search.by_name[name]]
            near.sort(key=lambda p: (rank[search.name_of[id(p)]], self._standing(p)))
            entries += in_source(near)
        ids = dict.fromkeys((p.model_id, p.source) for p in entries)
        return [{"id": mid, "source": source} for mid, source in list(ids)[:limit]]

    def _search(self) -> _Search:
        # Built on the first 404, then kept: the entries never change.
        if self._search_index is None:
            self._search_index = _Search.of(self.entries)
        return self._search_index


@dataclass(frozen=True)
class _Search:
    """What near names are looked up in: ids as compared, names without the provider's prefix,
    and those names by the words they are made of."""

    ids: list[tuple[str, ModelPrice]]
    name_of: dict[int, str]
    by_name: dict[str, list[ModelPrice]]
    by_word: dict[str, set[str]]

    @classmethod
    def of(cls, entries: Iterable[ModelPrice]) -> _Search:
        ids: list[tuple[str, ModelPrice]] = []
        name_of: dict[int, str] = {}
        by_name: dict[str, list[ModelPrice]] = {}
        by_word: dict[str, set[str]] = {}
        for price in entries:
            ids.append((normalize_name(price.model_id), price))
            name = normalize_name(split_id(price.model_id, price.provider)[1])
            name_of[id(price)] = name
            by_name.setdefault(name, []).append(price)
            for word in (*_WORD_BREAKS.split(name), _START + name[:3]):
                by_word.setdefault(word, set()).add(name)
        return cls(ids, name_of, by_name, by_word)


# Companies that make models (as opposed to platforms reselling them): an unprefixed name that
# several platforms list resolves to the maker's entry when exactly one maker lists it.
_MAKERS = frozenset(
    {
        "openai",
        "anthropic",
        "google",
        "mistral",
        "xai",
        "deepseek",
        "meta",
        "qwen",
        "moonshot",
        "zai",
        "cohere",
        "perplexity",
        "amazon",
        "minimax",
        "ai21",
        "inception",
        "morph",
        "nvidia",
        "microsoft",
        "xiaomi",
        "openrouter",
    }
)

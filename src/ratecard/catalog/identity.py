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
  exact id -> case and surrounding spaces -> provider-prefix variants (a prefix the feed does not
  use, or one it uses that the request left out) -> linked (another source's id for the model).
Several different models matching one rule is an `AmbiguousModel` (409) with the candidates;
several entries of the *same* linked model pick the preferred source, then the plainest id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Context
from typing import Literal

from ratecard.catalog.model import TOKEN_PRICE_FIELDS, ModelPrice, decimal_text
from ratecard.errors import Conflict, NotFound
from ratecard.vocabulary import PriceStatus

ResolvedBy = Literal["exact", "case", "prefix", "linked"]
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

_VERSION_DOT = re.compile(r"(?<=\d)\.(?=\d)")
# A ratio is a comparison, not money: six significant digits say enough.
_RATIO = Context(prec=6)


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


def link_key(price: ModelPrice) -> LinkKey | None:
    """Return the key that links this entry to the same model in other sources (or None)."""
    if price.alias_target:
        # OpenRouter's slug names its maker, as the alias's own id does.
        maker, _, name = price.alias_target.strip().partition("/")
        if name:
            return (canonical_provider(maker) or maker.lower(), normalize_name(name))
    provider, name = split_id(price.model_id, price.provider)
    if provider is None or not name:
        return None
    return (provider, normalize_name(name))


def is_copy(price: ModelPrice) -> bool:
    """Whether the entry is a reseller's copy of another source's model (LiteLLM `openrouter/`)."""
    return canonical_provider(price.provider) == OPENROUTER and price.model_id.count("/") >= 2


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
    """Several different models match the request; `candidates` lists them."""

    def __init__(self, requested: str, candidates: Sequence[ModelPrice]) -> None:
        listed = sorted({(p.model_id, p.source) for p in candidates})
        super().__init__(
            f"{requested!r} matches several models; ask for one of the candidates by its id",
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
    """Two entries of one linked model, from different sources, whose prices differ."""

    model: str
    a: ModelPrice
    b: ModelPrice
    differences: tuple[FieldDifference, ...]


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

    def __post_init__(self) -> None:
        for price in self.entries:
            self.by_id.setdefault(price.model_id, []).append(price)
            self.by_lower.setdefault(price.model_id.strip().lower(), []).append(price)
            _, name = split_id(price.model_id, price.provider)
            self.by_name.setdefault(name.lower(), []).append(price)
            key = link_key(price)
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
                        out.append(Disagreement(model.label, a, b, differences))
        return out

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
        by_prefix = in_source(self._prefix_variants(text))
        if by_prefix:
            return Resolution(self._choose(requested, by_prefix, rank), requested, "prefix")
        by_link = in_source(self._linked_candidates(text))
        if by_link:
            return Resolution(self._choose(requested, by_link, rank), requested, "linked")
        raise self._unknown(requested, source)

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
        """One entry, unless the candidates are different models (then AmbiguousModel)."""
        models = {self.key_of.get((p.source, p.model_id), ("", p.model_id)) for p in candidates}
        if len(models) > 1:
            # A maker's own entries win over the platforms reselling the same name
            # (`claude-haiku-4.5`: OpenRouter's anthropic/ entry, not github_copilot/).
            makers = {k for k in models if k[0] in _MAKERS and "/" not in k[1]}
            if len(makers) != 1:
                raise AmbiguousModel(requested, candidates)
            (only,) = makers
            candidates = [p for p in candidates if self.key_of.get((p.source, p.model_id)) == only]
        return self._pick(candidates, rank)

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

    def _unknown(self, requested: str, source: str | None) -> UnknownModel:
        if source is not None:
            elsewhere = sorted({p.source for p in self.by_id.get(requested, ())})
            if elsewhere:
                return UnknownModel(
                    f"source {source!r} does not list {requested!r} "
                    f"(listed by: {', '.join(elsewhere)})"
                )
        return UnknownModel(f"no model {requested!r} is served")


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

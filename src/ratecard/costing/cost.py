"""The exact cost of one request: every quantity of a Usage at the price its source bills it.

`price_usage` applies the model's tiers, service-tier variants, time windows, regional uplift
and provider rules (docs/cost-semantics.md), in Decimal, never rounded; a needed price the
model lacks raises NotPriceable naming it.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, NamedTuple, NoReturn

from ratecard.catalog.model import (
    PRICE_FIELDS,
    ModelPrice,
    PriceSet,
    Tier,
    TimeWindow,
    dated_in_force,
    forget_when_freed,
)
from ratecard.catalog.money import EXACT
from ratecard.costing.usage import QUANTITY_UNITS, StatedUplift, Usage
from ratecard.vocabulary import UNCHARGEABLE_STATUSES, PricingRule, ServiceTier


class NotPriceable(Exception):
    """The request cannot be priced from this model's data; the reason says which price."""

    def __init__(
        self,
        model_id: str,
        reason: str,
        price: str | None = None,
        quantity: str | None = None,
    ) -> None:
        super().__init__(f"{model_id}: {reason}")
        self.model_id = model_id
        self.reason = reason
        self.price = price  # the missing price's name ("cache_read_per_token"), when one is
        # The Usage quantity that needed it, when one did (or the body's field that stated a
        # multiplier the model lacks: "response.usage.inference_geo").
        self.quantity = quantity


# --- the general engine: every quantity of a Usage -------------------------------------------


class Component(NamedTuple):
    """One line of a breakdown: `quantity` of `name` at `price` per `unit` costs `cost`.

    `name` is a Usage quantity ("cache_read_tokens"), or "regional_uplift" or "speed_uplift"
    (quantity 1, price the multiplier, cost what it adds); `price_name` says which stored
    price was used
    ("input_per_token", "tiers[>200000].input_per_token", "variants.batch.input_per_token",
    "input_per_token/2" where a rule derives it).
    """

    name: str
    quantity: int | Decimal
    unit: str
    price: Decimal
    price_name: str
    cost: Decimal


@dataclass(frozen=True, slots=True)
class Cost:
    """A request's exact total (USD) and the components that add up to it."""

    total: Decimal
    components: tuple[Component, ...]
    service_tier: str = ServiceTier.STANDARD
    tier_above_tokens: int | None = None  # the long-context tier applied, if any
    window: str | None = None  # the time-of-day window applied ("0100-0400"), if any
    region: str | None = None  # the regional uplift applied, if any
    notes: tuple[str, ...] = ()


# A price as found: (value, the name it was found under).
_Found = tuple[Decimal, str]
_TWO = Decimal(2)


def price_usage(
    model: ModelPrice,
    usage: Usage,
    *,
    service_tier: str = ServiceTier.STANDARD,
    region: str | None = None,
    at: datetime | None = None,
    text_priced: frozenset[str] = frozenset(),
    uplifts: Sequence[StatedUplift] = (),
) -> Cost:
    """Price one request's usage exactly, as the model's source says it is billed.

    The rules (docs/cost-semantics.md; checked case by case against LiteLLM 1.110.2 by the
    conformance golden file):
    - Long-context tiers: a tier applies when the prompt (input + cached + written + audio +
      image input tokens) passes its threshold (`>`, or `>=` under the "inclusive" rule), and
      then to every token of the request; crossed tiers apply lowest first, each replacing the
      prices it states ("bands": only the band the prompt falls in, nothing carried over).
    - flex/priority: the variant's price, else the standard one (tiers likewise); a model with
      no prices at all at that tier is not priceable at it (NotPriceable naming the price).
    - batch: the stated batch prices (cache reads at the batch, else the standard cache-read
      price), else, under the "half" rule, half of every standard per-token price; long-context
      tiers do not apply (LiteLLM's batch calculator).
    - A dated price list (genai-prices' start dates): the entry in force at `at` (UTC,
      default now) gives the standard prices, whatever entry the catalog serves.
    - A time window in force at `at` (UTC, default now) replaces the prices it states.
    - Reasoning, audio-output and image-output tokens without their own price are output
      tokens at the output price (under the "output" rule reasoning always is).
    - `text_priced`: token quantities the provider bills at the text input price (Gemini's
      image input): priced so where the model lists no price of their own, with a note.
    - `region`: the model's uplift for it multiplies the whole cost (its own component); one
      the model lacks is a note. `uplifts` (what a body says it was billed with: data
      residency, fast mode) multiply it too, after `region`, and one the model lacks raises
      NotPriceable naming `uplifts.<name>`.
    Every other needed price that the model lacks raises NotPriceable naming it: never 0.
    """
    model = dated_in_force(model, at)
    if model.status in UNCHARGEABLE_STATUSES:
        raise NotPriceable(model.model_id, f"prices are {model.status}, not published per unit")
    tier_name = _SERVICE_TIERS.get(service_tier)
    if tier_name is None:
        raise ValueError(f"service_tier must be one of {', '.join(ServiceTier)}")
    rates = _Rates(model, usage.prompt_tokens, tier_name, at)
    rates.text_priced = text_priced
    parts: list[Component] = []
    for name, quantity in zip(_TOKEN_ORDER, _token_counts(usage), strict=True):
        if quantity:
            price, price_name = rates.token(name)
            parts.append(_component(name, quantity, price, price_name))
    for name, quantity in zip(_UNIT_ORDER, _unit_counts(usage), strict=True):
        if not quantity:
            continue
        if name == "images_out" and usage.pixels and rates.priced_per_pixel():
            continue  # generated images priced by their pixels (the next quantity)
        billed, price, price_name = rates.unit(name, quantity)
        parts.append(_component(name, billed, price, price_name))
    per_request = rates.stated("per_request")
    if per_request is not None:
        requests = max(usage.requests, 1)
        parts.append(_component("requests", requests, *per_request))
    total = Decimal(0)
    for part in parts:
        total = EXACT.add(total, part.cost)
    applied_region = None
    notes: list[str] = list(rates.notes)
    if region is not None:
        factor = model.uplifts.get(region)
        if factor is None:
            notes.append(f"no regional uplift for {region!r}: none applied")
        elif factor != 1:
            total = _uplifted(parts, total, "regional_uplift", region, factor)
            applied_region = region
    for stated in uplifts:
        if stated.kind == "region" and stated.name == region:
            continue  # the request's own `region` said the same: applied once
        factor = model.uplifts.get(stated.name)
        if factor is None:
            raise NotPriceable(
                model.model_id,
                f"{stated.field} says the request was billed with the {stated.name!r} "
                f"multiplier, and the model lists none",
                price=f"uplifts.{stated.name}",
                quantity=stated.field,
            )
        if factor != 1:
            name = _UPLIFT_COMPONENTS.get(stated.kind, f"{stated.kind}_uplift")
            total = _uplifted(parts, total, name, stated.name, factor)
            if stated.kind == "region":
                applied_region = stated.name
    return Cost(
        total=total,
        components=tuple(parts),
        service_tier=tier_name,
        tier_above_tokens=rates.tier_above,
        window=rates.window.label if rates.window is not None else None,
        region=applied_region,
        notes=tuple(notes),
    )


# The cost component of each kind of multiplier a body states (the request's `region` is a
# regional uplift too).
_UPLIFT_COMPONENTS = {"region": "regional_uplift", "speed": "speed_uplift"}


def _uplifted(
    parts: list[Component], total: Decimal, name: str, key: str, factor: Decimal
) -> Decimal:
    """`total` multiplied by `factor`, what that adds put in `parts` as its own component."""
    added = EXACT.subtract(EXACT.multiply(total, factor), total)
    parts.append(Component(name, 1, "multiplier", factor, f"uplifts.{key}", added))
    return EXACT.add(total, added)


def _component(name: str, quantity: int | Decimal, price: Decimal, price_name: str) -> Component:
    return Component(
        name, quantity, QUANTITY_UNITS[name], price, price_name, EXACT.multiply(quantity, price)
    )


_TOKEN_ORDER = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "audio_input_tokens",
    "image_input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "audio_output_tokens",
    "image_output_tokens",
)
_UNIT_ORDER = (
    "images_in",
    "images_out",
    "pixels",
    "seconds",
    "characters",
    "pages",
    "annotation_pages",
    "queries",
    "web_search_calls",
)
_token_counts = attrgetter(*_TOKEN_ORDER)
_unit_counts = attrgetter(*_UNIT_ORDER)
_SERVICE_TIERS = {str(tier): tier for tier in ServiceTier}
# Token quantities priced by a ModelPrice attribute, and those priced by a `units` name.
_TOKEN_ATTRS = {
    "input_tokens": "input_per_token",
    "output_tokens": "output_per_token",
    "cache_read_tokens": "cache_read_per_token",
    "cache_write_tokens": "cache_write_per_token",
}
_TOKEN_UNITS = {
    "cache_write_1h_tokens": "cache_write_1h_per_token",
    "audio_input_tokens": "input_audio_per_token",
    "image_input_tokens": "input_image_per_token",
    "reasoning_tokens": "output_reasoning_per_token",
    "audio_output_tokens": "output_audio_per_token",
    "image_output_tokens": "output_image_per_token",
}
# Every price name the engine bills a quantity at (what a price book's rule may name).
BILLED_PRICES: frozenset[str] = frozenset(
    {
        *_TOKEN_ATTRS.values(),
        *_TOKEN_UNITS.values(),
        "input_per_image",
        "output_per_image",
        "input_per_pixel",
        "output_per_pixel",
        "input_per_second",
        "output_per_second",
        "input_per_character",
        "per_page",
        "annotation_per_page",
        "per_query",
        "web_search",
        "web_search_medium",
        "per_request",
    }
)
# Output-side token quantities that are output tokens when the model has no price of their own.
_AS_OUTPUT = frozenset({"reasoning_tokens", "audio_output_tokens", "image_output_tokens"})


class _Rates:
    """The prices one request is billed at: the model's, under its service tier, the tiers
    its prompt crosses and the window in force. Resolved per name, on demand."""

    __slots__ = (
        "at",
        "found",
        "model",
        "notes",
        "service_tier",
        "text_priced",
        "tier_above",
        "tiers",
        "window",
    )

    def __init__(
        self, model: ModelPrice, prompt_tokens: int, service_tier: ServiceTier, at: datetime | None
    ) -> None:
        self.model = model
        self.service_tier = service_tier
        self.notes: list[str] = []
        self.text_priced: frozenset[str] = frozenset()
        self.window = _window_at(model.windows, at) if model.windows else None
        self.tiers: tuple[Tier, ...] = ()
        self.tier_above: int | None = None
        if service_tier is not ServiceTier.BATCH and model.tiers:
            above = threshold_crossed(*_thresholds(model), prompt_tokens)
            crossed = tuple(
                t
                for t in sorted(model.tiers, key=lambda t: t.above_tokens)
                if above is not None and t.above_tokens <= above
            )
            if model.rules.get(PricingRule.TIERS) == "bands":
                crossed = crossed[-1:]
            self.tiers = crossed
            self.tier_above = above
        window = self.window.label if self.window is not None else None
        self.found = _resolved(model, (service_tier, self.tier_above, window))

    # -- one stored price, through variant, tiers and window -------------------------------

    def stated(self, name: str) -> _Found | None:
        """The price `name` (attribute or units name) in force, or None if none is stated."""
        if name in self.found:
            return self.found[name]
        model = self.model
        variant = model.variants.get(self.service_tier)
        found: _Found | None = None
        if self.window is not None and (value := _get(self.window.prices, name)) is not None:
            found = (value, f"windows[{self.window.label}].{_path(name)}")
        elif self.service_tier is ServiceTier.BATCH:
            found = self._batch(name, variant)
        elif variant is None and self.service_tier is not ServiceTier.STANDARD:
            # Flex or priority without a single price at that tier: the standard prices
            # would be a guess at what a faster or slower tier cost (docs/cost-semantics.md §4).
            found = None
        else:
            bands = model.rules.get(PricingRule.TIERS) == "bands"
            if not (bands and self.tiers):
                found = _first(variant, model, name, "")
            for tier in self.tiers:
                prefix = f"tiers[>{tier.above_tokens}]."
                variant_tier = _tier_of(variant, tier.above_tokens) if variant else None
                hit = _first(variant_tier, tier, name, prefix)
                if hit is not None:
                    found = hit
        self.found[name] = found
        return found

    def _batch(self, name: str, variant: PriceSet | None) -> _Found | None:
        """Batch prices (LiteLLM's batch_cost_calculator): stated, else half, else none."""
        model = self.model
        if variant is not None and variant.input_per_token is not None:
            value = _get(variant, name)
            if value is not None:
                return value, f"variants.batch.{_path(name)}"
            if name == "output_per_token" and model.output_per_token is not None:
                return model.output_per_token / _TWO, "output_per_token/2"
            if name == "cache_read_per_token" and model.cache_read_per_token is None:
                return variant.input_per_token, "variants.batch.input_per_token"
            standard = _get(model, name)
            return (standard, _path(name)) if standard is not None else None
        if model.rules.get(PricingRule.BATCH) != "half":
            return None
        value = _get(model, name)
        if value is None:
            return None
        if name.endswith("_per_token"):
            return value / _TWO, f"{_path(name)}/2"
        return value, _path(name)

    # -- what each quantity is billed at ---------------------------------------------------

    def token(self, quantity: str) -> _Found:
        attr = _TOKEN_ATTRS.get(quantity) or _TOKEN_UNITS[quantity]
        if quantity in _AS_OUTPUT:
            own = (
                None
                if quantity == "reasoning_tokens"
                and self.model.rules.get(PricingRule.REASONING) == "output"
                else self.stated(attr)
            )
            return own if own is not None else self.output()
        if quantity == "output_tokens":
            return self.output()
        found = self.stated(attr)
        if found is None and quantity in self.text_priced:
            found = self.stated("input_per_token")
            if found is not None:
                self.notes.append(
                    f"{quantity} priced at the text input price: the provider bills them as "
                    f"text, and the model lists no {attr} price"
                )
        if found is None:
            self.missing(attr, quantity)
        return found

    def output(self) -> _Found:
        found = self.stated("output_per_token")
        if found is None or found[0] == 0:
            # LiteLLM: an image model with no (or a zero) output price bills output tokens
            # at its output image-token price.
            image = self.stated("output_image_per_token")
            if image is not None:
                return image
        if found is None:
            self.missing("output_per_token", "output_tokens")
        return found

    def unit(self, quantity: str, amount: int | Decimal) -> tuple[int | Decimal, Decimal, str]:
        """(billed quantity, price, price name) for a per-unit quantity."""
        rules = self.model.rules
        if quantity == "images_out":
            # LiteLLM's image-generation calculator bills `input_cost_per_image` per
            # generated image (the map's historical name); other models say output_per_image.
            names = (
                ("input_per_image", "output_per_image")
                if self.model.mode in ("image_generation", "image_edit")
                else ("output_per_image",)
            )
        elif quantity == "seconds":
            # A positive output per-second price wins, else the input one (transcription).
            out = self.stated("output_per_second")
            names = (
                ("output_per_second",)
                if out is not None and out[0] > 0
                else ("input_per_second", "output_per_second")
            )
        elif quantity == "pixels":
            names = ("input_per_pixel", "output_per_pixel")
        elif quantity == "web_search_calls":
            names = ("web_search", "web_search_medium")
            if rules.get(PricingRule.WEB_SEARCH_BILLING_UNIT) == "per_prompt":
                amount = min(amount, 1)
        else:
            names = (_UNIT_PRICES[quantity],)
        for name in names:
            found = self.stated(name)
            if found is not None:
                return amount, found[0], found[1]
        self.missing(names[0], quantity)

    def priced_per_pixel(self) -> bool:
        """Whether generated images are priced per pixel only (no per-image price)."""
        return (
            self.stated("input_per_image") is None
            and self.stated("output_per_image") is None
            and (self.stated("input_per_pixel") or self.stated("output_per_pixel")) is not None
        )

    def missing(self, price: str, quantity: str) -> NoReturn:
        tier = "" if self.service_tier is ServiceTier.STANDARD else f" ({self.service_tier})"
        raise NotPriceable(
            self.model.model_id,
            f"{quantity} given but the model has no {price} price{tier}",
            price=price,
            quantity=quantity,
        )


# Prices resolved per model and (service tier, tier, window), shared by every request that
# needs the same ones: a batch of 100,000 lines resolves each model's prices a few times, not
# 100,000. Keyed by id(): ModelPrice holds dicts, so it is not hashable; the weak reference
# drops a model's entry when the model goes (a new catalog version replaces every model
# object) and guards against a reused id. The values are pure functions of a frozen model.
_RESOLVED: dict[int, tuple[weakref.ref[ModelPrice], dict[tuple[Any, ...], dict[str, Any]]]] = {}


def _resolved(model: ModelPrice, key: tuple[Any, ...]) -> dict[str, _Found | None]:
    entry = _RESOLVED.get(id(model))
    if entry is None or entry[0]() is not model:
        ident = id(model)
        entry = (weakref.ref(model, forget_when_freed(_RESOLVED, ident)), {})
        _RESOLVED[ident] = entry
    return entry[1].setdefault(key, {})


_UNIT_PRICES = {
    "images_in": "input_per_image",
    "characters": "input_per_character",
    "pages": "per_page",
    "annotation_pages": "annotation_per_page",
    "queries": "per_query",
}


def _get(holder: ModelPrice | PriceSet | Tier | None, name: str) -> Decimal | None:
    if holder is None:
        return None
    if name in _PRICE_ATTRS:
        value: Decimal | None = getattr(holder, name)
        return value
    return holder.units.get(name)


_PRICE_ATTRS = frozenset(f.name for f in PRICE_FIELDS)


def _path(name: str) -> str:
    return name if name in _PRICE_ATTRS else f"units.{name}"


def _first(
    variant: PriceSet | Tier | None, standard: ModelPrice | PriceSet | Tier, name: str, prefix: str
) -> _Found | None:
    """The variant's price if it states one (`variants.<tier>.` names it), else the standard."""
    value = _get(variant, name)
    if value is not None:
        return value, f"{prefix}{_path(name)}"  # the caller's variant is named by service_tier
    value = _get(standard, name)
    return (value, f"{prefix}{_path(name)}") if value is not None else None


def _tier_of(prices: PriceSet, above_tokens: int) -> Tier | None:
    return next((t for t in prices.tiers if t.above_tokens == above_tokens), None)


def _window_at(windows: tuple[TimeWindow, ...], at: datetime | None) -> TimeWindow | None:
    when = (at or datetime.now(UTC)).astimezone(UTC)
    hhmm = when.hour * 100 + when.minute
    return next((w for w in windows if w.contains(hhmm)), None)


# --- the batch path's lean entry -------------------------------------------------------------

# The token quantities in the order price_usage lists their components.
TOKEN_QUANTITIES: tuple[str, ...] = _TOKEN_ORDER
# A Usage's token counts, in TOKEN_QUANTITIES order.
token_counts = _token_counts


class TokenPlan(NamedTuple):
    """What price_usage bills each token quantity at, for one model, service tier and
    long-context tier.

    `prices[i]` is (price, price name) for TOKEN_QUANTITIES[i], or None where price_usage
    raises NotPriceable (the caller leaves such a request to price_usage, which says why).
    """

    service_tier: str
    prices: tuple[_Found | None, ...]
    tier_above_tokens: int | None  # the long-context tier (tier_above() of the prompt)


def token_plan(model: ModelPrice, service_tier: str, prompt_tokens: int = 0) -> TokenPlan | None:
    """The plan price_usage follows for every request of `model` that has token quantities
    only, no region, and a prompt in the long-context tier of `prompt_tokens` (every prompt
    with the same tier_above()), or None where it follows none that holds for all of them.

    For the batch path, which prices a request of that shape as the sum of quantity x price
    in TOKEN_QUANTITIES order (what price_usage adds up), the plan fetched once per model
    and tier. None when the prices depend on the time (time windows, a dated price list),
    the model is not priced per unit, the tier is unknown, or price_usage would add more
    than token components (a per-request fee, a note): price_usage prices those itself.
    """
    tier_name = _SERVICE_TIERS.get(service_tier)
    timed = model.windows or model.dated
    if tier_name is None or timed or model.status in UNCHARGEABLE_STATUSES:
        return None
    # With no windows nor dated prices, the time changes no price; the prompt changes them
    # only through the tiers it crosses, which tier_above names (the key price_usage
    # resolves prices by).
    rates = _Rates(model, prompt_tokens, tier_name, None)
    if rates.stated("per_request") is not None:
        return None
    prices: list[_Found | None] = []
    for name in _TOKEN_ORDER:
        try:
            prices.append(rates.token(name))
        except NotPriceable:
            prices.append(None)
    if rates.notes:
        return None
    return TokenPlan(tier_name, tuple(prices), rates.tier_above)


def tier_above(model: ModelPrice, prompt_tokens: int, service_tier: str) -> int | None:
    """The threshold of the long-context tier a prompt of `prompt_tokens` is billed in, or
    None (no tier crossed; a batch request; an unknown service tier)."""
    return threshold_crossed(*tier_thresholds(model, service_tier), prompt_tokens)


def tier_thresholds(model: ModelPrice, service_tier: str) -> tuple[tuple[int, ...], bool]:
    """The long-context thresholds a request of `model` at `service_tier` can cross, in
    order (none for batch, which tiers do not apply to, or an unknown tier), and whether a
    prompt of exactly a threshold crosses it: what threshold_crossed() needs, fetched once
    for many prompts (the batch path)."""
    tier_name = _SERVICE_TIERS.get(service_tier)
    if tier_name is None or tier_name is ServiceTier.BATCH or not model.tiers:
        return (), False
    return _thresholds(model)


def threshold_crossed(thresholds: tuple[int, ...], inclusive: bool, prompt: int) -> int | None:
    """The highest of the ordered `thresholds` a prompt of `prompt` tokens crosses (above it;
    or at it, `inclusive`: xAI's and OpenRouter's rule), or None."""
    crossed = bisect_right(thresholds, prompt) if inclusive else bisect_left(thresholds, prompt)
    return thresholds[crossed - 1] if crossed else None


def _thresholds(model: ModelPrice) -> tuple[tuple[int, ...], bool]:
    inclusive = model.rules.get(PricingRule.THRESHOLD) == "inclusive"
    return tuple(sorted(t.above_tokens for t in model.tiers)), inclusive

"""The exact cost of one request: tokens x per-token prices, tier-aware, never rounded."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ratecard.prices.model import PRICE_FIELDS, ModelPrice, Tier
from ratecard.prices.money import EXACT
from ratecard.vocabulary import UNCHARGEABLE_STATUSES

# (component, ModelPrice/Tier attribute), in the order a breakdown lists them.
TOKEN_COMPONENTS = tuple((f.api_name, f.name) for f in PRICE_FIELDS if f.unit == "token")


@dataclass
class CostBreakdown:
    """A request's total and its parts, in USD, exact."""

    total: Decimal
    components: dict[str, Decimal]  # input, output, cache_read, cache_write (+ request)
    prices: dict[str, Decimal]  # the prices used, by component
    tier_above_tokens: int | None  # the tier applied, if any


class NotPriceable(Exception):
    """The request cannot be priced from this model's data; the reason says which price."""

    def __init__(self, model_id: str, reason: str, price: str | None = None) -> None:
        super().__init__(f"{model_id}: {reason}")
        self.model_id = model_id
        self.reason = reason
        self.price = price  # the missing price's name ("cache_read_per_token"), when one is


def price_request(
    model: ModelPrice,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> CostBreakdown:
    """Price one request exactly: sum of tokens x price per component, plus per-request fees.

    Tiers ("above N tokens", as LiteLLM, Anthropic and Google define long-context pricing):
    when the prompt (input + cache_read + cache_write tokens) exceeds N, the tier applies to
    the whole request, output included; the highest tier exceeded wins, and its prices
    replace the base ones only for the fields it defines.

    Missing prices are never guessed: cache-read tokens on a model without a cache-read
    price raise NotPriceable rather than being billed at the input price (providers bill
    cache reads at a fraction of it, or do not cache at all). A component with zero tokens
    needs no price. Dynamic and unpriced models raise NotPriceable.
    """
    counts = {
        "input": _tokens("input_tokens", input_tokens),
        "output": _tokens("output_tokens", output_tokens),
        "cache_read": _tokens("cache_read_tokens", cache_read_tokens),
        "cache_write": _tokens("cache_write_tokens", cache_write_tokens),
    }
    if model.status in UNCHARGEABLE_STATUSES:
        raise NotPriceable(model.model_id, f"prices are {model.status}, not published per token")
    prompt_tokens = counts["input"] + counts["cache_read"] + counts["cache_write"]
    tier = applicable_tier(model.tiers, prompt_tokens)
    components: dict[str, Decimal] = {}
    prices: dict[str, Decimal] = {}
    for component, attr in TOKEN_COMPONENTS:
        tier_price = getattr(tier, attr) if tier is not None else None
        price: Decimal | None = tier_price if tier_price is not None else getattr(model, attr)
        tokens = counts[component]
        if price is None:
            if tokens:
                raise NotPriceable(
                    model.model_id,
                    f"{component}_tokens given but the model has no {attr} price",
                )
            components[component] = Decimal(0)
            continue
        prices[component] = price
        components[component] = EXACT.multiply(Decimal(tokens), price)
    per_request = model.units.get("per_request")
    if per_request is not None:
        prices["request"] = per_request
        components["request"] = per_request
    total = Decimal(0)
    for amount in components.values():
        total = EXACT.add(total, amount)
    return CostBreakdown(
        total=total,
        components=components,
        prices=prices,
        tier_above_tokens=tier.above_tokens if tier is not None else None,
    )


def applicable_tier(tiers: tuple[Tier, ...], prompt_tokens: int) -> Tier | None:
    """Return the tier with the highest threshold that prompt_tokens exceeds, if any."""
    exceeded = [tier for tier in tiers if prompt_tokens > tier.above_tokens]
    return max(exceeded, key=lambda tier: tier.above_tokens) if exceeded else None


def _tokens(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


# --- the general engine (issue 12): every quantity of a Usage --------------------------------
# INTERFACE FIRST: Component/Cost/price_usage are the contract the API, batch and CLI build on.
# The arithmetic below is the first cut (text/cache tokens, tiers, per-request fee); the full
# rule set (service tiers, modalities, units, uplifts, windows) replaces it behind the same
# signature.

from dataclasses import field as _field  # noqa: E402
from datetime import datetime  # noqa: E402

from ratecard.prices.usage import QUANTITY_UNITS, Usage  # noqa: E402


@dataclass(frozen=True, slots=True)
class Component:
    """One line of a breakdown: `quantity` of `name` at `price` per `unit` costs `cost`.

    `name` is a Usage quantity ("cache_read_tokens") or a modifier ("regional_uplift", whose
    quantity is 1 and price the multiplier, cost the amount it adds); `price_name` says which
    stored price was used ("input_per_token", "tiers[>200000].input_per_token",
    "batch.input_per_token").
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
    service_tier: str = "standard"
    tier_above_tokens: int | None = None  # the long-context tier applied, if any
    window: str | None = None  # the time-of-day window applied ("0100-0400"), if any
    region: str | None = None
    notes: tuple[str, ...] = _field(default=())


def price_usage(
    model: ModelPrice,
    usage: Usage,
    *,
    service_tier: str = "standard",
    region: str | None = None,
    at: datetime | None = None,
) -> Cost:
    """Price one request's usage exactly; raise NotPriceable naming a needed missing price."""
    unsupported = [
        name
        for name, value in usage.nonzero().items()
        if name not in {"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"}
    ]
    if unsupported or service_tier != "standard" or region is not None:
        raise NotPriceable(model.model_id, f"not yet priced: {unsupported or service_tier}")
    old = price_request(
        model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    components = []
    for component, attr in TOKEN_COMPONENTS:
        quantity = getattr(usage, f"{component}_tokens")
        if quantity:
            components.append(
                Component(
                    f"{component}_tokens",
                    quantity,
                    QUANTITY_UNITS[f"{component}_tokens"],
                    old.prices[component],
                    attr,
                    old.components[component],
                )
            )
    if "request" in old.components:
        fee = old.components["request"]
        components.append(Component("requests", 1, "request", fee, "units.per_request", fee))
    return Cost(
        total=old.total, components=tuple(components), tier_above_tokens=old.tier_above_tokens
    )

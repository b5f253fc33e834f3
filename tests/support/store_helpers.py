"""Helpers for storage, refresh, cache and API tests: models, decisions, deps."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import redis
from sqlalchemy import Engine, func, select

from ratecard.background import refresh_deps
from ratecard.catalog.model import ModelPrice, Tier
from ratecard.ingest.guard import GuardDecision
from ratecard.ingest.refresh import RefreshDeps
from ratecard.schema import price_history
from ratecard.settings import Settings, parse_sources

LITELLM_NEW = "litellm_2026-07-24.json"
LITELLM_OLD = "litellm_2026-03-14.json"
OPENROUTER = "openrouter_models_2026-08-19.json"


def price(
    model_id: str,
    input_price: str | None = "0.000001",
    output_price: str | None = "0.000002",
    *,
    source: str = "litellm",
    status: str = "priced",
    **extra: Any,
) -> ModelPrice:
    """Build a ModelPrice from decimal strings."""
    return ModelPrice(
        source=source,
        model_id=model_id,
        status=status,
        provider=extra.pop("provider", "acme"),
        mode=extra.pop("mode", "chat"),
        input_per_token=None if input_price is None else Decimal(input_price),
        output_per_token=None if output_price is None else Decimal(output_price),
        **extra,
    )


def decision(
    upserts: dict[str, ModelPrice] | None = None,
    removals: list[str] | None = None,
    **kw: Any,
) -> GuardDecision:
    """A GuardDecision that applies `upserts` and `removals` (nothing held or quarantined)."""
    return GuardDecision(
        quarantined=kw.pop("quarantined", False),
        quarantine_reason=kw.pop("quarantine_reason", None),
        upserts=upserts or {},
        removals=removals or [],
        **kw,
    )


TIERED = price(
    "acme/tiered",
    "0.0000000208333333333333",
    "0.000004",
    cache_read_per_token=Decimal("0.0000003"),
    cache_write_per_token=Decimal("0.00000375"),
    tiers=(
        Tier(
            above_tokens=200000,
            input_per_token=Decimal("0.000006"),
            output_per_token=Decimal("0.0000225"),
            cache_read_per_token=Decimal("0.0000006"),
        ),
    ),
    units={"per_request": Decimal("0.005"), "per_image": Decimal("0.04")},
    context_window=1_000_000,
)


def history_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(price_history)).scalar_one())


def make_deps(
    engine: Engine,
    settings: Settings,
    *,
    redis_client: redis.Redis | None = None,
    read_timeout: float = 5.0,
    **kw: Any,
) -> RefreshDeps:
    """Refresh dependencies for tests: fast retries, short timeouts."""

    def client() -> httpx.Client:
        return httpx.Client(timeout=httpx.Timeout(read_timeout, connect=2.0))

    kw.setdefault("fetch_options", {"attempts": 2, "backoff": 0.01})
    # The composition root's factory: the change log hook is wired as in the service.
    return refresh_deps(settings, engine, redis_client, http_client_factory=client, **kw)


def sources_setting(**urls: str) -> Any:
    """RATECARD_SOURCES from keyword arguments: sources_setting(litellm=url)."""
    return parse_sources(",".join(f"{name}={url}" for name, url in urls.items()))


SettingsFactory = Callable[..., Settings]

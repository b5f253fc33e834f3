"""How the price API shows a model: its prices, its entries in other sources, and where they
disagree (the CLI's `prices show` shows the same)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ratecard.catalog import codec
from ratecard.catalog.identity import Resolution, price_agreement, price_differences
from ratecard.catalog.model import ModelPrice
from ratecard.catalog.snapshot import CatalogSnapshot, ServedModel


def model_item(served: ServedModel) -> dict[str, Any]:
    """Return one served model as the API shows it."""
    return codec.to_api(
        served.price,
        served.last_observed_at,
        served.last_changed_at,
        rejected_reason=served.rejected_reason,
        rejected_since=served.rejected_since,
    )


def identity_fields(snapshot: CatalogSnapshot, resolution: Resolution) -> dict[str, Any]:
    """The resolution, the same model in other sources, and where their prices differ."""
    price = resolution.price
    return linked_fields(resolution, price, snapshot.identity.linked(price))


def linked_fields(
    resolution: Resolution, price: ModelPrice, linked: Iterable[ModelPrice]
) -> dict[str, Any]:
    """`resolved`, `other_sources`, `linked`, `agreement` and `disagreements` of `price`
    among `linked`."""
    linked = list(linked)
    return {
        "resolved": resolution.to_json(),
        "other_sources": sorted({p.source for p in linked} - {price.source}),
        "linked": [linked_item(p) for p in linked],
        "agreement": {
            name: found.to_json() for name, found in price_agreement(price, linked).items()
        },
        "disagreements": [
            {"other": {"id": p.model_id, "source": p.source}, "fields": difference_items(diffs)}
            for p in linked
            if p.source != price.source and (diffs := price_differences(price, p))
        ],
    }


def linked_item(price: ModelPrice) -> dict[str, Any]:
    """Return a linked entry as a model's answer lists it."""
    return {
        "id": price.model_id,
        "source": price.source,
        "provider": price.provider,
        "status": price.status,
        "prices": codec.api_prices(price),
    }


def difference_items(differences: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"field": d.field, "a": d.a, "b": d.b, "ratio": d.ratio} for d in differences]

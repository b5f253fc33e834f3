"""The catalog as served for one version: an immutable snapshot of its models, indexed.

Plain data built from catalog data (`serving.queries.load_catalog_data`, a Redis blob, or any
other copy of it); the service's cache (`serving.catalog_cache`) keeps the newest one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

from ratecard.catalog import codec
from ratecard.catalog.identity import ModelIndex, Resolution, UnknownModel
from ratecard.catalog.model import ModelPrice, assembled
from ratecard.vocabulary import HeldKind, PriceStatus


@dataclass(frozen=True)
class ServedModel:
    """One served model with when it was last observed and last changed (ISO strings)."""

    price: ModelPrice
    last_observed_at: str | None
    last_changed_at: str | None
    # Set while the feed's entry is rejected: these are the last good prices.
    rejected_reason: str | None = None
    rejected_since: str | None = None


@dataclass(frozen=True)
class CatalogSnapshot:
    """Everything the API serves for one catalog version, indexed for lookups."""

    version: int | None
    updated_at: str | None
    models: tuple[ServedModel, ...]
    sources: tuple[dict[str, Any], ...] = ()
    held: tuple[dict[str, Any], ...] = ()
    by_id: Mapping[str, tuple[ServedModel, ...]] = field(default_factory=dict)
    held_by_model: Mapping[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CatalogSnapshot:
        """Build a snapshot from catalog data (queries.load_catalog_data or a Redis blob)."""
        served = tuple(
            sorted(
                (_served_from_item(item) for item in data.get("models", ())),
                key=lambda m: (m.price.model_id, m.price.source),
            )
        )
        by_id: dict[str, list[ServedModel]] = {}
        for model in served:
            by_id.setdefault(model.price.model_id, []).append(model)
        held = tuple(data.get("held", ()))
        return cls(
            version=data.get("version"),
            updated_at=data.get("updated_at"),
            models=served,
            sources=tuple(data.get("sources", ())),
            held=held,
            by_id={k: tuple(v) for k, v in by_id.items()},
            held_by_model={
                (h["source"], h["model_id"]): h
                for h in held
                if h.get("kind") == HeldKind.PRICE and h.get("model_id")
            },
        )

    @classmethod
    def empty(cls) -> CatalogSnapshot:
        """The catalog before any refresh committed."""
        return cls(version=None, updated_at=None, models=())

    @cached_property
    def identity(self) -> ModelIndex:
        """The resolver and cross-source links over this version (built once, on first use).

        Cached on the immutable snapshot, so it is rebuilt exactly when the version moves.
        """
        return ModelIndex([m.price for m in self.models])

    @cached_property
    def memo(self) -> dict[Any, Any]:
        """Per-version memo of derived answers (a model's body): valid as long as the snapshot."""
        return {}

    @property
    def counts_by_status(self) -> dict[str, int]:
        """Return how many models are served per price status."""
        counts: dict[str, int] = dict.fromkeys(PriceStatus, 0)
        for model in self.models:
            counts[model.price.status] = counts.get(model.price.status, 0) + 1
        return counts

    def find(
        self, model_id: str, source: str | None = None, preferred: Sequence[str] = ()
    ) -> ServedModel | None:
        """Return a served model; without `source`, the first of `preferred` sources that has it."""
        candidates = self.by_id.get(model_id, ())
        if source is not None:
            return next((m for m in candidates if m.price.source == source), None)
        if not candidates:
            return None
        rank = {name: i for i, name in enumerate(preferred)}
        return min(candidates, key=lambda m: (rank.get(m.price.source, len(rank)), m.price.source))


# The shape of a catalog copy (`copy_document`): a client refuses a copy it does not know.
COPY_FORMAT = 1


def copy_document(snapshot: CatalogSnapshot, preferred: Sequence[str]) -> dict[str, Any]:
    """The whole catalog as priced from, in one JSON-ready document: each model's prices and
    descriptive fields (`codec.to_item`, which `from_data` reads back to equal models), the
    source order bare ids resolve by, the version and its time. What `GET /api/catalog/copy`
    serves and an in-process client (`ratecard.client`) keeps on disk; feed errors and held
    changes, which may name hosts, are not in it."""
    return {
        "format": COPY_FORMAT,
        "version": snapshot.version,
        "updated_at": snapshot.updated_at,
        "preferred": list(preferred),
        "models": [codec.to_item(m.price) for m in snapshot.models],
    }


def resolve_recorded(
    snapshot: CatalogSnapshot,
    model_id: str,
    source: str | None,
    preferred: Sequence[str],
    sources_of: Callable[[str], Collection[str]],
) -> Resolution:
    """Resolve a model as typed against what is served; a model no longer served is still
    found by its exact id among those the database ever recorded (its past prices exist).

    `sources_of(model_id)` lists the sources that ever listed the id (queries.model_sources;
    asked only when the id is not served). The source: the one asked for, else the
    preferred one that has (had) the id, served first. Raises UnknownModel (404) for an id
    no source ever listed.
    """
    try:
        return snapshot.identity.resolve(model_id, source, preferred)
    except UnknownModel:
        known = sources_of(model_id)
        if source is not None and source not in known:
            raise UnknownModel(f"source {source!r} never listed {model_id!r}") from None
        if not known:
            raise UnknownModel(f"no model {model_id!r} was ever listed") from None
        rank = {name: i for i, name in enumerate(preferred)}
        served = {m.price.source for m in snapshot.by_id.get(model_id, ())}
        chosen = source or min(known, key=lambda s: (s not in served, rank.get(s, len(rank)), s))
        # Not served, so not in the index: linked() finds nothing for this placeholder.
        recorded = ModelPrice(source=chosen, model_id=model_id, status=PriceStatus.UNPRICED)
        return Resolution(recorded, model_id, "exact")


# What a served model holds beside its price, each under its own name in a catalog item.
_SERVED_TIMES = tuple(f.name for f in fields(ServedModel) if f.name != "price")


def _served_from_item(item: Mapping[str, Any]) -> ServedModel:
    values: dict[str, Any] = {"price": codec.from_item(item)}
    for name in _SERVED_TIMES:
        values[name] = item.get(name)
    return assembled(ServedModel, values)  # each start builds ~3,000: see `assembled`

"""Finding models by text as people look for them: the best match first (pure functions).

The dashboard's search box and `ratecard models search` rank alike. A served id equal to the
text comes first; then the ids whose name (the provider's prefix left out) is the text; then
names beginning with it; then ids holding it anywhere. Within each, the maker's own entry
before a reseller's copy before a platform's offering, a priced model before an unpriced one,
chat models before embeddings and image sizes (`1024-x-1024/50-steps/...`), then the shorter,
plainer id. Without text, the same order
from the second key on: a first screen of the makers' chat models, not of image sizes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from ratecard.catalog.identity import is_copy, is_makers_own, split_id
from ratecard.catalog.model import ModelPrice
from ratecard.vocabulary import PriceStatus

T = TypeVar("T")

# How modes rank when nothing else tells two matches apart: what people price most first.
_MODE_RANK = {"chat": 0, "responses": 0, "completion": 1, "realtime": 2, "embedding": 3}
_OTHER_MODE = 4


def relevance(
    price: ModelPrice, text: str = ""
) -> tuple[int, int, bool, int, int, str, str] | None:
    """The sort key of `price` for `text` (lower is better), or None when it does not match."""
    needle = text.strip().lower()
    model_id = price.model_id.lower()
    name = split_id(price.model_id, price.provider)[1].lower()
    if not needle or model_id == needle:
        match = 0
    elif name == needle:
        match = 1
    elif name.startswith(needle) or model_id.startswith(needle):
        match = 2
    elif needle in model_id:
        match = 3
    else:
        return None
    return (
        match,
        _standing(price),
        price.status == PriceStatus.UNPRICED,  # a model with no price is no first choice
        _MODE_RANK.get(price.mode or "", _OTHER_MODE),
        len(price.model_id),
        model_id,
        price.source,
    )


def _standing(price: ModelPrice) -> int:
    """0: the maker's own entry; 1: a reseller's copy of a maker's model; 2: a platform's."""
    if is_makers_own(price):
        return 0
    return 1 if is_copy(price) else 2


def ranked(items: Iterable[T], text: str) -> list[T]:
    """The items matching `text`, best first; an item is a ModelPrice or has `.price`."""
    keyed = []
    for item in items:
        price = item if isinstance(item, ModelPrice) else item.price  # type: ignore[attr-defined]
        key = relevance(price, text)
        if key is not None:
            keyed.append((key, item))
    keyed.sort(key=lambda pair: pair[0])
    return [item for _, item in keyed]

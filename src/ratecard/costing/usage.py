"""What a request consumed: disjoint quantities, each priced once by one price.

The one model of a request every cost path speaks (flat counts in `POST /api/cost`, the
provider formats in `costing.formats`, the batch and `ratecard cost` paths, the conformance
golden file). Quantities are DISJOINT: `input_tokens` is uncached text input only, cache reads
and writes, audio and image input are counted apart from it; `output_tokens` is text output
only, reasoning and audio/image output apart. A provider's own totals include some of these
(OpenAI's `prompt_tokens` includes cached and audio tokens): the format readers subtract, the
user of flat counts must too (the API documents it).

    prompt tokens     = input + cache_read + cache_write + cache_write_1h + audio_in + image_in
    completion tokens = output + reasoning + audio_out + image_out

Long-context tiers compare against the prompt tokens (cached and written tokens included).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

__all__ = [
    "QUANTITIES",
    "QUANTITY_UNITS",
    "ReadUsage",
    "StatedUplift",
    "Usage",
    "UsageError",
    "usage_from_counts",
]

# A count beyond a trillion is a typo or an attack, not a request (the API documents it): every
# reader of counts refuses it, flat counts and provider bodies alike.
MAX_QUANTITY = 10**12


class Usage(NamedTuple):
    """One request's quantities (all default 0). `seconds` may be fractional (audio length).

    A NamedTuple, not a frozen dataclass: the batch path builds one per line, and a tuple is
    built in C (~0.6 µs against ~4 µs for 19 frozen-dataclass fields); immutable and hashable
    all the same.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0  # 5-minute (default) cache writes
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    image_input_tokens: int = 0
    image_output_tokens: int = 0
    images_in: int = 0  # images given as input, priced per image
    images_out: int = 0  # images generated, priced per image
    pixels: int = 0  # generated pixels, for models priced per pixel
    seconds: int | Decimal = 0  # audio/transcription length
    characters: int = 0  # text-to-speech input characters
    pages: int = 0  # OCR pages
    annotation_pages: int = 0  # OCR pages annotated (Mistral Document AI), beside `pages`
    queries: int = 0  # search queries, rerank search units
    web_search_calls: int = 0
    requests: int = 0  # requests these quantities cover, for per-request fees (0 means 1)

    @property
    def prompt_tokens(self) -> int:
        """Every input token, cached and written included: what long-context tiers compare."""
        return (
            self.input_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
            + self.cache_write_1h_tokens
            + self.audio_input_tokens
            + self.image_input_tokens
        )

    @property
    def completion_tokens(self) -> int:
        return (
            self.output_tokens
            + self.reasoning_tokens
            + self.audio_output_tokens
            + self.image_output_tokens
        )

    def nonzero(self) -> dict[str, int | Decimal]:
        """The quantities that are not zero, in declaration order."""
        return {name: value for name in QUANTITIES if (value := getattr(self, name))}


# (quantity, unit of one of it), in the order breakdowns list them.
QUANTITY_UNITS: Mapping[str, str] = {
    "input_tokens": "token",
    "output_tokens": "token",
    "cache_read_tokens": "token",
    "cache_write_tokens": "token",
    "cache_write_1h_tokens": "token",
    "reasoning_tokens": "token",
    "audio_input_tokens": "token",
    "audio_output_tokens": "token",
    "image_input_tokens": "token",
    "image_output_tokens": "token",
    "images_in": "image",
    "images_out": "image",
    "pixels": "pixel",
    "seconds": "second",
    "characters": "character",
    "pages": "page",
    "annotation_pages": "page",
    "queries": "query",
    "web_search_calls": "call",
    "requests": "request",
}
QUANTITIES: tuple[str, ...] = Usage._fields
assert tuple(QUANTITY_UNITS) == QUANTITIES, "QUANTITY_UNITS must list Usage's fields in order"


class UsageError(ValueError):
    """A quantity is not usable; `field` names it (as the request spelled it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StatedUplift(NamedTuple):
    """A multiplier of the whole cost that a body says it was billed with.

    Anthropic's `usage.inference_geo: "us"` (data residency, 1.1x on Claude 4.6 and later) and
    `usage.speed: "fast"` (fast mode): the cost engine applies the model's uplift of that
    `name`, and refuses (422 naming `field`) when the model has none: the body says the
    request was billed so, and pricing it without the multiplier would be a wrong total.
    """

    kind: str  # "region" (data residency) or "speed": names the cost component
    name: str  # the key in ModelPrice.uplifts ("us", "fast")
    field: str  # where the body states it ("response.usage.inference_geo")


class ReadUsage(NamedTuple):
    """What a provider's usage block or response says: the quantities and what else it states."""

    usage: Usage
    format: str  # a UsageFormat value
    model: str | None = None  # read from a whole response (`model`, Gemini `modelVersion`)
    service_tier: str | None = None  # the tier the body says it was billed at, if any
    # Counts the body reports that no price applies to (kept so totals still add up).
    unpriced: Mapping[str, int] | None = None
    # What the reader assumed where the body is not self-evident (a stated total that is not
    # the sum of its parts: the parts are priced), for the answer's `notes`.
    notes: tuple[str, ...] = ()
    # Multipliers the body says the request was billed with (data residency, fast mode).
    uplifts: tuple[StatedUplift, ...] = ()


def _quantity(name: str, value: Any) -> int | Decimal:
    if isinstance(value, bool):
        raise UsageError(name, f"must be a non-negative integer, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise UsageError(name, f"must be a non-negative integer, got {value}")
        return value
    if name == "seconds" and isinstance(value, str | Decimal | float):
        try:
            # A float is taken by its shortest repr ("12.5"), never its binary expansion.
            seconds = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except InvalidOperation:
            raise UsageError(name, f"must be a non-negative number, got {value!r}") from None
        if not seconds.is_finite() or seconds < 0:
            raise UsageError(name, f"must be a non-negative number, got {value!r}")
        return int(seconds) if seconds == seconds.to_integral_value() else seconds
    raise UsageError(name, f"must be a non-negative integer, got {value!r}")


def usage_from_counts(counts: Mapping[str, Any]) -> Usage:
    """Build a Usage from flat counts (keys from QUANTITIES; others are not looked at).

    Raises UsageError naming the first bad quantity (not an integer, negative, a bool).
    """
    values = {name: _quantity(name, counts[name]) for name in QUANTITIES if name in counts}
    return Usage(**values)  # type: ignore[arg-type]

"""The documented shapes of /admin/price-books (the OpenAPI document reads them; the body is
validated by `costing.price_books.parse_book`, which names the rule and field at fault)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from ratecard.costing.price_books import BOOK_NAME_PATTERN, DECIMAL_PATTERN, INSTANT_PATTERN

Decimal = Annotated[
    StrictStr, Field(pattern=DECIMAL_PATTERN, description="An exact decimal, as text.")
]
Instant = Annotated[
    StrictStr, Field(pattern=INSTANT_PATTERN, description="RFC 3339 with an offset.")
]


class RuleMatch(BaseModel):
    """Which models a rule is for: the served id, the provider, a glob on the id (all that
    are given must hold; `{}`: every model)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: Annotated[StrictStr, Field(min_length=1, max_length=512)] | None = None
    provider: Annotated[StrictStr, Field(min_length=1, max_length=512)] | None = None
    pattern: Annotated[StrictStr, Field(min_length=1, max_length=512)] | None = None


class RuleIn(BaseModel):
    """One rule: `set` prices, or `multiply` the list prices (those in `prices`, or all), in
    force from `from` until `until`."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    match: RuleMatch = RuleMatch()
    set: dict[str, Decimal] | None = None
    multiply: Decimal | None = Field(default=None, description="A positive decimal <= 1000.")
    prices: list[StrictStr] | None = None
    from_: Instant | None = Field(default=None, alias="from")
    until: Instant | None = None


class PriceBookIn(BaseModel):
    """Body of PUT /admin/price-books/{name}."""

    model_config = ConfigDict(extra="forbid", strict=True)

    description: Annotated[StrictStr, Field(max_length=1000)] = ""
    base: Annotated[StrictStr, Field(pattern=BOOK_NAME_PATTERN)] | None = None
    unmatched: Literal["list", "refuse"] = "list"
    public: StrictBool = False
    rules: list[RuleIn] = Field(default=[], description="At most RATECARD_PRICE_BOOK_MAX_RULES.")


class _BookHead(BaseModel):
    name: str
    version: int
    description: str
    base: str | None
    unmatched: Literal["list", "refuse"]
    public: bool


class PriceBookOut(_BookHead):
    """One version of a book, as stored (decimals as exact text)."""

    rules: list[dict[str, Any]]


class PriceBookPutOut(PriceBookOut):
    """A PUT's answer: `changed` false when the content equals the current version's (no new
    version); `read_key` only when the book is created (shown this once)."""

    changed: bool
    read_key: str | None = None


class PriceBookSummaryOut(_BookHead):
    """A book in the list: how many rules, when last written."""

    rules: int
    updated_at: str


class PriceBookListOut(BaseModel):
    items: list[PriceBookSummaryOut]


class PriceBookVersionOut(BaseModel):
    """One version: when, and what changed from the one before (`change`: created, updated
    with its `fields` and rules added and removed, or deleted)."""

    version: int
    created_at: str
    summary: dict[str, Any]


class PriceBookHistoryOut(BaseModel):
    name: str
    items: list[PriceBookVersionOut]


class PriceBookVersionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class ReadKeyOut(BaseModel):
    """A book's new read key, shown once (the old one no longer opens it)."""

    name: str
    read_key: str


class PriceBookDeletedOut(BaseModel):
    name: str
    deleted: Literal[True]
    version: int

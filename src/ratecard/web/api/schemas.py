"""Request and response models of the price API (pydantic v2): they validate requests and
generate the OpenAPI document, so the two cannot drift apart.

Imported lazily (on the first API request), never by `create_app()`: pydantic is a heavy
import and start-up must stay fast.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictInt,
    StrictStr,
    create_model,
    field_validator,
)

from ratecard.costing.cost_requests import AT_PATTERN, SECONDS_PATTERN
from ratecard.costing.usage import QUANTITIES

MAX_TOKENS = 10**12
PAGE_LIMIT_MAX = 500

TokenCount = Annotated[
    StrictInt, Field(ge=0, le=MAX_TOKENS, description=f"A whole number from 0 to {MAX_TOKENS}.")
]
SortKey = Literal[
    "id", "-id", "provider", "-provider", "input_price", "-input_price", "output_price",
    "-output_price",
]  # fmt: skip
# vocabulary.PriceStatus spelt as a Literal: pydantic renders it inline as an enum, as the
# OpenAPI document always had it (a test keeps the two equal).
Status = Literal["priced", "free", "dynamic", "unpriced"]
ServiceTier = Literal["standard", "batch", "flex", "priority"]
ProviderFormat = Literal[
    "openai.chat", "openai.responses", "anthropic", "gemini", "bedrock", "openai.embeddings",
    "openai.images", "openai.transcription", "openai.speech", "deepseek", "xai", "groq",
    "cohere", "mistral.ocr",
]  # fmt: skip
DecimalText = Annotated[
    str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", description="An exact decimal.")
]


# PostgreSQL text cannot hold NUL, and no model id, provider, mode or source has one: a query
# parameter holding NUL is refused as the request's fault (422 naming it), documented here
# rather than discovered when the database rejects the filter. Nor is one all whitespace:
# queries are stripped, and a `source` of one U+0085 the document called valid became an
# empty string refused by the length rule (a schema-valid request rejected). `\s` is
# Python's whitespace, the very set str.strip() removes.
QUERY_TEXT = Field(pattern=r"^[^\x00]*[^\s\x00][^\x00]*$")


class Schema(BaseModel):
    """Every model of the API's requests and answers. Each one's validator is built on its
    first use (a request's validation, /openapi.json), not at import: building them all
    cost ~25 ms (bench/startup.py). A request model takes ~1 ms to build; each worker's
    warm-up thread imports this module and builds the query models beside its first ready
    answers (web/health_probes.py), so the first requests with a query string find them
    built. The answer models only describe the views' JSON in /openapi.json."""

    model_config = ConfigDict(defer_build=True)


class _Query(Schema):
    # Query strings are text: numbers are parsed from it (lax), unknown parameters ignored.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class ModelListQuery(_Query):
    """Filters, sort and pagination of GET /api/models."""

    provider: Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=128)] | None = None
    mode: Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=64)] | None = None
    status: Status | None = None
    source: Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=64)] | None = None
    q: (
        Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=200, description="Text in id")]
        | None
    ) = None
    sort: SortKey = "id"
    limit: Annotated[int, Field(ge=1, le=PAGE_LIMIT_MAX)] = 50
    cursor: (
        Annotated[
            str,
            # The listing's cursors are unpadded base64url: ASCII, so even the longest
            # fits gunicorn's 8190-byte request line beside the other parameters.
            Field(
                min_length=1,
                max_length=2000,
                pattern=r"^[A-Za-z0-9_-]+$",
                description="Start after this `next_cursor`",
            ),
        ]
        | None
    ) = None
    page: (
        Annotated[
            int,
            Field(ge=1, le=1_000_000, description="Page of `limit` items, counted from `cursor`"),
        ]
        | None
    ) = None


class ModelQuery(_Query):
    """Which source's model (when two sources list it), and at what time."""

    source: Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=64)] | None = None
    at: datetime | None = Field(
        default=None,
        description="ISO 8601 time (naive means UTC): the prices in force then, not now.",
    )

    @field_validator("at")
    @classmethod
    def _at_in_utc_range(cls, value: datetime | None) -> datetime | None:
        return utc_representable(value)


class HistoryQuery(_Query):
    """Which source's history, how many entries, in which time order."""

    source: Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=64)] | None = None
    limit: Annotated[int, Field(ge=1, le=PAGE_LIMIT_MAX)] = 100
    order: Literal["desc", "asc"] = Field(
        default="desc", description="desc: newest first (default); asc: oldest first."
    )


class PriceTableQuery(_Query):
    """Which rows of the dated price table: every period or those in force, and filters."""

    history: bool = Field(
        default=False, description="true: every period a price was in force; false: now."
    )
    source: Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=64)] | None = None
    provider: Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=128)] | None = None
    model: Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=512)] | None = Field(
        default=None, description="A model id exactly as its source lists it."
    )


# The root models below state their type as `root`'s annotation, not as RootModel[T]: each
# parametrized RootModel[T] is a class of its own, built at import whatever the subclass says
# (~3 ms each). Their `defer_build` is Schema's (a root model cannot derive from it).


class PriceTableText(RootModel):
    """CSV (RFC 4180) with a header line: source, model_id, provider, price_name, price, unit,
    valid_from, valid_to."""

    model_config = ConfigDict(defer_build=True)
    root: str


class PriceTableParquet(RootModel):
    """A Parquet file (binary) of the CSV's columns, typed: price a DECIMAL, valid_from and
    valid_to UTC timestamps."""

    model_config = ConfigDict(defer_build=True, json_schema_extra={"format": "binary"})
    root: str


class DisagreementQuery(_Query):
    """Only the disagreements involving one source, or one field."""

    source: Annotated[str, QUERY_TEXT, Field(min_length=1, max_length=64)] | None = None
    field: (
        Literal["status", "input_per_token", "output_per_token", "cache_read_per_token",
                "cache_write_per_token"]
        | None
    ) = None  # fmt: skip


class _CostOptions(Schema):
    """What every cost request may give besides its quantities or provider body."""

    # Documentation only: `ratecard.costing.cost_requests` parses the body (one parser for the
    # single, batch and CLI paths); /openapi.json shows what it accepts, form by form.
    model_config = ConfigDict(extra="forbid", strict=True)

    at: Annotated[str, Field(pattern=AT_PATTERN)] | None = Field(
        default=None, description="ISO 8601 time (naive means UTC): the prices then in force."
    )
    source: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    service_tier: ServiceTier | None = Field(
        default=None,
        description="Default `standard`. A tier the usage or response states was billed: it "
        "wins over `standard`; another explicit tier contradicting it is a 422.",
    )
    region: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="A regional uplift the model's prices list (`eu`, `us`); one it lists none "
        "for is said in `notes`. A body that states its data residency (Anthropic's "
        "`usage.inference_geo`) sets it, and a different `region` is a 422.",
    )
    price_book: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="Price with this price book's prices, not list prices (each component "
        "then carries `list_price` and the `rule` that set its price). A private book needs "
        "the admin token or the book's read key as `Authorization: Bearer <key>`.",
    )
    price_book_version: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(
        default=None,
        description="With `price_book`: that version of it (default its current one); its "
        "bases at their current versions.",
    )


ModelId = Annotated[
    StrictStr,
    Field(
        min_length=1,
        max_length=512,
        description="Resolved as GET /api/models/<id> resolves it.",
    ),
]
ProviderBody = Annotated[dict[str, Any], Field(description="A provider's JSON object, as sent.")]


class CostFromUsage(_CostOptions):
    """`model` and the provider's `usage` object exactly as returned (`format` detected when
    omitted). No flat counts beside it."""

    model: ModelId | None = Field(
        default=None, description="Resolved as GET /api/models/<id> resolves it; required "
        "unless the usage object names the model (none of the supported ones do)."
    )  # fmt: skip
    usage: ProviderBody
    format: ProviderFormat | None = Field(
        default=None, description="The format of `usage`; detected when omitted."
    )
    response: None = None


class CostFromResponse(_CostOptions):
    """The provider's whole response body (non-streaming; for text to speech and streamed
    transcriptions, the last event, which carries the usage); the model is read from it
    where it names one. No flat counts beside it."""

    model: ModelId | None = Field(
        default=None, description="Resolved as GET /api/models/<id> resolves it; read from "
        "`response` when omitted (required where the response names none)."
    )  # fmt: skip
    response: ProviderBody
    format: ProviderFormat | None = Field(
        default=None, description="The format of `response`; detected when omitted."
    )
    usage: None = None


Seconds = (
    Annotated[float, Field(ge=0, le=MAX_TOKENS)]
    | Annotated[str, Field(pattern=SECONDS_PATTERN, description="Exact decimal")]
)
# One optional field per quantity of `Usage`, in its order: the document lists every
# quantity the parser takes, and cannot forget one added there.
CostFromCounts = create_model(  # type: ignore[call-overload]
    "CostFromCounts",
    __base__=_CostOptions,
    __doc__="`model` with flat counts (disjoint: `input_tokens` is uncached text input, cache "
    "reads and writes, reasoning, audio and image tokens counted apart). A quantity not given "
    "is 0.",
    model=(ModelId, ...),
    usage=(None, None),
    response=(None, None),
    format=(None, None),
    **{name: (Seconds if name == "seconds" else TokenCount, 0) for name in QUANTITIES},
)


def _one_of(schema: dict[str, Any]) -> None:
    # The three forms exclude each other (a form's keys are extra in the others): say so.
    schema["oneOf"] = schema.pop("anyOf")


class CostRequest(RootModel):
    """Body of POST /api/cost, in one of three forms: `model` with flat counts, `model` with
    `usage` (and `format`), or `response`."""

    model_config = ConfigDict(defer_build=True, json_schema_extra=_one_of)
    root: CostFromCounts | CostFromUsage | CostFromResponse  # type: ignore[valid-type]


class CostBatchRequest(RootModel):
    """Body of POST /api/cost/batch as a JSON array (or NDJSON, one request a line): each item a
    POST /api/cost body, checked on its own and answered with its result or error object."""

    model_config = ConfigDict(defer_build=True)
    root: list[Any]


def utc_representable(value: datetime | None) -> datetime | None:
    """Refuse a time with no UTC datetime (the API compares `at` in UTC).

    An offset time within a day of year 1 or 9999 (`9999-12-31T23:59:59-23:59`) has none, and
    converting it overflows.
    """
    if value is not None and value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range: its UTC time is before year 1 or after 9999") from None
    return value


# --- responses (documented in /openapi.json; built as plain dicts for speed) ------------------


class PricePair(Schema):
    """One price as an exact decimal string, per token and per million tokens."""

    per_token: DecimalText
    per_million: DecimalText


class TierOut(Schema):
    """Prices in force when the prompt passes `above_tokens` (from it, under the model's
    `threshold: inclusive` rule); only the prices it sets, the others stay the base ones."""

    above_tokens: int
    prices: dict[str, PricePair]
    units: dict[str, DecimalText]


class VariantOut(Schema):
    """A service tier's prices (batch, flex, priority): only what the source states; the
    standard prices fill the rest (and `rules.batch: half` halves them for batch)."""

    prices: dict[str, PricePair]
    tiers: list[TierOut]
    units: dict[str, DecimalText]


class WindowOut(Schema):
    """Prices in force from `utc_start` (inclusive) to `utc_end` (exclusive), HHMM in UTC,
    wrapping past midnight when end < start."""

    utc_start: str
    utc_end: str
    prices: dict[str, PricePair]
    units: dict[str, DecimalText]


class DatedOut(Schema):
    """One entry of the source's dated price list: the standard prices in force from `starts`
    (null: before every dated entry) until `ends` (null: no later entry)."""

    starts: str | None
    ends: str | None
    scheduled: bool = Field(
        description="Its start was still ahead when the source was last read: the served "
        "`prices` are an earlier entry's. A cost at or after `starts` is priced from it."
    )
    prices: dict[str, PricePair]
    tiers: list[TierOut]
    units: dict[str, DecimalText]


class PriceMoveOut(Schema):
    """One stored price that a held change would move (None: absent on that side)."""

    field: str
    old: DecimalText | None
    new: DecimalText | None
    factor: str | None


class StaleOut(Schema):
    """Why a served model's prices are its last good ones: the feed's entry was rejected."""

    reason: str
    since: str | None


class ProblemOut(Schema):
    """One thing a feed got wrong: a rejected entry (field null) or a dropped field."""

    model_id: str
    field: str | None
    reason: str


class HeldChangeOut(Schema):
    id: int
    kind: str
    source: str
    model_id: str | None
    run_id: int | None
    detected_at: str | None
    reason: str
    factor: str | None
    old: dict[str, Any] | None
    proposed: dict[str, Any] | None
    moves: list[PriceMoveOut]
    status: str


class ModelOut(Schema):
    id: str
    source: str
    provider: str | None
    mode: str | None
    status: Status
    context_window: int | None
    max_output_tokens: int | None
    prices: dict[str, PricePair]
    tiers: list[TierOut]
    units: dict[str, DecimalText]
    variants: dict[str, VariantOut]
    windows: list[WindowOut]
    uplifts: dict[str, DecimalText] = Field(
        description="Multipliers of the whole cost: by region (`region` of a cost request, or "
        "Anthropic's `usage.inference_geo`) or speed (`fast`: Anthropic's `usage.speed`)."
    )
    rules: dict[str, str] = Field(
        description="How the prices apply where providers differ: threshold (inclusive), "
        "tiers (bands), reasoning (output), batch (half), web_search_billing_unit."
    )
    dated: list[DatedOut] = Field(
        description="The source's dated price list, oldest first (genai-prices' start dates; "
        "empty for a model without one). The standard prices above are the entry in force "
        "when the source was read; a cost, or a read with `at`, uses the entry in force then."
    )
    last_observed_at: str | None
    last_changed_at: str | None
    stale: StaleOut | None


class ResolvedOut(Schema):
    """How the id asked for became the served id."""

    requested: str
    by: Literal["exact", "case", "match", "prefix", "linked"] = Field(
        description="The rule that resolved it: the exact id; case and surrounding spaces; "
        "match (a source's `match` clause claims the id: genai-prices); a provider prefix "
        "added or taken away; linked (another source's id for the model)."
    )


class LinkedEntryOut(Schema):
    """The same model as listed under another id or by another source."""

    id: str
    source: str
    provider: str | None
    status: Status
    prices: dict[str, PricePair]


class FieldDifferenceOut(Schema):
    """One field two linked entries both give, with different values; ratio = b / a."""

    field: str
    a: str
    b: str
    ratio: str | None


class EntryRefOut(Schema):
    id: str
    source: str


class ModelDisagreementOut(Schema):
    """A linked entry whose prices differ from the served one (a = served, b = it)."""

    other: EntryRefOut
    fields: list[FieldDifferenceOut]


class PriceAgreementOut(Schema):
    """How many linked sources state one price and how many state it exactly as this entry."""

    agree: int = Field(description="Sources stating this very value, this one included.")
    of: int = Field(description="Sources stating the price at all (a missing one is not counted).")
    sources: dict[str, str] = Field(description="Each stating source's value (per token).")


class ModelDetailOut(ModelOut):
    held_change: HeldChangeOut | None
    other_sources: list[str]
    catalog_version: int | None
    resolved: ResolvedOut
    linked: list[LinkedEntryOut]
    agreement: dict[str, PriceAgreementOut] = Field(
        description="Per price this entry states (input_per_token, ...): how many linked "
        "sources agree exactly."
    )
    disagreements: list[ModelDisagreementOut]
    at: str | None = Field(description="The time asked for with ?at= (prices then in force).")
    priced_since: str | None = Field(description="With ?at=: when those prices were observed.")


class SidesAgreementOut(Schema):
    """Of the sources stating a price (`of`), how many state a's value and how many b's."""

    a: int
    b: int
    of: int


class DisagreementOut(Schema):
    model: str = Field(description="The linked model: canonical provider / name.")
    a: EntryRefOut
    b: EntryRefOut
    fields: list[FieldDifferenceOut]
    agreement: dict[str, SidesAgreementOut] = Field(
        description="Per differing price: how many sources side with a, with b, of how many."
    )


class DisagreementListOut(Schema):
    items: list[DisagreementOut]
    total: int
    linked_models: int = Field(description="Models listed by more than one source.")
    catalog_version: int | None


class ModelListOut(Schema):
    items: list[ModelOut]
    total: int
    limit: int
    page: int | None
    next_cursor: str | None
    catalog_version: int | None


class HistoryEntryOut(Schema):
    observed_at: str | None
    change: str
    run_id: int | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None


class HistoryOut(Schema):
    id: str
    source: str
    resolved: ResolvedOut
    entries: list[HistoryEntryOut]


class CostComponentOut(Schema):
    """`quantity` of `name` at `price` per `unit` costs `cost`; `price_name` is the stored
    price used (`input_per_token`, `tiers[>200000].input_per_token`, ...). `name` is a
    quantity, or `regional_uplift` / `speed_uplift`: a multiplier (unit `multiplier`, price the
    factor, `uplifts.<name>`) of the whole cost, its cost what it adds."""

    name: str
    quantity: int | DecimalText
    unit: str
    price: DecimalText
    # The same price per million tokens, as prices are compared; null for any other unit.
    price_per_million: DecimalText | None
    price_name: str
    cost: DecimalText
    # Only in an answer priced with a price book:
    list_price: DecimalText | None = Field(
        default=None,
        description="With `price_book`: the list price of the same price (null: the list "
        "states none and a `set` rule gave it).",
    )
    rule: AppliedRuleOut | None = Field(
        default=None,
        description="With `price_book`: the rule that set the price (null: list price).",
    )


class AppliedRuleOut(Schema):
    """Which rule of which book set a price: the book, its version, the rule's place (from 0)."""

    book: str
    version: int
    rule: int


class BookNameVersion(Schema):
    name: str
    version: int


class BookUsedOut(Schema):
    """The price book an answer was priced with, its version, and its bases (deepest first)."""

    name: str
    version: int
    bases: list[BookNameVersion]


class CostOut(Schema):
    model: str
    source: str
    total: DecimalText
    currency: Literal["USD"]
    service_tier: ServiceTier
    components: list[CostComponentOut]
    tier_above_tokens: int | None
    window: str | None
    region: str | None = Field(description="The regional uplift applied, if any.")
    format: ProviderFormat | None = Field(
        description="The provider format `usage` or `response` was read as (null: flat counts)."
    )
    notes: list[str] = Field(
        description="What was assumed in reading and pricing the request, one sentence each "
        "(empty when nothing was): a stated total that is not the sum of its parts (the parts "
        "are priced), a modality the provider bills at the text price priced so, counts the "
        "body reports that no price applies to, a region without an uplift. The same in "
        "`POST /api/cost` and each line of `POST /api/cost/batch`."
    )
    price_version: int | None
    priced_at: str | None
    resolved: ResolvedOut
    price_book: BookUsedOut | None = Field(
        default=None, description="With `price_book`: the book and version priced with."
    )


class CostLineErrorOut(Schema):
    """A batch item that could not be priced: its line (or array item) number from 1 and the
    error POST /api/cost would answer, with its HTTP status."""

    line: int
    error: str
    status: int
    detail: str
    field: str | None = None
    price: str | None = None
    candidates: list[EntryRefOut] | None = None
    suggestions: list[EntryRefOut] | None = None


class CostBatchOut(RootModel):
    """Answer of POST /api/cost/batch: one result or error object per request, in order."""

    model_config = ConfigDict(defer_build=True)
    root: list[CostOut | CostLineErrorOut]


class SourceOutcomeOut(Schema):
    source: str
    run_id: int | None
    outcome: str
    finished_at: str | None
    fetched: int
    added: int
    changed: int
    removed: int
    held: int
    rejected: int
    problems: list[ProblemOut]
    error: str | None
    snapshot_date: str | None


class CatalogOut(Schema):
    version: int | None
    updated_at: str | None
    models: int
    counts: dict[str, int]
    sources: list[SourceOutcomeOut]
    held: list[HeldChangeOut]


class CatalogCopyOut(Schema):
    """GET /api/catalog/copy: every served model's prices, for an in-process client."""

    format: int = Field(description="The document's shape; a client refuses one it can't read.")
    version: int | None
    updated_at: str | None
    preferred: list[str] = Field(description="Sources in the order a bare id resolves by.")
    models: list[dict[str, Any]] = Field(
        description="One item per served (source, model id): prices as exact decimal text, "
        "tiers, units, pricing rules and descriptive fields."
    )


class AdminRefreshOut(Schema):
    """POST /admin/refresh: the refresh started under the lease."""

    status: str
    job: str
    instance_id: str


class AdminStatusOut(Schema):
    """An admin answer whose fields follow the coordinator's or the review's own status."""

    model_config = ConfigDict(extra="allow")


class ErrorOut(Schema):
    error: str
    detail: str
    field: str | None = None
    # A 404 for a model: up to five served ids near the name asked for.
    suggestions: list[EntryRefOut] | None = None


class AmbiguousOut(ErrorOut):
    """409: the model asked for is not one model of its maker (several match, or only a
    platform's or a reseller's offering does); ask again with one candidate's id. The
    candidates are ranked: the maker's own entries first."""

    candidates: list[EntryRefOut]

"""The words ratecard stores and serves, each written once: job names, statuses, outcomes, kinds.

Every member is a `StrEnum`, so it *is* its string: `JobName.REFRESH == "refresh"`, it is
stored in the database and rendered in JSON as that string, and values read back from the
database or a Redis blob compare equal to it. Nothing here imports anything of ratecard (the
settings module reads FEED_KINDS), so any layer may import it.
"""

from __future__ import annotations

from enum import StrEnum


class JobName(StrEnum):
    """The periodic jobs the coordinator runs (`job_state.job`, `runs.job`)."""

    REFRESH = "refresh"
    MAINTENANCE = "maintenance"
    # Not a periodic job: the run an admin's approval or rejection of held changes records.
    HELD_REVIEW = "held-review"
    # Not a periodic job: an archived snapshot recorded by `ratecard prices import`.
    IMPORT = "import"


class Trigger(StrEnum):
    """Why a run started (`runs.trigger`)."""

    SCHEDULE = "schedule"  # the period's first contender ran it
    CATCH_UP = "catch-up"  # a missed period, run late
    ADMIN = "admin"  # POST /admin/refresh or a held-change review
    CLI = "cli"  # `ratecard worker run-once`, `ratecard prices refresh`


SCHEDULED_TRIGGERS = frozenset({Trigger.SCHEDULE, Trigger.CATCH_UP})


class PriceStatus(StrEnum):
    """What a model's prices mean (`models.status`); the order is the display order."""

    PRICED = "priced"
    FREE = "free"  # every price is 0
    DYNAMIC = "dynamic"  # the feed says the price varies (OpenRouter's "-1")
    UNPRICED = "unpriced"  # listed without any price


# Statuses whose prices cannot be compared or charged.
UNCHARGEABLE_STATUSES = frozenset({PriceStatus.DYNAMIC, PriceStatus.UNPRICED})


class ServiceTier(StrEnum):
    """How fast (and at what price) a provider served a request (`service_tier` of a cost)."""

    STANDARD = "standard"
    BATCH = "batch"  # asynchronous batch APIs, usually half price
    FLEX = "flex"  # slower, cheaper (OpenAI flex, Gemini flex)
    PRIORITY = "priority"  # faster, dearer (OpenAI/Anthropic priority)


class PricingRule(StrEnum):
    """Keys of `ModelPrice.rules`: how a source's prices are applied where providers differ."""

    THRESHOLD = "threshold"  # "inclusive": a tier applies from its threshold, not above it
    TIERS = "tiers"  # "bands": one band prices every token (DashScope), no carry-over
    REASONING = "reasoning"  # "output": reasoning tokens always at the output price (xAI)
    BATCH = "batch"  # "half": without stated batch prices, batch is half the standard
    WEB_SEARCH_BILLING_UNIT = "web_search_billing_unit"  # per_prompt | per_query


class RunOutcome(StrEnum):
    """How a run ended (`runs.outcome`, the refresh metric's label, job results)."""

    RUNNING = "running"  # not finished (or its process died: the dashboard shows it)
    SUCCESS = "success"
    UNCHANGED = "unchanged"
    PARTIAL = "partial"  # some sources failed, the others were stored
    FAILED = "failed"
    QUARANTINED = "quarantined"  # every reached feed was held as a whole
    REJECTED = "rejected"  # a held-change review refused by the store
    CANCELLED = "cancelled"  # the lease was lost or the process stopped mid-run
    FENCED = "fenced"  # a newer runner committed the period first: nothing written
    ERROR = "error"  # a job raised something it did not classify
    # A manual run that never started: no lease store reachable, or the lease stayed held.
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    IMPORTED = "imported"  # `ratecard prices import` recorded an archived snapshot


# Outcomes after which the served catalog is fresh (health, dashboard, metrics).
FRESH_OUTCOMES = (RunOutcome.SUCCESS, RunOutcome.UNCHANGED, RunOutcome.PARTIAL)
# Outcomes whose run record is committed with the period (the fence advanced).
COMMITTED_OUTCOMES = (*FRESH_OUTCOMES, RunOutcome.FAILED, RunOutcome.QUARANTINED)
# Outcomes the coordinator counts as a failure of the job (retry sooner, log loudly).
FAILED_OUTCOMES = frozenset({RunOutcome.FAILED, RunOutcome.ERROR})
# Outcomes of a manual run that did not run the job at all.
NOT_RUN_OUTCOMES = frozenset({RunOutcome.UNAVAILABLE, RunOutcome.TIMEOUT})
# Outcomes that are not the job's fault: nothing was written and another run will do it.
STOOD_DOWN_OUTCOMES = frozenset({RunOutcome.CANCELLED, RunOutcome.FENCED})
# Outcomes the dashboard flags.
PROBLEM_OUTCOMES = (
    RunOutcome.FAILED,
    RunOutcome.PARTIAL,
    RunOutcome.QUARANTINED,
    RunOutcome.ERROR,
    RunOutcome.CANCELLED,
    RunOutcome.FENCED,
)


class SourceOutcome(StrEnum):
    """How one source fared in a refresh (`run_sources.outcome`)."""

    SUCCESS = "success"
    UNCHANGED = "unchanged"  # fetched, identical to what is stored
    NOT_MODIFIED = "not-modified"  # the server said 304 (or the file did not change)
    FAILED = "failed"
    QUARANTINED = "quarantined"
    BOOTSTRAPPED = "bootstrapped"  # the bundled snapshot stood in for an empty catalog
    IMPORTED = "imported"  # an archived snapshot recorded as the source's state at a time


# Per-source outcomes after which the served state *is* the feed at `finished_at` (an
# observation of the source: backfilled history is slotted between these).
OBSERVED_OUTCOMES = (
    SourceOutcome.SUCCESS,
    SourceOutcome.UNCHANGED,
    SourceOutcome.NOT_MODIFIED,
    SourceOutcome.BOOTSTRAPPED,
    SourceOutcome.IMPORTED,
)


class HeldKind(StrEnum):
    """What a held change holds back (`held_changes.kind`)."""

    PRICE = "price"  # one model's suspicious new prices
    FEED = "feed"  # a whole feed, quarantined


class HeldStatus(StrEnum):
    """Where a held change stands (`held_changes.status`)."""

    PENDING = "pending"
    ACCEPTED = "accepted"  # an admin applied it
    REJECTED = "rejected"
    CONFIRMED = "confirmed"  # the next feed agreed with it: applied
    SUPERSEDED = "superseded"  # a newer feed replaced it


class ChangeKind(StrEnum):
    """What happened to a model's prices in one run (`price_history.change`)."""

    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"
    RESTORED = "restored"  # back in the feed after a removal


class ChangeLogKind(StrEnum):
    """What the change log (its feed, Atom and webhooks) calls a change (`changes.kind`)."""

    ADDED = "added"  # also a model restored to its feed
    REMOVED = "removed"
    CHANGED = "changed"
    HELD = "held"  # a suspicious change held back for review
    RELEASED = "released"  # a hold ended: confirmed by the feed, accepted or rejected
    # Coverage, logged beside the `added` or `changed` entry of the same history row:
    APPEARED = "appeared"  # a model no source listed before (by id and linked identity)
    PRICED = "priced"  # a model listed without a price gets its first one
    # A price book's new version (created, replaced, deleted): heard only by an admin's feed
    # and by subscriptions that ask for this kind (a private book's changes are private).
    PRICE_BOOK = "price_book"


class DeliveryStatus(StrEnum):
    """Where a webhook message stands (`webhook_events.status`)."""

    PENDING = "pending"  # not delivered yet (possibly after failed attempts)
    DELIVERED = "delivered"
    DEAD = "dead"  # dead-lettered: every attempt failed; redeliverable by an admin


# The lease whose holder sends the webhook outbox (not a periodic job: no slot, no fence).
DELIVERY_LEASE = "delivery"


class FeedKind(StrEnum):
    """The price feed formats ratecard reads; `ingest.feeds` has one parser module per kind."""

    LITELLM = "litellm"
    OPENROUTER = "openrouter"
    GENAI_PRICES = "genai_prices"


# What RATECARD_SOURCES accepts; a test checks it equals the feed registry's kinds.
FEED_KINDS: tuple[str, ...] = tuple(FeedKind)


class UsageFormat(StrEnum):
    """The provider formats `POST /api/cost` reads; `prices.formats` has one reader for each."""

    OPENAI_CHAT = "openai.chat"  # Chat Completions `usage`
    OPENAI_RESPONSES = "openai.responses"  # Responses API `usage`
    ANTHROPIC = "anthropic"  # Messages `usage`
    GEMINI = "gemini"  # generateContent `usageMetadata` (Gemini API and Vertex AI)
    BEDROCK = "bedrock"  # Converse `usage`
    OPENAI_EMBEDDINGS = "openai.embeddings"  # Embeddings `usage` (and compatible APIs')
    OPENAI_IMAGES = "openai.images"  # Images generations and edits `usage`
    OPENAI_TRANSCRIPTION = "openai.transcription"  # audio transcriptions `usage`
    OPENAI_SPEECH = "openai.speech"  # text-to-speech `speech.audio.done` event `usage`
    DEEPSEEK = "deepseek"  # DeepSeek chat `usage` (its own cache hit and miss counters)
    XAI = "xai"  # xAI chat `usage` (reasoning outside completion_tokens)
    GROQ = "groq"  # Groq chat `usage` (timings beside OpenAI's counters; its own tiers)
    COHERE = "cohere"  # Cohere v2 chat `usage` (`billed_units`)
    MISTRAL_OCR = "mistral.ocr"  # Mistral OCR `usage_info`


# The longest text each stored field of a model takes: the `models` table's column lengths
# (schema.py), and what a feed entry is checked against before it is stored (an entry longer
# than one is rejected and named, never truncated).
MODEL_TEXT_LIMITS: dict[str, int] = {
    "model_id": 512,
    "provider": 128,
    "mode": 64,
    "alias_target": 512,
}

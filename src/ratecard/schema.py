"""The database schema (SQLAlchemy 2.0 Core tables); Alembic revisions create exactly this.

Prices are exact: `ExactDecimal` is an unconstrained NUMERIC on PostgreSQL (any scale, so
0.0000000208333333333333 survives a round trip) and TEXT on SQLite, which has no exact
decimal type and would otherwise store a binary float.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    cast,
    false,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from ratecard.vocabulary import MODEL_TEXT_LIMITS

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal stored without loss: NUMERIC on PostgreSQL, canonical text on SQLite."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(80))
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        if dialect.name == "sqlite":
            return format(value, "f")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value))


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, written and read.

    PostgreSQL's timestamptz already behaves so; SQLite stores text and hands back naive
    datetimes. Normalizing here, once, spares every reader its own "assume UTC" patch.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_utc(value)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = UtcDateTime()

# One row per (source, model id): the prices served now. Rows are never deleted when a feed
# drops a model: `removed_at` is set instead, so history and `at`-pricing still resolve.
models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("model_id", String(MODEL_TEXT_LIMITS["model_id"]), nullable=False),
    Column("provider", String(MODEL_TEXT_LIMITS["provider"])),
    Column("mode", String(MODEL_TEXT_LIMITS["mode"])),
    Column("status", String(16), nullable=False),  # priced | free | dynamic | unpriced
    Column("context_window", BigInteger),
    Column("max_output_tokens", BigInteger),
    Column("input_per_token", ExactDecimal()),
    Column("output_per_token", ExactDecimal()),
    Column("cache_read_per_token", ExactDecimal()),
    Column("cache_write_per_token", ExactDecimal()),
    # Long-context tiers and per-unit prices, as decimal strings: see prices.feeds.
    Column("tiers", JSON),
    Column("units", JSON),
    # Service-tier variants, time windows, regional uplifts, pricing rules: prices.codec.
    Column("pricing", JSON),
    # What an OpenRouter `~...-latest` alias stands for today: links it to that model.
    Column("alias_target", String(MODEL_TEXT_LIMITS["alias_target"])),
    Column("first_seen_at", Timestamp, nullable=False),
    Column("last_seen_at", Timestamp, nullable=False),
    Column("last_changed_at", Timestamp, nullable=False),
    Column("removed_at", Timestamp),
    Column("last_run_id", Integer),
    # Set while the feed's entry for this model is rejected: the row keeps its last good
    # prices (served, marked stale) instead of being removed over one bad value.
    Column("rejected_reason", Text),
    Column("rejected_since", Timestamp),
    UniqueConstraint("source", "model_id"),
    Index("ix_models_model_id", "model_id"),
    Index("ix_models_provider", "provider"),
)

# A refresh (or any coordinated job run): one row per run, with the slot and fence it held.
runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(64), nullable=False),
    Column("slot", BigInteger),
    Column("fence", BigInteger),
    Column("instance_id", String(255)),
    Column("trigger", String(32)),  # schedule | catch-up | admin | cli
    Column("started_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp),
    Column("outcome", String(32), nullable=False),  # running | success | unchanged | failed | ...
    Column("error", Text),
    Column("catalog_version", BigInteger),
    Index("ix_runs_job_started_at", "job", "started_at"),
)

# Per-source outcome of a refresh run: the counts and the reason when it failed.
run_sources = Table(
    "run_sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("source", String(64), nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp),
    Column("outcome", String(32), nullable=False),  # success | unchanged | not-modified | ...
    Column("fetched", Integer, nullable=False, server_default="0"),
    Column("added", Integer, nullable=False, server_default="0"),
    Column("changed", Integer, nullable=False, server_default="0"),
    Column("removed", Integer, nullable=False, server_default="0"),
    Column("held", Integer, nullable=False, server_default="0"),
    Column("rejected", Integer, nullable=False, server_default="0"),
    Column("unknown_fields", Integer, nullable=False, server_default="0"),
    Column("error", Text),
    # What the feed got wrong, per entry: [{"model_id", "field" (null: the whole entry),
    # "reason"}], the first PROBLEMS_RECORDED of them (run_records).
    Column("problems", JSON),
    Index("ix_run_sources_run_id", "run_id"),
    Index("ix_run_sources_source_started_at", "source", "started_at"),
)

# Price history: every change to what is served, old -> new as JSON snapshots of decimal
# strings, when it was observed and by which run.
price_history = Table(
    "price_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_pk", Integer, ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="SET NULL")),
    Column("observed_at", Timestamp, nullable=False),
    Column("change", String(16), nullable=False),  # added | changed | removed | restored
    Column("old", JSON),
    Column("new", JSON),
    Index("ix_price_history_model_pk_observed_at", "model_pk", "observed_at"),
)

# Suspicious changes held back (a price moving 100x, paid -> free) and whole feeds
# quarantined (too many removals), awaiting confirmation by the next fetch or an admin.
held_changes = Table(
    "held_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # price | feed
    Column("source", String(64), nullable=False),
    Column("model_id", String(512)),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="SET NULL")),
    Column("detected_at", Timestamp, nullable=False),
    Column("reason", Text, nullable=False),
    Column("factor", String(64)),
    Column("old", JSON),
    Column("proposed", JSON),
    Column("status", String(16), nullable=False),  # pending | accepted | rejected | confirmed
    Column("resolved_at", Timestamp),
    Column("resolved_by", String(255)),
    Index("ix_held_changes_status", "status"),
)

# Per-source fetch state for conditional requests (ETag / Last-Modified).
source_state = Table(
    "source_state",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("url", Text),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("content_sha256", String(64)),
    Column("last_fetched_at", Timestamp),
    Column("last_success_at", Timestamp),
    Column("snapshot_date", String(32)),
    # The first start of a dated price still ahead when the body was last parsed: from then
    # on the next fetch sends no validators and parses even an identical body.
    Column("read_again_at", Timestamp),
)

# The fence: the last completed slot of each periodic job. See coordination.fence.
job_state = Table(
    "job_state",
    metadata,
    Column("job", String(64), primary_key=True),
    Column("last_slot", BigInteger, nullable=False, server_default="-1"),
    Column("last_run_id", Integer),
    Column("updated_at", Timestamp),
    # Incremented by every committed run: fences manual runs (see coordination.fence).
    Column("generation", BigInteger, nullable=False, server_default="0"),
    # After a failed run, no instance retries the open slot before this time.
    Column("retry_not_before", Timestamp),
)

# Fallback leases when Redis is away: one row per lease name. See coordination.sql_lease.
leases = Table(
    "leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(255)),
    Column("token", String(64)),
    Column("fence", BigInteger, nullable=False, server_default="0"),
    Column("acquired_at", Timestamp),
    Column("expires_at", Timestamp),
)

# Instance heartbeats in the database (the registry lives in Redis when it is up).
instances = Table(
    "instances",
    metadata,
    Column("instance_id", String(255), primary_key=True),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("version", String(64)),
    Column("role", String(32)),
    Column("started_at", Timestamp),
    Column("last_seen_at", Timestamp, nullable=False),
)

# --- the change log and the webhook outbox (see ratecard.changes) --------------------------------

# The change log: one row per change subscribers hear about, written in the transaction that
# commits the change itself. `seq` is the feed's cursor; it is drawn from `change_log_head`
# under that row's lock, so seq order is commit order (see changes.changelog). Prices are not
# copied here: old/new are read from the price_history or held_changes row the entry points to.
changes = Table(
    "changes",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("run_id", Integer),
    Column("kind", String(16), nullable=False),  # ChangeLogKind: added, changed, held, ...
    Column("source", String(64), nullable=False),
    Column("model_id", String(512)),
    Column("provider", String(128)),
    Column("observed_at", Timestamp, nullable=False),
    Column("history_id", Integer, ForeignKey("price_history.id", ondelete="CASCADE")),
    Column("held_id", Integer, ForeignKey("held_changes.id", ondelete="CASCADE")),
    # price_book_versions.id (no foreign key: see migration 0008; versions are never deleted).
    Column("book_version_id", Integer),
    Index("ix_changes_model_id", "model_id"),
    Index("ix_changes_run_id", "run_id"),
)

# Every version of every price book, kept when the book is replaced or deleted (its history,
# and what its change entries point at). `content` is the book as validated (null: deleted);
# `summary` what changed from the version before.
price_book_versions = Table(
    "price_book_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content", JSON),
    Column("summary", JSON, nullable=False),
    Column("public", Boolean, nullable=False, server_default=false()),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("name", "version", name="uq_price_book_versions_name_version"),
)

# The books that exist now: their current version and who may read them (the read key's
# SHA-256; the key itself is shown once and never stored).
price_books = Table(
    "price_books",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("public", Boolean, nullable=False, server_default=false()),
    Column("read_key_sha256", String(64)),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

# A single row (id = 1): the last seq handed out. Writers UPDATE it, which serializes them.
change_log_head = Table(
    "change_log_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
)

# Webhook subscriptions: where to POST, what to send, and the signing secret(s).
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("url", Text, nullable=False),
    Column("filter", JSON, nullable=False),
    Column("secret", String(100), nullable=False),
    # After a rotation the old secret keeps signing (a second signature) until this time.
    Column("previous_secret", String(100)),
    Column("previous_secret_until", Timestamp),
    Column("paused", Integer, nullable=False, server_default="0"),
    Column("created_at", Timestamp, nullable=False),
    Column("created_seq", BigInteger, nullable=False),  # changes after this seq only
)

# The outbox: one row per message (a webhook-id), written with the changes it carries.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(40), primary_key=True),  # the webhook-id, reused by every attempt
    Column(
        "subscription_id",
        String(40),
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("run_id", Integer),
    Column("page", Integer, nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("changes", Integer, nullable=False),
    Column("payload", Text, nullable=False),  # the exact body: every attempt sends these bytes
    Column("created_at", Timestamp, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Timestamp, nullable=False),
    Column("claim_token", String(64)),
    Column("claimed_until", Timestamp),
    Column("last_attempt_at", Timestamp),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("delivered_at", Timestamp),
    Index("ix_webhook_events_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_webhook_events_subscription_id_status", "subscription_id", "status"),
)

# The models columns, with the JSON ones as text: loading 3,000 rows then costs 3,000 string
# compares instead of 6,000 JSON parses (a third of an unchanged refresh otherwise).
MODEL_ROW_COLUMNS = [
    *(c for c in models.c if c.name not in ("tiers", "units", "pricing")),
    cast(models.c.tiers, Text).label("tiers"),
    cast(models.c.units, Text).label("units"),
    cast(models.c.pricing, Text).label("pricing"),
]

"""change log, webhook subscriptions and the webhook outbox

Revision ID: 0004_changes_outbox
Revises: 0003_model_alias_target
Create Date: 2026-11-29 16:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004_changes_outbox"
down_revision: str | Sequence[str] | None = "0003_model_alias_target"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create changes, change_log_head, webhook_subscriptions, webhook_events (additive)."""
    op.create_table(
        "changes",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.String(length=512), nullable=True),
        sa.Column("provider", sa.String(length=128), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("history_id", sa.Integer(), nullable=True),
        sa.Column("held_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["history_id"],
            ["price_history.id"],
            name=op.f("fk_changes_history_id_price_history"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["held_id"],
            ["held_changes.id"],
            name=op.f("fk_changes_held_id_held_changes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_changes")),
    )
    op.create_index("ix_changes_model_id", "changes", ["model_id"])
    op.create_index("ix_changes_run_id", "changes", ["run_id"])
    op.create_table(
        "change_log_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_log_head")),
    )
    op.execute("INSERT INTO change_log_head (id, last_seq) VALUES (1, 0)")
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_events_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
    )
    op.create_index(
        "ix_webhook_events_status_next_attempt_at",
        "webhook_events",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        "ix_webhook_events_subscription_id_status",
        "webhook_events",
        ["subscription_id", "status"],
    )


def downgrade() -> None:
    """Drop the four tables."""
    op.drop_table("webhook_events")
    op.drop_table("webhook_subscriptions")
    op.drop_table("change_log_head")
    op.drop_index("ix_changes_run_id", table_name="changes")
    op.drop_index("ix_changes_model_id", table_name="changes")
    op.drop_table("changes")

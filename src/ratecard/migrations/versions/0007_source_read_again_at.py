"""source_state: read_again_at (when a dated price in the feed starts)

Revision ID: 0007_source_read_again_at
Revises: 0006_model_pricing
Create Date: 2026-12-07 01:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007_source_read_again_at"
down_revision: str | Sequence[str] | None = "0006_model_pricing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add source_state.read_again_at (nullable, additive: code of the previous release ignores
    it; a null reads as "nothing scheduled", and the next refresh that parses sets it)."""
    with op.batch_alter_table("source_state") as batch:
        batch.add_column(sa.Column("read_again_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("source_state") as batch:
        batch.drop_column("read_again_at")

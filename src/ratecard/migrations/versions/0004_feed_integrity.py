"""feed integrity: stale marks on served models, per-entry problems on run records

Revision ID: 0004_feed_integrity
Revises: 0002_job_state_generation
Create Date: 2026-11-29 16:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004_feed_integrity"
down_revision: str | Sequence[str] | None = "0002_job_state_generation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add models.rejected_reason/rejected_since and run_sources.problems (expand only)."""
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("rejected_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("rejected_since", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("run_sources") as batch:
        batch.add_column(sa.Column("problems", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop the three columns."""
    with op.batch_alter_table("run_sources") as batch:
        batch.drop_column("problems")
    with op.batch_alter_table("models") as batch:
        batch.drop_column("rejected_since")
        batch.drop_column("rejected_reason")

"""job_state: commit generation (fences manual runs) and retry back-off

Revision ID: 0002_job_state_generation
Revises: 0001_initial
Create Date: 2026-11-28 12:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002_job_state_generation"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add job_state.generation and job_state.retry_not_before (additive)."""
    with op.batch_alter_table("job_state") as batch:
        batch.add_column(
            sa.Column("generation", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("retry_not_before", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop the two columns."""
    with op.batch_alter_table("job_state") as batch:
        batch.drop_column("retry_not_before")
        batch.drop_column("generation")

"""models: pricing (service-tier variants, time windows, regional uplifts, pricing rules)

Revision ID: 0006_model_pricing
Revises: 0005_feed_integrity
Create Date: 2026-11-29 19:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006_model_pricing"
down_revision: str | Sequence[str] | None = "0005_feed_integrity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add models.pricing (nullable, additive: code of the previous release ignores it; the
    next refresh fills it, and a row without it reads as "no variants, windows or rules")."""
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("pricing", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("models") as batch:
        batch.drop_column("pricing")

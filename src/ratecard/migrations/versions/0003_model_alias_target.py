"""models: alias_target (the model an OpenRouter `~...-latest` alias stands for)

Revision ID: 0003_model_alias_target
Revises: 0002_job_state_generation
Create Date: 2026-11-29 15:50:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003_model_alias_target"
down_revision: str | Sequence[str] | None = "0002_job_state_generation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add models.alias_target (nullable, additive: old code keeps working beside it)."""
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("alias_target", sa.String(512), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("models") as batch:
        batch.drop_column("alias_target")

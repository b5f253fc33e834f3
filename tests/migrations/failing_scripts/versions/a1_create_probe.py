"""Create a probe table (succeeds).

Revision ID: a1_create_probe
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "a1_create_probe"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("probe", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("probe")

"""Create a second table, then fail on a bad statement.

Revision ID: b2_fails
Revises: a1_create_probe
"""

import sqlalchemy as sa
from alembic import op

revision = "b2_fails"
down_revision = "a1_create_probe"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("probe_two", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("ALTER TABLE no_such_table ADD COLUMN nope integer")


def downgrade() -> None:
    op.drop_table("probe_two")

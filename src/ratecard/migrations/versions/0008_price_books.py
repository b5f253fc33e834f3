"""price_books and price_book_versions; changes.book_version_id (a price book's change entries)

Revision ID: 0008_price_books
Revises: 0007_source_read_again_at
Create Date: 2026-12-07 01:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008_price_books"
down_revision: str | Sequence[str] | None = "0007_source_read_again_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Two new tables and a nullable column (additive: code of the previous release ignores
    them; it never writes a price book, and reads change entries by their other columns)."""
    op.create_table(
        "price_book_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_price_book_versions_name_version"),
    )
    op.create_table(
        "price_books",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("read_key_sha256", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # No foreign key: SQLite cannot add one to an existing table without a "move and copy"
    # of it (which `ratecard migrate --dry-run` cannot do without the live table), and none
    # is needed: a book's versions are never deleted, so what an entry points at stays.
    with op.batch_alter_table("changes") as batch:
        batch.add_column(sa.Column("book_version_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("changes") as batch:
        batch.drop_column("book_version_id")
    op.drop_table("price_books")
    op.drop_table("price_book_versions")

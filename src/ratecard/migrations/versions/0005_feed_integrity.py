"""feed integrity: stale marks on served models, per-entry problems on run records

Revision ID: 0005_feed_integrity
Revises: 0004_changes_outbox
Create Date: 2026-11-29 16:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision: str = "0005_feed_integrity"
down_revision: str | Sequence[str] | None = "0004_changes_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# OpenRouter's `pricing.image` was stored as `input_per_image` (LiteLLM's per-image name)
# although it is a per-token price; it is now read as `input_image_per_token`. Renaming the
# stored key here matters: left alone, the first refresh after the upgrade would see
# `input_per_image` disappear from ~100 OpenRouter models, and the guard holds every price
# that disappears, so their (correct) new unit would wait a whole period for confirmation.
OPENROUTER_SOURCE = "openrouter"
OLD_UNIT, NEW_UNIT = "input_per_image", "input_image_per_token"


def upgrade() -> None:
    """Add models.rejected_reason/rejected_since and run_sources.problems (expand only)."""
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("rejected_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("rejected_since", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("run_sources") as batch:
        batch.add_column(sa.Column("problems", sa.JSON(), nullable=True))
    _rename_openrouter_image_unit(OLD_UNIT, NEW_UNIT)


def _rename_openrouter_image_unit(old: str, new: str) -> None:
    if context.is_offline_mode():
        # `migrate --dry-run` prints SQL without a database: there are no rows to read, and
        # the rename is data, not schema. The real run does it.
        return
    models = sa.table(
        "models",
        sa.column("id", sa.Integer()),
        sa.column("source", sa.String()),
        sa.column("units", sa.JSON()),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(models.c.id, models.c.units).where(models.c.source == OPENROUTER_SOURCE)
    ).all()
    for row in rows:
        units = row.units if isinstance(row.units, dict) else None
        if not units or old not in units:
            continue
        renamed = {(new if key == old else key): value for key, value in units.items()}
        conn.execute(sa.update(models).where(models.c.id == row.id).values(units=renamed))


def downgrade() -> None:
    """Drop the three columns (and give OpenRouter's image price its old name back)."""
    _rename_openrouter_image_unit(NEW_UNIT, OLD_UNIT)
    with op.batch_alter_table("run_sources") as batch:
        batch.drop_column("problems")
    with op.batch_alter_table("models") as batch:
        batch.drop_column("rejected_since")
        batch.drop_column("rejected_reason")

"""Alembic environment: online with the runner's connection, offline for --dry-run SQL."""

from __future__ import annotations

from alembic import context

from ratecard.schema import metadata

config = context.config


def run_offline() -> None:
    """Emit SQL to the configured output buffer; never connects."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=config.attributes.get("render_as_batch", False),
        # One transaction around every pending revision, as the online run does.
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Apply revisions on the connection the runner opened (and already locked for)."""
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        # All pending revisions in ONE transaction: on PostgreSQL (transactional DDL) a failing
        # revision rolls back every revision of this run, so the schema is never half-migrated.
        transaction_per_migration=False,
        on_version_apply=config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

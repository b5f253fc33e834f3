"""Deploy-time migrations: status, dry-run SQL, and a locked, transactional upgrade.

Nothing here runs when an instance starts; `ratecard migrate` (the release phase) calls it.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ratecard.db import build_engine
from ratecard.migrations import SCRIPT_LOCATION, VERSION_TABLE
from ratecard.migrations.applied import SchemaStatus
from ratecard.migrations.lock import migration_lock
from ratecard.settings import redact_url


class MigrationFailed(RuntimeError):
    """A revision failed; the message names it and the database error (never a password)."""


@dataclass
class Migrator:
    """Run Alembic against one database, from the revisions shipped in the package."""

    database_url: str
    script_location: str = SCRIPT_LOCATION
    echo: Callable[[str], None] = print

    def _config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", self.script_location)
        config.set_main_option("version_table", VERSION_TABLE)
        # ConfigParser treats % as interpolation; escape it (URL-encoded passwords).
        config.set_main_option("sqlalchemy.url", self.database_url.replace("%", "%%"))
        return config

    @property
    def scripts(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self._config())

    def pending_after(self, current: str | None) -> list[str]:
        """Return the revisions to apply after `current`, oldest first."""
        scripts = self.scripts
        head = scripts.get_current_head()
        if head is None or current == head:
            return []
        lower = current or "base"
        return [rev.revision for rev in reversed(list(scripts.iterate_revisions(head, lower)))]

    def status(self) -> SchemaStatus:
        """Read the current revision without writing anything (not even a version table)."""
        current = self._read_current_revision()
        scripts = self.scripts
        head = scripts.get_current_head() or "base"
        known = {rev.revision for rev in scripts.walk_revisions()}
        if current is not None and current not in known:
            return SchemaStatus(current=current, head=head, unknown_current=True)
        return SchemaStatus(current=current, head=head, pending=self.pending_after(current))

    def dry_run_sql(self) -> tuple[SchemaStatus, str]:
        """Return the status and the SQL the pending revisions would run (offline mode)."""
        status = self.status()
        if not status.pending:
            return status, ""
        buffer = io.StringIO()
        config = self._config()
        config.output_buffer = buffer
        config.attributes["render_as_batch"] = self.database_url.startswith("sqlite")
        span = f"{status.current}:head" if status.current else "head"
        command.upgrade(config, span, sql=True)
        return status, buffer.getvalue()

    def upgrade(self, wait: float) -> list[str]:
        """Apply every pending revision under the migration lock, in one transaction."""
        engine = build_engine(self.database_url, poolclass=_null_pool())
        try:
            with migration_lock(engine, wait) as conn:
                # Read the revision only once we hold the lock, in the lock's transaction: a
                # run that waited finds the work already done by the one before it and
                # applies nothing.
                current = MigrationContext.configure(
                    conn, opts={"version_table": VERSION_TABLE}
                ).get_current_revision()
                pending = self.pending_after(current)
                if not pending:
                    return []
                # The revisions run in the lock's own transaction: the lock is held on the
                # connection that runs the DDL and ends with its COMMIT (see lock.py).
                self._apply(conn, pending)
                return pending
        finally:
            engine.dispose()

    def _apply(self, conn: Connection, pending: list[str]) -> None:
        applied: list[str] = []
        config = self._config()

        def on_version_apply(**kwargs: Any) -> None:
            for revision in kwargs["step"].up_revision_ids:
                applied.append(revision)
                self.echo(f"  applied {revision}")

        config.attributes["on_version_apply"] = on_version_apply
        config.attributes["connection"] = conn
        started = time.perf_counter()
        try:
            command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            # Raised out of migration_lock's block: its transaction rolls back, lock included.
            failing = pending[len(applied)] if len(applied) < len(pending) else pending[-1]
            rolled_back = (
                "every revision of this run was rolled back"
                if conn.dialect.name == "postgresql"
                else "SQLite cannot roll back all DDL; check the schema"
            )
            raise MigrationFailed(
                f"revision {failing} failed: {database_error_text(exc, self.database_url)}; "
                f"{rolled_back}"
            ) from None
        self.echo(f"  {len(applied)} revision(s) in {time.perf_counter() - started:.2f} s")

    def _read_current_revision(self) -> str | None:
        engine = _inspection_engine(self.database_url)
        if engine is None:
            return None
        try:
            with engine.connect() as conn:
                if not inspect(conn).has_table(VERSION_TABLE):
                    return None
                return MigrationContext.configure(
                    conn, opts={"version_table": VERSION_TABLE}
                ).get_current_revision()
        finally:
            engine.dispose()


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


def _inspection_engine(database_url: str) -> Engine | None:
    """An engine that cannot change the database: SQLite opened read-only, or not at all."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return build_engine(database_url, poolclass=_null_pool())
    database = url.database
    if not database or database == ":memory:":
        return None
    if not Path(database).exists():
        return None  # a dry run must not create the file
    return create_engine(f"sqlite:///file:{database}?mode=ro&uri=true")


def database_error_text(exc: BaseException, database_url: str) -> str:
    """Return the database's own message, first line only, with any password removed."""
    original = getattr(exc, "orig", None) or exc
    message = str(original).strip().splitlines()[0] if str(original).strip() else repr(original)
    password = make_url(database_url).password
    if password:
        message = message.replace(str(password), "***")
    return message.replace(database_url, redact_url(database_url))

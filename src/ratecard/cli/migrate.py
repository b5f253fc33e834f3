"""`ratecard migrate`: apply the schema once per deployment (the release phase)."""

from __future__ import annotations

import sys
import time

import click

from ratecard.cli.common import load_settings
from ratecard.settings import redact_url


@click.command()
@click.option(
    "--dry-run", is_flag=True, help="Print pending revisions and their SQL; change nothing."
)
@click.option("--status", "show_status", is_flag=True, help="Show current revision, head, pending.")
@click.option("--check", is_flag=True, help="Exit 1 when any revision is pending (release gating).")
@click.option(
    "--wait",
    default=300.0,
    show_default=True,
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="How long to wait for another migrate holding the lock.",
)
@click.option("--fail-fast", is_flag=True, help="Refuse at once if another migrate holds the lock.")
def migrate(dry_run: bool, show_status: bool, check: bool, wait: float, fail_fast: bool) -> None:
    """Apply pending schema revisions under a cross-process lock, in one transaction.

    Run once per release (Kubernetes Job, Heroku release phase), never at instance start.
    Concurrent runs are serialized: the first applies, the others wait and find nothing to do.
    """
    modes = [
        name
        for name, on in (("--dry-run", dry_run), ("--status", show_status), ("--check", check))
        if on
    ]
    if len(modes) > 1:
        raise click.UsageError(f"choose one of {', '.join(modes)}")
    settings = load_settings()
    sys.exit(
        run_migrate_command(
            settings.database_url, dry_run, show_status, check, 0.0 if fail_fast else wait
        )
    )


def run_migrate_command(
    database_url: str,
    dry_run: bool = False,
    show_status: bool = False,
    check: bool = False,
    wait: float = 300.0,
    script_location: str | None = None,
) -> int:
    """Run one migrate mode and return the process exit code (shared with deploy_migrations.py)."""
    started = time.perf_counter()
    target = redact_url(database_url)
    if script_location is None:
        # What every deploy meets: the database already at head. One query on the bare
        # driver settles it before Alembic and SQLAlchemy are imported; anything else goes
        # the full way below (why reading without the lock is safe: migrations/applied.py).
        from ratecard.migrations.applied import status_if_at_head

        at_head = status_if_at_head(database_url)
        if at_head is not None:
            if dry_run or show_status or check:
                _print_status(at_head, target)
            else:
                click.echo(f"Migrating {target}")
                elapsed = time.perf_counter() - started
                click.echo(f"Already at head; nothing to do ({elapsed:.2f} s)")
            return 0

    from sqlalchemy.exc import SQLAlchemyError

    from ratecard.migrations.lock import MigrationLockTimeout
    from ratecard.migrations.upgrade import MigrationFailed, Migrator, database_error_text

    migrator = Migrator(database_url, echo=click.echo)
    if script_location is not None:
        migrator.script_location = script_location
    try:
        if dry_run:
            status, sql = migrator.dry_run_sql()
            _print_status(status, target)
            if status.pending:
                click.echo("-- SQL that `ratecard migrate` would run (nothing was changed):")
                click.echo(sql.rstrip())
            return 0
        if show_status or check:
            status = migrator.status()
            _print_status(status, target)
            if check and status.state == "behind":
                click.echo(f"check failed: {len(status.pending)} revision(s) pending", err=True)
                return 1
            return 0
        started = time.perf_counter()
        click.echo(f"Migrating {target}")
        applied = migrator.upgrade(wait=wait)
        elapsed = time.perf_counter() - started
        if applied:
            click.echo(
                f"Applied {len(applied)} revision(s); now at {applied[-1]} ({elapsed:.2f} s)"
            )
        else:
            click.echo(f"Already at head; nothing to do ({elapsed:.2f} s)")
        return 0
    except MigrationLockTimeout as exc:
        click.echo(f"error: {exc}", err=True)
        return 3
    except MigrationFailed as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    except SQLAlchemyError as exc:
        click.echo(f"error: database: {database_error_text(exc, database_url)}", err=True)
        return 1


def _print_status(status: object, target: str) -> None:
    from ratecard.migrations.applied import SchemaStatus

    assert isinstance(status, SchemaStatus)
    click.echo(f"database: {target}")
    click.echo(f"current:  {status.current or '(empty: no revision applied)'}")
    click.echo(f"head:     {status.head}")
    if status.state == "ahead":
        click.echo("state:    ahead (the database is newer than this code: fine during a rollout)")
    elif status.pending:
        click.echo(f"pending:  {len(status.pending)}: {', '.join(status.pending)}")
    else:
        click.echo("pending:  none (at head)")

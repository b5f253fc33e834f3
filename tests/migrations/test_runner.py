"""The migration runner: revisions in sync with the schema, and a failing revision rolls back."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from ratecard.cli.migrate import run_migrate_command
from ratecard.migrations import HEAD_REVISION, KNOWN_REVISIONS
from ratecard.migrations.upgrade import Migrator
from ratecard.schema import metadata
from tests.migrations.helpers import table_names

FAILING_SCRIPTS = str(Path(__file__).parent / "failing_scripts")


def test_known_revisions_match_the_revisions_alembic_finds() -> None:
    scripts = Migrator("sqlite://").scripts
    in_order = [rev.revision for rev in reversed(list(scripts.walk_revisions()))]

    assert tuple(in_order) == KNOWN_REVISIONS
    assert scripts.get_current_head() == HEAD_REVISION


@pytest.mark.parametrize("fixture", ["migrated_pg_url", "migrated_sqlite_url"])
def test_migrated_schema_equals_the_code_schema(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(fixture)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()

    assert diff == [], f"schema.py and the revisions disagree: {diff}"


def test_a_failing_revision_rolls_back_everything_and_names_itself(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url_with_password = pg_url.replace("postgres@", "postgres:s3cret-pw@")

    code = run_migrate_command(url_with_password, script_location=FAILING_SCRIPTS, wait=10)

    err = capsys.readouterr().err
    assert code == 1
    assert "revision b2_fails failed" in err
    assert "no_such_table" in err  # the database's own error
    assert "s3cret-pw" not in err
    # PostgreSQL DDL is transactional: the successful a1 and the half-done b2 are both gone.
    assert table_names(pg_url) == set()


def test_pending_after_lists_revisions_oldest_first() -> None:
    migrator = Migrator("sqlite://", script_location=FAILING_SCRIPTS)

    assert migrator.pending_after(None) == ["a1_create_probe", "b2_fails"]
    assert migrator.pending_after("a1_create_probe") == ["b2_fails"]
    assert migrator.pending_after("b2_fails") == []

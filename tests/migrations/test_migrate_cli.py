"""`ratecard migrate` and `python deploy_migrations.py` as real processes, on both databases."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from ratecard.migrations import HEAD_REVISION, KNOWN_REVISIONS
from tests.migrations.helpers import run_cli, table_names
from tests.support.services import REPO

EXPECTED_TABLES = {
    "models",
    "price_history",
    "runs",
    "run_sources",
    "held_changes",
    "source_state",
    "job_state",
    "leases",
    "instances",
    "alembic_version",
}


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of either kind."""
    fixture = "pg_url" if request.param == "postgresql" else "sqlite_url"
    return str(request.getfixturevalue(fixture))


def test_dry_run_prints_sql_and_leaves_an_empty_database_empty(empty_url: str) -> None:
    result = run_cli(["migrate", "--dry-run"], empty_url)

    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE models" in result.stdout
    assert "CREATE TABLE alembic_version" in result.stdout
    assert KNOWN_REVISIONS[0] in result.stdout
    if empty_url.startswith("sqlite"):
        assert not os.path.exists(empty_url.removeprefix("sqlite:///")), "dry-run created the file"
    else:
        assert table_names(empty_url) == set(), "dry-run changed the database"


def test_migrate_applies_every_revision_then_has_nothing_to_do(empty_url: str) -> None:
    first = run_cli(["migrate"], empty_url)
    second = run_cli(["migrate"], empty_url)

    assert first.returncode == 0, first.stderr
    assert f"applied {HEAD_REVISION}" in first.stdout
    assert table_names(empty_url) >= EXPECTED_TABLES
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stdout
    assert "applied" not in second.stdout


def test_check_exits_1_while_pending_and_0_at_head(empty_url: str) -> None:
    before = run_cli(["migrate", "--check"], empty_url)
    run_cli(["migrate"], empty_url)
    after = run_cli(["migrate", "--check"], empty_url)

    assert before.returncode == 1
    assert "pending" in before.stdout
    assert after.returncode == 0, after.stderr
    assert "at head" in after.stdout


def test_status_reports_current_head_and_pending(empty_url: str) -> None:
    before = run_cli(["migrate", "--status"], empty_url)
    run_cli(["migrate"], empty_url)
    after = run_cli(["migrate", "--status"], empty_url)

    assert before.returncode == 0
    assert f"head:     {HEAD_REVISION}" in before.stdout
    assert "current:  (empty" in before.stdout
    assert f"pending:  {len(KNOWN_REVISIONS)}" in before.stdout
    assert f"current:  {HEAD_REVISION}" in after.stdout


def test_status_of_a_database_ahead_of_the_code_is_not_a_failure(migrated_pg_url: str) -> None:
    engine = create_engine(migrated_pg_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    engine.dispose()

    result = run_cli(["migrate", "--check"], migrated_pg_url)

    assert result.returncode == 0
    assert "ahead" in result.stdout


def test_five_concurrent_migrates_apply_each_revision_exactly_once(empty_url: str) -> None:
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda _: run_cli(["migrate"], empty_url), range(5)))

    assert [r.returncode for r in results] == [0] * 5, [r.stderr for r in results]
    for revision in KNOWN_REVISIONS:
        applied = sum(r.stdout.count(f"applied {revision}") for r in results)
        assert applied == 1, f"{revision} applied {applied} times"
    engine = create_engine(empty_url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    assert versions == [HEAD_REVISION]


def test_deploy_migrations_py_works_verbatim_from_the_repository_root(empty_url: str) -> None:
    env = dict(os.environ, DATABASE_URL=empty_url)

    def deploy(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "deploy_migrations.py", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    dry = deploy("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "CREATE TABLE models" in dry.stdout
    assert "alembic_version" not in table_names(empty_url)

    check_before = deploy("--check")
    applied = deploy()
    check_after = deploy("--check")

    assert check_before.returncode == 1
    assert applied.returncode == 0, applied.stderr
    assert check_after.returncode == 0
    assert table_names(empty_url) >= EXPECTED_TABLES


def test_a_bad_database_url_is_a_one_line_error_naming_the_variable() -> None:
    result = run_cli(["migrate"], "mysql://user:hunter2@localhost/db")

    assert result.returncode == 2
    assert "DATABASE_URL must start with" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_an_unreachable_database_fails_clearly_without_the_password() -> None:
    url = "postgresql://postgres:hunter2@127.0.0.1:1/nowhere"

    result = run_cli(["migrate"], url, timeout=30)

    assert result.returncode == 1
    assert "error: database:" in result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout

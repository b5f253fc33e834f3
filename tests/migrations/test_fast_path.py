"""`ratecard migrate` on an up-to-date database: one driver query, no Alembic, same answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from ratecard.db import build_engine
from ratecard.migrations import HEAD_REVISION, KNOWN_REVISIONS
from ratecard.migrations.applied import status_if_at_head
from ratecard.migrations.lock import migration_lock
from tests.migrations.helpers import run_cli
from tests.support.services import REPO

# Runs the CLI in-process and reports which heavy modules it imported.
IMPORTS_SCRIPT = """
import contextlib, io, json, sys
from ratecard.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "out": out.getvalue(),
                  "alembic": "alembic" in sys.modules, "sqlalchemy": "sqlalchemy" in sys.modules}))
"""


@pytest.fixture(params=["postgresql", "sqlite"])
def head_url(request: pytest.FixtureRequest) -> str:
    """A database of either kind, migrated to head."""
    fixture = "migrated_pg_url" if request.param == "postgresql" else "migrated_sqlite_url"
    return str(request.getfixturevalue(fixture))


def run_in_process(args: list[str], database_url: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS_SCRIPT, *args],
        env=dict(os.environ, DATABASE_URL=database_url),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["migrate"], "Already at head; nothing to do"),
        (["migrate", "--check"], f"current:  {HEAD_REVISION}"),
        (["migrate", "--status"], "pending:  none (at head)"),
        (["migrate", "--dry-run"], "pending:  none (at head)"),
    ],
)
def test_an_up_to_date_database_is_answered_without_alembic_or_sqlalchemy(
    head_url: str, args: list[str], expected: str
) -> None:
    result = run_in_process(args, head_url)
    assert result["code"] == 0
    assert expected in str(result["out"])
    assert result["alembic"] is False, "Alembic was imported to find nothing to do"
    assert result["sqlalchemy"] is False, "SQLAlchemy was imported to find nothing to do"


def test_a_database_behind_still_goes_the_full_way(head_url: str) -> None:
    engine = build_engine(head_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": KNOWN_REVISIONS[0]})
    engine.dispose()
    assert status_if_at_head(head_url) is None
    result = run_cli(["migrate", "--check"], head_url)
    assert result.returncode == 1, result.stdout
    assert f"pending:  {len(KNOWN_REVISIONS) - 1}:" in result.stdout


def test_an_uncommitted_head_stamp_is_not_taken_for_done(migrated_pg_url: str) -> None:
    # Another migrate is mid-way: it holds the lock and has stamped head, not yet committed.
    # The fast path must read the committed revision (behind), take the full way and meet
    # the lock, never answer "nothing to do" for a schema that may still roll back.
    engine = build_engine(migrated_pg_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": KNOWN_REVISIONS[0]})
    with migration_lock(engine, wait=5) as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": HEAD_REVISION})
        result = run_cli(["migrate", "--fail-fast"], migrated_pg_url)
        conn.rollback()
    engine.dispose()
    assert result.returncode == 3, result.stdout + result.stderr
    assert "nothing to do" not in result.stdout


def test_an_unreachable_database_is_left_to_the_full_way_and_its_messages() -> None:
    url = "postgresql+psycopg://ratecard:s3cret@127.0.0.1:1/nowhere"
    assert status_if_at_head(url) is None
    result = run_cli(["migrate", "--check"], url)
    assert result.returncode == 1
    assert "s3cret" not in result.stdout + result.stderr


def test_no_sqlite_file_is_created_by_looking(tmp_path: Path) -> None:
    path = str(tmp_path / "absent.db")
    assert status_if_at_head(f"sqlite:///{path}") is None
    assert not os.path.exists(path)

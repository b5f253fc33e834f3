"""Logs: JSON lines with the instance id off a terminal, readable on one, never a secret."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from ratecard.logs import configure_logging
from ratecard.settings import Settings
from tests.support.logs import root_handlers_kept
from tests.support.services import REPO, clean_env

SECRET_SETTINGS = Settings.from_env(
    {
        "DATABASE_URL": "postgresql://app:pa%2Fss-w0rd@db.internal:5432/ratecard",
        "REDIS_URL": "redis://:r3dis-pw@cache:6379/0",
        "RATECARD_ADMIN_TOKEN": "tok-abc123",
        "RATECARD_LOG_FORMAT": "json",
    }
)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_logging() -> Iterator[None]:
    with root_handlers_kept():
        yield


def test_json_lines_carry_the_instance_id_and_extras(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_format="auto"), "web-1:42", stream)
    logging.getLogger("ratecard.test").info("refreshed %d models", 7, extra={"run_id": 3})
    record = json.loads(stream.getvalue().strip())
    assert record["instance"] == "web-1:42"
    assert record["msg"] == "refreshed 7 models"
    assert record["run_id"] == 3 and record["level"] == "info"


def test_a_terminal_gets_readable_lines(restore_logging: None) -> None:
    stream = Tty()
    configure_logging(Settings(log_format="auto"), "web-1:42", stream)
    logging.getLogger("ratecard.test").warning("hello")
    line = stream.getvalue().strip()
    assert "[web-1:42]" in line and "hello" in line and not line.startswith("{")


def test_secrets_are_redacted_even_when_code_logs_them(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(SECRET_SETTINGS, "web-1:42", stream)
    log = logging.getLogger("ratecard.test")
    log.error("connect failed: %s", "postgresql://app:pa/ss-w0rd@db.internal:5432/ratecard")
    log.warning("redis %s token %s", SECRET_SETTINGS.redis_url, "tok-abc123")
    try:
        raise RuntimeError("bad login pa%2Fss-w0rd")
    except RuntimeError:
        log.exception("boom")
    text = stream.getvalue()
    assert len(text.strip().splitlines()) == 3
    for secret in ("pa/ss-w0rd", "pa%2Fss-w0rd", "r3dis-pw", "tok-abc123"):
        assert secret not in text
    assert "db.internal" in text, "redaction must keep what an operator needs"


def test_a_third_party_logger_prints_one_redacted_json_line(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(SECRET_SETTINGS, "web-1:42", stream)
    # A library's own logger, not a child of `ratecard`: it reaches ratecard's handler only
    # through the root.
    pool_log = logging.getLogger("sqlalchemy.pool.impl.QueuePool")
    pool_log.warning("reconnecting to %s", "postgresql://app:pa/ss-w0rd@db.internal:5432/ratecard")
    logging.getLogger("urllib3.connectionpool").info("below WARNING: stays out")

    lines = stream.getvalue().strip().splitlines()
    assert len(lines) == 1, lines
    record = json.loads(lines[0])
    assert record["logger"] == "sqlalchemy.pool.impl.QueuePool"
    assert record["level"] == "warning" and record["instance"] == "web-1:42"
    assert record["msg"] == "reconnecting to postgresql://app:***@db.internal:5432/ratecard"


# Runs in its own process: configures logging as an instance does, then makes SQLAlchemy's
# pool log a real error of its own (the connection it hands back was killed by the server).
POOL_ERROR_SCRIPT = """
import sys
from sqlalchemy import create_engine, text
from ratecard.logs import configure_logging
from ratecard.settings import Settings

settings = Settings.from_env()
configure_logging(settings, settings.instance_id, sys.stdout)
engine = create_engine(settings.database_url)
raw = engine.raw_connection()
pid = raw.cursor().execute("SELECT pg_backend_pid()").fetchone()[0]
killer = create_engine(settings.database_url)
with killer.connect() as conn:
    conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
killer.dispose()
raw.close()  # the pool's reset (ROLLBACK) fails: sqlalchemy.pool logs it, with the traceback
from sqlalchemy.exc import SAWarning
import warnings
warnings.warn("a library's warning", SAWarning)  # Python warnings go through logging too
"""


def test_a_real_sqlalchemy_pool_error_is_one_json_object_per_line(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    with_password = parts._replace(netloc=parts.netloc.replace("@", ":s3cret-pw@", 1)).geturl()
    assert ":s3cret-pw@" in with_password  # trust authentication ignores the password
    result = subprocess.run(
        [sys.executable, "-c", POOL_ERROR_SCRIPT],
        cwd=REPO,
        env=clean_env(
            DATABASE_URL=with_password, RATECARD_LOG_FORMAT="json", RATECARD_INSTANCE_ID="pool-1"
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    records = [json.loads(line) for line in lines]  # every line parses on its own
    assert [r["logger"] for r in records] == ["sqlalchemy.pool.impl.QueuePool", "py.warnings"]
    assert records[0]["msg"] == "Exception during reset or similar"
    assert records[0]["level"] == "error" and records[0]["instance"] == "pool-1"
    assert "AdminShutdown" in records[0]["exc"], "the traceback stays inside the one object"
    assert "SAWarning: a library's warning" in records[1]["msg"]
    assert result.stderr == "", "nothing printed beside the JSON stream"
    assert "s3cret-pw" not in result.stdout + result.stderr

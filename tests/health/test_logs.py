"""Logs: JSON lines with the instance id off a terminal, readable on one, never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from ratecard.logs import configure_logging
from ratecard.settings import Settings

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
    logger = logging.getLogger("ratecard")
    handlers = list(logger.handlers)
    yield
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    for handler in handlers:
        logger.addHandler(handler)


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

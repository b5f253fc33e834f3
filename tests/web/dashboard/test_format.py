"""Pure formatting: exact prices per million, times, and text safe for the public page."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ratecard.timetext import shown_time
from ratecard.web.dashboard.format import duration_words, per_million
from ratecard.web.redaction import host_alias, public_text


@pytest.mark.parametrize(
    ("per_token", "expected"),
    [
        ("0.0000025", "2.5"),
        (Decimal("1e-05"), "10"),
        ("0.0000000208333333333333", "0.0208333333333333"),
        (
            "0.000000000000000000000000000012345678901234567890123",
            "0.000000000000000000000012345678901234567890123",
        ),
        ("0", "0"),
        (None, None),
        ("not a number", None),
        ("NaN", None),
        ("Infinity", None),
    ],
)
def test_per_million_is_exact(per_token: object, expected: str | None) -> None:
    assert per_million(per_token) == expected  # type: ignore[arg-type]


def test_shown_time_accepts_datetimes_epochs_and_redis_strings() -> None:
    moment = datetime(2026, 7, 24, 12, 0, 5, tzinfo=UTC)
    assert shown_time(moment) == "2026-07-24T12:00:05Z"
    assert shown_time(moment.timestamp()) == "2026-07-24T12:00:05Z"
    assert shown_time(str(moment.timestamp())) == "2026-07-24T12:00:05Z"
    assert shown_time(datetime(2026, 7, 24, 12, 0, 5)) == "2026-07-24T12:00:05Z"  # naive = UTC
    assert shown_time(None) is None and shown_time("") is None


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(None, "—"), (0.4213, "0.42 s"), (42.4, "42 s"), (600, "10 min"), (7500, "2 h 5 min")],
)
def test_duration_words(seconds: float | None, words: str) -> None:
    assert duration_words(seconds) == words


def test_public_text_removes_secrets_urls_and_hosts() -> None:
    text = (
        "fetch failed: http://user:hunter2@feeds.internal:8080/x.json on web-7 "
        "(token abc123tok); see web-7b"
    )
    public = public_text(text, secrets=["abc123tok"], hosts=["web-7"])
    assert public is not None
    for leaked in ("hunter2", "abc123tok", "feeds.internal", " web-7 "):
        assert leaked not in public, public
    assert host_alias("web-7") in public
    assert "web-7b" in public  # only whole host names are masked

    admin = public_text(text, secrets=["abc123tok"], hosts=["web-7"], admin=True)
    assert admin is not None
    assert "hunter2" not in admin and "abc123tok" not in admin
    assert "feeds.internal" in admin and "web-7" in admin  # admins see where it failed


def test_public_text_cuts_long_texts() -> None:
    cut = public_text("x" * 5000)
    assert cut is not None and len(cut) <= 300 and cut.endswith("…")

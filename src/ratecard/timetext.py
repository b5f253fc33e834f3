"""Time as text, one function per meaning: an instant served by the API and the change feed,
a time shown to people, and a health check's result time. Times are converted once, here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def instant_text(value: datetime) -> str: ...


@overload
def instant_text(value: None) -> None: ...


def instant_text(value: datetime | None) -> str | None:
    """An instant as RFC 3339 UTC with a Z and its full precision (the API, the change log,
    Atom, webhooks). A naive value (a request's `at`, SQLite's columns) is UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def shown_time(value: datetime | float | str | None) -> str | None:
    """A time shown to people, to the second (the dashboard): a datetime, or epoch seconds as
    Redis hashes hold them; text that is not a number is taken to be a time already."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return str(value)
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(float(value), UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def check_time(now: datetime | None = None) -> str:
    """A health check result's `time`: RFC 3339 UTC to the millisecond (IETF health format)."""
    value = now if now is not None else datetime.now(UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

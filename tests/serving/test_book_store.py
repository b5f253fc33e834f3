"""The price book store under concurrent writers (PostgreSQL): two applies of one book never
write two versions, nor a 500; a creation race is a 409 for the one that lost."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from ratecard.changes.changelog import record_book_change
from ratecard.errors import Conflict
from ratecard.schema import price_book_versions
from ratecard.serving.book_store import BookLimits, PutResult, put_book

BOOK = {"rules": [{"multiply": "0.9"}]}


def apply_holding(
    engine: Engine, body: Any, entered: threading.Event, release: threading.Event
) -> PutResult:
    """put_book in a transaction that stays open until `release` is set."""
    with engine.begin() as conn:
        result = put_book(
            conn, "shared", body, datetime.now(UTC), limits=BookLimits(), record=record_book_change
        )
        entered.set()
        release.wait(10)
        return result


def released() -> threading.Event:
    done = threading.Event()
    done.set()
    return done


def versions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(price_book_versions)).scalar_one())


def test_two_replaces_of_one_book_wait_and_write_one_version(pg_engine: Engine) -> None:
    with pg_engine.begin() as conn:
        put_book(
            conn, "shared", BOOK, datetime.now(UTC), limits=BookLimits(), record=record_book_change
        )
    changed = {"rules": [{"multiply": "0.8"}]}
    entered, release = threading.Event(), threading.Event()
    results: list[PutResult] = []
    first = threading.Thread(
        target=lambda: results.append(apply_holding(pg_engine, changed, entered, release))
    )
    first.start()
    assert entered.wait(10)
    second: list[PutResult] = []
    waiting = threading.Thread(
        target=lambda: second.append(
            apply_holding(pg_engine, changed, threading.Event(), released())
        )
    )
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive(), "the second apply waits for the first's lock"
    release.set()
    first.join(10)
    waiting.join(10)
    # The second read version 2 once the first committed: the same content, no version 3.
    assert (results[0].book.version, results[0].changed) == (2, True)
    assert (second[0].book.version, second[0].changed) == (2, False)
    assert versions(pg_engine) == 2


def test_a_creation_race_is_a_conflict_for_the_loser(pg_engine: Engine) -> None:
    entered, release = threading.Event(), threading.Event()
    results: list[PutResult] = []
    first = threading.Thread(
        target=lambda: results.append(apply_holding(pg_engine, BOOK, entered, release))
    )
    first.start()
    assert entered.wait(10)
    errors: list[Conflict] = []

    def second() -> None:
        try:
            apply_holding(pg_engine, BOOK, threading.Event(), released())
        except Conflict as exc:
            errors.append(exc)

    loser = threading.Thread(target=second)
    loser.start()
    loser.join(0.5)
    release.set()
    first.join(10)
    loser.join(10)
    assert results[0].created and len(errors) == 1
    assert errors[0].status == 409 and "another request" in errors[0].detail
    assert versions(pg_engine) == 1

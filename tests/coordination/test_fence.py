"""The slot fence and the manual-run generation fence, enforced by the store."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from ratecard.coordination.fence import (
    advance_slot,
    commit_manual,
    defer_retry,
    ensure_job_state,
    read_job_state,
)
from ratecard.runcontrol import RunFenced


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "pg_engine" if request.param == "postgresql" else "sqlite_engine"
    engine: Engine = request.getfixturevalue(name)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE effects (slot INTEGER, who TEXT)"))
    return engine


def commit_slot(engine: Engine, slot: int, who: str) -> None:
    """A job's committing transaction: its effect and the fence, together."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO effects VALUES (:s, :w)"), {"s": slot, "w": who})
        advance_slot(conn, "refresh", slot, None)


def effects(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT slot, who FROM effects ORDER BY slot"))
        return [(int(slot), str(who)) for slot, who in rows]


def test_missing_row_reads_as_never_run(engine: Engine) -> None:
    with engine.connect() as conn:
        state = read_job_state(conn, "refresh")
    assert (state.last_slot, state.generation, state.last_run_id) == (-1, 0, None)


def test_a_slot_commits_once_and_a_stale_runner_rolls_back(engine: Engine) -> None:
    commit_slot(engine, 41, "B")
    with pytest.raises(RunFenced):
        commit_slot(engine, 41, "A")  # the duplicate for the same slot
    with pytest.raises(RunFenced):
        commit_slot(engine, 40, "old")  # an older slot can never overwrite a newer one
    commit_slot(engine, 42, "C")
    assert effects(engine) == [(41, "B"), (42, "C")], "a fenced transaction left no trace"
    with engine.connect() as conn:
        state = read_job_state(conn, "refresh")
    assert state.last_slot == 42 and state.generation == 2


def test_racing_runners_commit_a_slot_exactly_once(engine: Engine) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def run(i: int) -> None:
        barrier.wait()
        try:
            commit_slot(engine, 7, f"r{i}")
            outcomes.append("committed")
        except RunFenced:
            outcomes.append("fenced")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes.count("committed") == 1 and outcomes.count("fenced") == 5
    assert len(effects(engine)) == 1


def test_ensure_job_state_is_idempotent(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_job_state(conn, "refresh")
        ensure_job_state(conn, "refresh")
        advance_slot(conn, "refresh", 3, 99)
        ensure_job_state(conn, "refresh")
        assert read_job_state(conn, "refresh").last_slot == 3
        assert read_job_state(conn, "refresh").last_run_id == 99


def test_manual_runs_are_fenced_by_generation(engine: Engine) -> None:
    commit_slot(engine, 10, "scheduled")
    with engine.connect() as conn:
        started_at = read_job_state(conn, "refresh").generation
    # Two manual runs started from the same state (the first one's lease expired mid-run).
    with engine.begin() as conn:
        commit_manual(conn, "refresh", started_at, 10, None)  # the newer one commits first
    with pytest.raises(RunFenced), engine.begin() as conn:
        commit_manual(conn, "refresh", started_at, 10, None)  # the stale one cannot
    with engine.connect() as conn:
        state = read_job_state(conn, "refresh")
    assert state.last_slot == 10 and state.generation == started_at + 1


def test_a_manual_run_completes_an_open_slot(engine: Engine) -> None:
    commit_slot(engine, 10, "scheduled")
    with engine.begin() as conn:
        commit_manual(conn, "refresh", 1, 12, None)
    with pytest.raises(RunFenced):
        commit_slot(engine, 12, "late scheduled run")


def test_a_scheduled_commit_fences_a_manual_run_started_before_it(engine: Engine) -> None:
    with engine.connect() as conn:
        started_at = read_job_state(conn, "refresh").generation
    commit_slot(engine, 5, "scheduled")
    with pytest.raises(RunFenced), engine.begin() as conn:
        commit_manual(conn, "refresh", started_at, 5, None)


def test_defer_retry_applies_to_the_open_slot_only(engine: Engine) -> None:
    later = datetime(2030, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        defer_retry(conn, "refresh", 3, later)
    with engine.connect() as conn:
        assert read_job_state(conn, "refresh").retry_epoch == later.timestamp()
    commit_slot(engine, 3, "retried")  # completing the slot clears the back-off
    with engine.connect() as conn:
        assert read_job_state(conn, "refresh").retry_not_before is None

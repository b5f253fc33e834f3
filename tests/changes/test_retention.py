"""The maintenance job prunes delivered and aged dead-lettered messages and old changes, and never
a pending message or a change a subscription has not received (PostgreSQL and SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from ratecard.changes.retention import prune_changes
from ratecard.coordination.context import JobContext
from ratecard.coordination.maintenance import maintenance_job
from ratecard.runcontrol import RunFenced
from ratecard.schema import changes, webhook_events, webhook_subscriptions

NOW = datetime.now(UTC)
OLD, RECENT = NOW - timedelta(days=40), NOW - timedelta(days=1)


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(
        "pg_engine" if request.param == "postgresql" else "sqlite_engine"
    )
    with engine.begin() as conn:
        conn.execute(
            webhook_subscriptions.insert().values(
                id="wh_1", url="https://1.1.1.1/h", filter={}, secret="whsec_x",
                paused=0, created_at=OLD, created_seq=0,
            )
        )  # fmt: skip
        # Changes 1..9, all observed 40 days ago except 9.
        for seq in range(1, 10):
            conn.execute(
                changes.insert().values(
                    seq=seq, kind="changed", source="litellm", model_id=f"m{seq}",
                    observed_at=RECENT if seq == 9 else OLD,
                )
            )  # fmt: skip
    return engine


def add_event(engine: Engine, msg: str, seqs: tuple[int, int], status: str, **times: datetime):
    with engine.begin() as conn:
        conn.execute(
            webhook_events.insert().values(
                id=msg, subscription_id="wh_1", page=1, first_seq=seqs[0], last_seq=seqs[1],
                changes=seqs[1] - seqs[0] + 1, payload="{}", status=status,
                created_at=times.get("created_at", OLD), next_attempt_at=OLD,
                delivered_at=times.get("delivered_at"),
                last_attempt_at=times.get("last_attempt_at"),
            )
        )  # fmt: skip


def kept(engine: Engine) -> tuple[list[str], list[int]]:
    with engine.connect() as conn:
        events = conn.execute(select(webhook_events.c.id).order_by(webhook_events.c.id))
        seqs = conn.execute(select(changes.c.seq).order_by(changes.c.seq))
        return list(events.scalars()), list(seqs.scalars())


def run_job(engine: Engine, slot: int = 100) -> None:
    job = maintenance_job(lambda: engine, retention_days=30, pruners=[prune_changes])
    assert job(JobContext("maintenance", slot, 7, "i1", "schedule", generation=0)) == "success"


def test_prunes_old_delivered_and_dead_messages_and_the_changes_they_carried(
    engine: Engine,
) -> None:
    add_event(engine, "msg_a_delivered_old", (1, 2), "delivered", delivered_at=OLD)
    add_event(engine, "msg_b_dead_old", (3, 4), "dead", last_attempt_at=OLD)
    add_event(engine, "msg_c_delivered_recent", (5, 6), "delivered", delivered_at=RECENT)
    run_job(engine)
    # Changes 7, 8 were carried by no message (no subscription matched them): old, so pruned.
    assert kept(engine) == (["msg_c_delivered_recent"], [9])


def test_never_prunes_a_pending_message_nor_the_changes_from_its_first_seq(
    engine: Engine,
) -> None:
    add_event(engine, "msg_a_delivered_old", (1, 2), "delivered", delivered_at=OLD)
    add_event(engine, "msg_b_pending_old", (3, 4), "pending", last_attempt_at=OLD)
    add_event(engine, "msg_c_delivered_old", (5, 6), "delivered", delivered_at=OLD)
    run_job(engine)
    # 3..8 stay although 40 days old: the pending message (say, a paused subscription's) has
    # not reached its receiver, and neither have the changes after its first seq.
    assert kept(engine) == (["msg_b_pending_old"], [3, 4, 5, 6, 7, 8, 9])


def test_a_dead_message_retried_recently_pins_its_changes(engine: Engine) -> None:
    add_event(engine, "msg_a_dead", (2, 3), "dead", created_at=OLD, last_attempt_at=RECENT)
    run_job(engine)
    assert kept(engine) == (["msg_a_dead"], [2, 3, 4, 5, 6, 7, 8, 9])


def test_a_fenced_run_prunes_nothing(engine: Engine) -> None:
    add_event(engine, "msg_a_delivered_old", (1, 2), "delivered", delivered_at=OLD)
    run_job(engine, slot=100)
    add_event(engine, "msg_b_delivered_old", (3, 4), "delivered", delivered_at=OLD)
    with engine.begin() as conn:
        conn.execute(
            changes.insert().values(
                seq=0, kind="added", source="litellm", model_id="m0", observed_at=OLD
            )
        )
    before = kept(engine)
    job = maintenance_job(lambda: engine, retention_days=30, pruners=[prune_changes])
    with pytest.raises(RunFenced):
        job(JobContext("maintenance", 100, 7, "i1", "schedule", generation=0))
    assert kept(engine) == before == (["msg_b_delivered_old"], [0, 9])

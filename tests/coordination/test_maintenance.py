"""The maintenance job prunes what is past retention, records its run and claims its slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from ratecard.coordination.context import JobContext
from ratecard.coordination.fence import read_job_state
from ratecard.coordination.maintenance import maintenance_job
from ratecard.runcontrol import RunFenced
from ratecard.schema import instances, leases, run_sources, runs


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(
        "pg_engine" if request.param == "postgresql" else "sqlite_engine"
    )
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=40), now - timedelta(days=1)
    with engine.begin() as conn:
        for started in (old, recent):
            run_id = conn.execute(
                runs.insert()
                .values(job="refresh", started_at=started, outcome="success")
                .returning(runs.c.id)
            ).scalar_one()
            conn.execute(
                run_sources.insert().values(
                    run_id=run_id, source="litellm", started_at=started, outcome="success"
                )
            )
        for name, seen in (("gone", old), ("alive", recent)):
            conn.execute(instances.insert().values(instance_id=name, last_seen_at=seen))
        for name, expired in (("old-job", old), ("refresh", recent)):
            conn.execute(
                leases.insert().values(name=name, fence=3, acquired_at=expired, expires_at=expired)
            )
    return engine


def context(slot: int) -> JobContext:
    return JobContext("maintenance", slot, 7, "i1", "schedule", generation=0)


def count(engine: Engine, table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_prunes_past_retention_and_records_its_run(engine: Engine) -> None:
    job = maintenance_job(lambda: engine, retention_days=30)
    assert job(context(100)) == "success"
    with engine.connect() as conn:
        kept_runs = conn.execute(
            select(runs.c.job, runs.c.outcome, runs.c.slot).order_by(runs.c.id)
        ).all()
        kept_sources = conn.execute(select(run_sources.c.run_id)).scalars().all()
        kept_instances = conn.execute(select(instances.c.instance_id)).scalars().all()
        kept_leases = conn.execute(select(leases.c.name)).scalars().all()
        state = read_job_state(conn, "maintenance")
    assert [tuple(r) for r in kept_runs] == [
        ("refresh", "success", None),
        ("maintenance", "success", 100),
    ]
    assert len(kept_sources) == 1 and kept_instances == ["alive"] and kept_leases == ["refresh"]
    assert state.last_slot == 100


def test_a_second_run_of_the_slot_is_fenced_and_changes_nothing(engine: Engine) -> None:
    job = maintenance_job(lambda: engine, retention_days=30)
    job(context(100))
    before = [count(engine, t) for t in (runs, run_sources, instances, leases)]
    with pytest.raises(RunFenced):
        job(context(100))
    assert [count(engine, t) for t in (runs, run_sources, instances, leases)] == before

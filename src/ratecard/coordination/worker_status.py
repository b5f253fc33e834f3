"""Status data for `worker --status`, the dashboard and /admin/worker (read-only, no secrets)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, text
from sqlalchemy.exc import SQLAlchemyError

from ratecard.coordination.backends import LeaseBackends
from ratecard.coordination.fence import read_job_state
from ratecard.coordination.instance_registry import InstanceRegistry
from ratecard.coordination.jobs import JobRegistry
from ratecard.coordination.lease import Holding
from ratecard.coordination.schedule import epoch_seconds, next_due_at, slot_of
from ratecard.schema import runs

if TYPE_CHECKING:
    from sqlalchemy import Engine


def collect_status(
    jobs: JobRegistry,
    backends: LeaseBackends,
    registry: InstanceRegistry,
    engine: Callable[[], Engine],
    clock: Callable[[], float] = time.time,
    recent: int = 5,
) -> dict[str, Any]:
    """Return the fleet's coordination state as JSON-safe data."""
    now = clock()
    backend, reason = probe_backend(backends, engine)
    data: dict[str, Any] = {"now": now, "backend": backend, "backend_problem": reason, "jobs": {}}
    for job in jobs:
        entry: dict[str, Any] = {"interval": job.interval, "slot_now": slot_of(now, job.interval)}
        store, holding = backends.holder(job.name)
        entry["lease"] = (
            {
                "store": store,
                "holder": holding.holder,
                "fence": holding.fence,
                "expires_in": round(holding.expires_in, 3),
            }
            if isinstance(holding, Holding)
            else {"store": store, "holder": None, "error": holding if store is None else None}
        )
        try:
            with engine().connect() as conn:
                state = read_job_state(conn, job.name)
                entry["recent_runs"] = recent_runs(conn, job.name, recent)
        except SQLAlchemyError as exc:
            entry["error"] = f"database unavailable: {type(exc).__name__}"
            data["jobs"][job.name] = entry
            continue
        due_at = next_due_at(state.last_slot, now, job.interval)
        if state.retry_epoch is not None and state.retry_epoch > due_at:
            due_at = state.retry_epoch
        entry.update(
            last_completed_slot=state.last_slot if state.last_slot >= 0 else None,
            generation=state.generation,
            last_run_id=state.last_run_id,
            next_due_at=due_at,
            next_due_in=round(max(0.0, due_at - now), 3),
        )
        data["jobs"][job.name] = entry
    data["instances"] = registry.live()
    return data


def probe_backend(
    backends: LeaseBackends, engine: Callable[[], Engine]
) -> tuple[str | None, str | None]:
    """Return the lease store a contender would use now, and why the preferred one is not."""
    from redis.exceptions import RedisError

    problems = []
    client = backends.redis_client()
    if client is not None:
        try:
            client.ping()
            return "redis", None
        except RedisError as exc:
            problems.append(f"redis unavailable: {type(exc).__name__}")
    try:
        with engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return "database", "; ".join(problems) or None
    except SQLAlchemyError as exc:
        problems.append(f"database unavailable: {type(exc).__name__}")
    return None, "; ".join(problems) + " (nothing runs)"


def recent_runs(conn: Connection, job: str, limit: int = 5) -> list[dict[str, Any]]:
    """Return the job's latest runs, newest first, with durations in seconds."""
    rows = conn.execute(
        select(runs).where(runs.c.job == job).order_by(runs.c.id.desc()).limit(limit)
    ).mappings()
    out = []
    for row in rows:
        started, finished = epoch_seconds(row["started_at"]), epoch_seconds(row["finished_at"])
        out.append(
            {
                "id": row["id"],
                "trigger": row["trigger"],
                "slot": row["slot"],
                "fence": row["fence"],
                "instance_id": row["instance_id"],
                "outcome": row["outcome"],
                "started_at": started,
                "finished_at": finished,
                "duration": None
                if started is None or finished is None
                else round(finished - started, 3),
                "error": row["error"],
            }
        )
    return out

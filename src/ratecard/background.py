"""Wiring: the periodic jobs this service runs (refresh, maintenance), handed to the coordinator.

`init_app` builds everything without I/O (engine and Redis are created on first use, after any
fork); `start` starts the coordinator thread, once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask

from ratecard.vocabulary import JobName
from ratecard.web.state import RatecardState, get_state

if TYPE_CHECKING:
    from redis import Redis

    from ratecard.coordination.context import JobContext
    from ratecard.coordination.coordinator import Coordinator
    from ratecard.ingest.refresh import RefreshReport


def init_app(app: Flask) -> None:
    """Build the job registry and the coordinator (not started)."""
    state = get_state(app)
    coordinator = build_coordinator(state)
    state.coordinator = coordinator
    state.shutdown_hooks.append(coordinator.stop)
    # Issue 14: the webhook delivery loop, on the coordinator's lease backends.
    from ratecard.changes import build_delivery

    delivery = build_delivery(state, coordinator.backends)
    state.delivery = delivery
    state.shutdown_hooks.append(delivery.stop)


def build_coordinator(state: RatecardState) -> Coordinator:
    """Assemble the coordinator of one app instance from its settings and lazy services."""
    from ratecard.changes.retention import prune_changes
    from ratecard.coordination.backends import LeaseBackends
    from ratecard.coordination.coordinator import Coordinator
    from ratecard.coordination.instance_registry import InstanceRegistry
    from ratecard.coordination.jobs import Job, JobRegistry
    from ratecard.coordination.maintenance import JOB_NAME, maintenance_job
    from ratecard.redis_keys import RedisKeys

    settings = state.settings
    keys = RedisKeys(settings.redis_key_prefix)

    def redis() -> Redis | None:
        # The app's client: 1 s timeouts and no retries, so a lease decision fails fast
        # (a renewal spending 4 s of a 10 s TTL on redis-py's default retries would not).
        return state.redis

    jobs = JobRegistry(
        [
            Job(JobName.REFRESH, settings.refresh_interval, lambda ctx: run_refresh(state, ctx)),
            Job(
                JOB_NAME,
                settings.maintenance_interval,
                maintenance_job(
                    lambda: state.engine, settings.retention_days, pruners=[prune_changes]
                ),
            ),
        ]
    )
    return Coordinator(
        jobs,
        LeaseBackends(redis, lambda: state.engine, keys, settings.lease_ttl),
        InstanceRegistry(redis, lambda: state.engine, keys, settings.heartbeat_interval),
        lambda: state.engine,
        state.instance.as_dict,
        heartbeat_interval=settings.heartbeat_interval,
        poll_interval=standby_poll(settings.lease_ttl),
        on_lease=_record_lease(state.instance.instance_id),
    )


def standby_poll(lease_ttl: float) -> float:
    """Return the standby poll: 2 s, or TTL/5 for short test TTLs (takeover <= TTL + a poll)."""
    return min(2.0, lease_ttl / 5)


def run_refresh(state: RatecardState, ctx: JobContext) -> RefreshReport:
    """The refresh job: fetch, guard, store and publish the catalog (imported lazily)."""
    from ratecard.ingest.refresh import deps_from_state, refresh_catalog

    report = refresh_catalog(deps_from_state(state), ctx)
    # Issue 14: if this instance holds the delivery lease, send the new messages now rather
    # than at its next poll (other instances' holders find them at theirs).
    if state.delivery is not None and report.committed:
        state.delivery.notify()
    return report


def _record_lease(instance_id: str) -> Callable[[str, bool], None]:
    def record(job: str, held: bool) -> None:
        from ratecard.metrics import set_lease_held

        set_lease_held(job, instance_id, held)

    return record


def get_coordinator(app: Flask) -> Coordinator:
    """Return the app's coordinator (built by init_app)."""
    return get_state(app).need_coordinator()


def start(app: Flask) -> None:
    """Start the coordinator thread in this process (after fork), if the settings allow it."""
    state = get_state(app)
    if not state.settings.start_coordinator:
        return
    # Coordinator.start is itself guarded by the pid: a second call in this process (or an
    # object inherited across a fork, whose thread did not survive it) is handled there.
    get_coordinator(app).start()
    if state.delivery is not None:
        state.delivery.start()  # issue 14: the webhook delivery loop

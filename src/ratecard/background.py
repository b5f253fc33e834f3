"""Composition root of the background work: the periodic jobs (refresh, maintenance) handed to
the coordinator, the webhook delivery loop, and the ingestion dependencies they share.

`init` builds everything without I/O (engine and Redis are created on first use, after any
fork); `start` starts the threads, once per process. `refresh_deps` is the one place the
ingestion dependencies are assembled (the change log hook wired in): the coordinator's job,
the admin review, `ratecard prices refresh` and the tests all build them here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ratecard.changes.delivery import DeliveryWorker
from ratecard.changes.retention import prune_changes
from ratecard.coordination.backends import LeaseBackends
from ratecard.coordination.coordinator import Coordinator
from ratecard.coordination.instance_registry import InstanceRegistry
from ratecard.coordination.jobs import Job, JobRegistry
from ratecard.coordination.maintenance import JOB_NAME, maintenance_job
from ratecard.metrics import set_lease_held
from ratecard.redis_keys import RedisKeys
from ratecard.services import Services
from ratecard.settings import Settings
from ratecard.vocabulary import JobName
from ratecard.web.state import RatecardState

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy import Engine

    from ratecard.coordination.context import JobContext
    from ratecard.ingest.refresh import RefreshDeps, RefreshReport
    from ratecard.serving.catalog_cache import CatalogCache


def init(state: RatecardState) -> None:
    """Build the ingestion dependencies, the coordinator and the delivery loop (not started)."""
    state.refresh_deps = lambda: refresh_deps_of(state, state.catalog_cache)
    coordinator = build_coordinator(state)
    state.coordinator = coordinator
    state.shutdown_hooks.append(coordinator.stop)
    delivery = build_delivery(state, coordinator.backends)
    state.delivery = delivery
    state.shutdown_hooks.append(delivery.stop)


def refresh_deps(
    settings: Settings,
    engine: Engine,
    redis: Redis | None,
    *,
    on_committed: Callable[[Mapping[str, Any]], None] | None = None,
    **options: Any,
) -> RefreshDeps:
    """The dependencies of a refresh or a held review, with the change log as their hook."""
    # Deferred: ingestion and the change log import SQLAlchemy (~0.2 s), paid by the first
    # refresh, not by create_app.
    from ratecard.changes.changelog import record_changes
    from ratecard.ingest.refresh import RefreshDeps

    return RefreshDeps(
        engine=engine,
        redis=redis,
        settings=settings,
        keys=RedisKeys(prefix=settings.redis_key_prefix),
        record_changes=record_changes,
        on_committed=on_committed,
        **options,
    )


def refresh_deps_of(
    services: Services, cache: CatalogCache | None = None, **options: Any
) -> RefreshDeps:
    """`refresh_deps` over a process's services; `cache` (an app's) adopts what a run commits."""
    return refresh_deps(
        services.settings,
        services.engine,
        services.redis,
        on_committed=cache.install if cache is not None else None,
        **options,
    )


def build_coordinator(state: RatecardState) -> Coordinator:
    """Assemble the coordinator of one app instance from its settings and lazy services."""
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


def build_delivery(state: RatecardState, backends: LeaseBackends) -> DeliveryWorker:
    """Assemble the webhook delivery loop of one app instance, on the coordinator's lease
    backends (not started; `start` after fork)."""
    settings = state.settings
    return DeliveryWorker(
        lambda: state.engine,
        backends,
        state.instance.instance_id,
        poll_interval=settings.webhook_poll_interval,
        timeout=settings.webhook_timeout,
        concurrency=settings.webhook_concurrency,
        max_attempts=settings.webhook_max_attempts,
        allow_private=settings.webhook_allow_private,
    )


def standby_poll(lease_ttl: float) -> float:
    """Return the standby poll: 2 s, or TTL/5 for short test TTLs (takeover <= TTL + a poll)."""
    return min(2.0, lease_ttl / 5)


def run_refresh(state: RatecardState, ctx: JobContext) -> RefreshReport:
    """The refresh job: fetch, guard, store and publish the catalog."""
    # Deferred: the refresh's modules (SQLAlchemy, httpx) load on the first run, not at start.
    from ratecard.ingest.refresh import refresh_catalog

    report = refresh_catalog(state.need_refresh_deps(), ctx)
    # If this instance holds the delivery lease, send the new messages now rather than at its
    # next poll (other instances' holders find them at theirs).
    if state.delivery is not None and report.committed:
        state.delivery.notify()
    return report


def _record_lease(instance_id: str) -> Callable[[str, bool], None]:
    def record(job: str, held: bool) -> None:
        set_lease_held(job, instance_id, held)

    return record


def start(state: RatecardState) -> None:
    """Start the coordinator and the delivery loop in this process (after fork), if the
    settings allow it."""
    if not state.settings.start_coordinator:
        return
    # Coordinator.start is itself guarded by the pid: a second call in this process (or an
    # object inherited across a fork, whose thread did not survive it) is handled there.
    state.need_coordinator().start()
    if state.delivery is not None:
        state.delivery.start()

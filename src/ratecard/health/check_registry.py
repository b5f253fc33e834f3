"""Named health checks, each time-boxed, cached and single-flight.

A check is a function returning an `Observation`. The registry runs it in its own daemon
thread and waits at most the check's timeout, so a hung dependency costs a probe no more than
that; the result is cached for `cache_seconds`, and concurrent probes during a refresh wait on
the one check already in flight instead of starting their own. However many probes arrive,
each dependency is checked at most once per cache period (per process).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ratecard.timetext import check_time

Status = Literal["pass", "warn", "fail"]
SEVERITY: dict[str, int] = {"pass": 0, "warn": 1, "fail": 2}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observation:
    """What one check saw; `public_output` is a fixed hint safe to show without the token."""

    status: Status
    observed_value: Any = None
    observed_unit: str | None = None
    output: str | None = None
    public_output: str | None = None
    # The dependency did not answer (refused, unreachable, timed out), as opposed to answering
    # something wrong (a schema behind the code): what an outage policy may tolerate.
    unreachable: bool = False


@dataclass(frozen=True)
class CheckResult:
    """One check's observation, stamped with when it ran (the `time` of the IETF draft)."""

    name: str
    component_type: str
    observation: Observation
    time: str

    @property
    def status(self) -> Status:
        return self.observation.status

    def as_dict(self, details: bool) -> dict[str, Any]:
        """Render as an IETF health-check entry; without details, status and public hint only."""
        entry: dict[str, Any] = {"componentType": self.component_type, "status": self.status}
        if details:
            entry["observedValue"] = self.observation.observed_value
            if self.observation.observed_unit is not None:
                entry["observedUnit"] = self.observation.observed_unit
            entry["time"] = self.time
            if self.observation.output:
                entry["output"] = self.observation.output
        elif self.observation.public_output:
            entry["output"] = self.observation.public_output
        return entry


@dataclass
class Check:
    """A named check `component:measurement` and how bad its failure is.

    `worst` caps the status: a dependency we can serve without (Redis, the catalog's
    freshness, the coordinator) is registered with worst="warn", so it can never turn
    readiness to 503 and take the fleet out of the load balancer.
    """

    name: str
    component_type: str
    run: Callable[[], Observation]
    worst: Status = "fail"
    timeout: float | None = None
    readiness: bool = True
    # Sees every observation before it is cached (timeouts and seeded results included) and
    # may soften it: see ratecard.health.outage.
    review: Callable[[Observation], Observation] | None = None
    # Mutable cache state, guarded by the lock.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    cached: CheckResult | None = field(default=None, repr=False)
    cached_at: float = field(default=float("-inf"), repr=False)
    in_flight: Future[Observation] | None = field(default=None, repr=False)
    in_flight_since: float = field(default=float("-inf"), repr=False)


def worst_status(statuses: Iterable[str]) -> Status:
    """Return the worst of the statuses (pass when there are none)."""
    worst: Status = "pass"
    for status in statuses:
        if SEVERITY[status] > SEVERITY[worst]:
            worst = status  # type: ignore[assignment]
    return worst


class HealthRegistry:
    """Run registered checks with a per-check timeout, a result cache and single-flight."""

    def __init__(
        self,
        timeout: float = 1.0,
        cache_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.clock = clock
        self.checks: dict[str, Check] = {}
        # run()'s last answer per readiness_only, and until when (this clock) it holds: see run.
        self._answers: dict[bool, tuple[float, dict[str, CheckResult]]] = {}

    def register(
        self,
        name: str,
        component_type: str,
        run: Callable[[], Observation],
        *,
        worst: Status = "fail",
        timeout: float | None = None,
        readiness: bool = True,
        review: Callable[[Observation], Observation] | None = None,
    ) -> None:
        """Add (or replace) the check `name`, written `component:measurement`."""
        self.checks[name] = Check(name, component_type, run, worst, timeout, readiness, review)
        self._answers.clear()

    def run(self, readiness_only: bool = False) -> dict[str, CheckResult]:
        """Return every check's result (cached when fresh); the whole call takes ≤ max timeout.

        A readiness probe does not wait for the first answer of a check that cannot fail it
        (worst="warn": Redis, the catalog's age): that check is started once the gating
        checks have answered and shown as `warn`, "first check running", until it has
        answered once. Readiness gates on the database and the schema only, so a fresh
        process's first ready answer waits for those alone.
        """
        started = self.clock()
        # While every result of the last answer is still its check's fresh cached one, that
        # answer is the one the checks would give again: a probe (twenty a second behind a busy
        # balancer) reads it without locking each check. It holds until the first of them
        # goes stale, and a check's cached result changes only after it has gone stale.
        kept = self._answers.get(readiness_only)
        if kept is not None and started < kept[0]:
            return kept[1]
        selected = [c for c in self.checks.values() if c.readiness or not readiness_only]
        deferred = [c for c in selected if readiness_only and _first_answer_optional(c)]
        deferred_names = {c.name for c in deferred}
        # Start every stale check first, then wait: the checks run in parallel, so a probe
        # costs the slowest check, not the sum of them.
        pending = [
            (check, self._fresh_or_start(check))
            for check in selected
            if check.name not in deferred_names
        ]
        results: dict[str, CheckResult] = {}
        for check, fresh in pending:
            results[check.name] = (
                fresh if isinstance(fresh, CheckResult) else self._wait(check, fresh, started)
            )
        for check in deferred:
            fresh = self._fresh_or_start(check)
            if isinstance(fresh, CheckResult):
                results[check.name] = fresh
            elif fresh.done():
                results[check.name] = self._wait(check, fresh, started)
            else:
                results[check.name] = CheckResult(
                    check.name,
                    check.component_type,
                    _cap(FIRST_CHECK_RUNNING, check.worst),
                    check_time(),
                )
        answer = {check.name: results[check.name] for check in selected}
        self._keep(readiness_only, selected, answer)
        return answer

    def _keep(
        self, readiness_only: bool, selected: list[Check], answer: dict[str, CheckResult]
    ) -> None:
        """Keep `answer` for run() while each of its results is its check's fresh cached one."""
        held_until = float("inf")
        for check in selected:
            with check.lock:
                if check.cached is not answer[check.name]:
                    # A first-check-running placeholder, or a result a concurrent probe has
                    # replaced since: an answer the checks would not give again, so not kept.
                    self._answers.pop(readiness_only, None)
                    return
                held_until = min(held_until, check.cached_at + self.cache_seconds)
        self._answers[readiness_only] = (held_until, answer)

    def _fresh_or_start(self, check: Check) -> CheckResult | Future[Observation]:
        with check.lock:
            if check.cached is not None and self.clock() - check.cached_at < self.cache_seconds:
                return check.cached
            # A run that finished after its probes gave up holds an old answer: start afresh.
            # But a run that finished within the cache period and whose waiter has not stored
            # its result yet (between future.result() and the cache write in _wait) is as fresh
            # as a cached answer: collect it. Without this, a probe arriving in that window ran
            # the check a second time: two database round trips in one cache period.
            finished = check.in_flight is not None and check.in_flight.done()
            fresh = self.clock() - check.in_flight_since < self.cache_seconds
            if check.in_flight is None or (finished and not fresh):
                check.in_flight, check.in_flight_since = self._start(check), self.clock()
            # Single-flight: a probe arriving while the check runs waits on that same run.
            return check.in_flight

    def _start(self, check: Check) -> Future[Observation]:
        future: Future[Observation] = Future()

        def target() -> None:
            try:
                future.set_result(check.run())
            except BaseException as exc:  # a check must never kill its thread silently
                future.set_exception(exc)

        # A daemon thread per in-flight check (single-flight bounds it to one per check): a
        # check stuck in a driver call must not keep the process alive at exit, which a
        # ThreadPoolExecutor's joined workers would.
        threading.Thread(target=target, name=f"health:{check.name}", daemon=True).start()
        return future

    def _wait(self, check: Check, future: Future[Observation], started: float) -> CheckResult:
        timeout = check.timeout if check.timeout is not None else self.timeout
        remaining = max(0.0, started + timeout - self.clock())
        try:
            observation = future.result(timeout=remaining)
        except FutureTimeout:
            # The run stays in flight (a later probe may still collect it) but this probe
            # answers now: a hung dependency costs it `timeout`, never a worker.
            observation = timed_out(timeout)
        except Exception as exc:
            observation = Observation(
                "fail", output=f"check raised {type(exc).__name__}", public_output=None
            )
        observation = _cap(_reviewed(check, observation), check.worst)
        result = CheckResult(check.name, check.component_type, observation, check_time())
        with check.lock:
            if check.in_flight is future and future.done():
                check.in_flight = None
            previous = check.cached.status if check.cached is not None else None
            check.cached, check.cached_at = result, self.clock()
        _log_transition(check, previous, result)
        return result

    def seed(self, name: str, observation: Observation, observed: str, at: float) -> bool:
        """Take a result observed elsewhere at `at` (this registry's clock) as the cached one.

        Only for a registered check that has no result yet; it is served, like any cached
        result, until `cache_seconds` after `at`. Returns whether it was taken.
        """
        check = self.checks.get(name)
        if check is None:
            return False
        result = CheckResult(
            name, check.component_type, _cap(_reviewed(check, observation), check.worst), observed
        )
        with check.lock:
            if check.cached is not None:
                return False
            check.cached, check.cached_at = result, at
        _log_transition(check, None, result)
        return True


def timed_out(timeout: float) -> Observation:
    """What a check that did not answer within `timeout` seconds is failed as."""
    return Observation("fail", output=f"timed out after {timeout:g} s", unreachable=True)


def _reviewed(check: Check, observation: Observation) -> Observation:
    return check.review(observation) if check.review is not None else observation


def _log_transition(check: Check, previous: Status | None, result: CheckResult) -> None:
    """Log a check's change of status (and a first result that is not a pass)."""
    observation = result.observation
    # Log transitions only: a dependency down for an hour is one line, not 1,800.
    if previous != result.status and (previous is not None or result.status != "pass"):
        log.log(
            logging.INFO if result.status == "pass" else logging.WARNING,
            "health check %s: %s%s",
            check.name,
            f"{previous} -> {result.status}" if previous else result.status,
            f" ({observation.output})" if observation.output else "",
        )


def _first_answer_optional(check: Check) -> bool:
    """Whether a readiness probe may answer without this check's first result (see run)."""
    return check.worst != "fail" and check.cached is None


# What a readiness probe shows for a non-gating check that has not answered yet.
FIRST_CHECK_RUNNING = Observation(
    "warn", output="first check running", public_output="first check running"
)


def _cap(observation: Observation, worst: Status) -> Observation:
    if SEVERITY[observation.status] <= SEVERITY[worst]:
        return observation
    return replace(observation, status=worst)

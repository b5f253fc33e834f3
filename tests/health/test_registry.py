"""The check registry: timeouts, cache, single-flight, status caps; the pure classifiers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from ratecard.health.check_registry import HealthRegistry, Observation, worst_status
from ratecard.health.checks import classify_revisions, scrub
from ratecard.migrations import HEAD_REVISION, KNOWN_REVISIONS


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting_check(status: str = "pass", delay: float = 0.0):
    calls: list[float] = []

    def run() -> Observation:
        calls.append(time.monotonic())
        if delay:
            time.sleep(delay)
        return Observation(status, 1, "ms")  # type: ignore[arg-type]

    return run, calls


def held_until(release: threading.Event) -> Callable[[], Observation]:
    """A check that passes once `release` is set (at most 10 s later)."""

    def run() -> Observation:
        release.wait(10)
        return Observation("pass")

    return run


def test_result_is_cached_for_the_cache_period() -> None:
    clock = FakeClock()
    registry = HealthRegistry(timeout=1.0, cache_seconds=2.0, clock=clock)
    run, calls = counting_check()
    registry.register("db:responseTime", "datastore", run)
    for _ in range(50):
        registry.run()
    assert len(calls) == 1
    clock.now += 1.9
    registry.run()
    assert len(calls) == 1, "a result younger than the cache period must be reused"
    clock.now += 0.2
    registry.run()
    assert len(calls) == 2, "an expired result must be checked again"


def test_concurrent_probes_share_one_in_flight_check() -> None:
    registry = HealthRegistry(timeout=2.0, cache_seconds=0.0)
    run, calls = counting_check(delay=0.3)
    registry.register("db:responseTime", "datastore", run)
    barrier = threading.Barrier(16)
    statuses: list[str] = []

    def probe() -> None:
        barrier.wait()
        statuses.append(registry.run()["db:responseTime"].status)

    threads = [threading.Thread(target=probe) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert statuses == ["pass"] * 16
    assert len(calls) == 1, "probes arriving during a check must wait on it, not start another"


def test_a_hung_check_costs_a_probe_at_most_its_timeout() -> None:
    registry = HealthRegistry(timeout=0.2, cache_seconds=0.0)
    release = threading.Event()
    registry.register("redis:responseTime", "datastore", held_until(release), worst="warn")
    fast, _ = counting_check()
    registry.register("db:responseTime", "datastore", fast)
    started = time.monotonic()
    results = registry.run()
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 0.6, f"probe took {elapsed:.2f} s with a 0.2 s timeout"
    assert results["redis:responseTime"].status == "warn"  # capped: fail → warn
    assert "timed out" in (results["redis:responseTime"].observation.output or "")
    assert results["db:responseTime"].status == "pass"


def test_a_hung_check_is_not_started_twice() -> None:
    registry = HealthRegistry(timeout=0.05, cache_seconds=0.0)
    release = threading.Event()
    calls: list[int] = []

    def hung() -> Observation:
        calls.append(1)
        release.wait(10)
        return Observation("pass")

    registry.register("redis:responseTime", "datastore", hung)
    for _ in range(5):
        assert registry.run()["redis:responseTime"].status == "fail"
    release.set()
    assert len(calls) == 1, "a still-running check must be waited on, not piled up"


def test_a_raising_check_fails_without_leaking_the_message() -> None:
    registry = HealthRegistry(timeout=1.0, cache_seconds=0.0)

    def boom() -> Observation:
        raise RuntimeError("postgresql://u:hunter2@db/x")

    registry.register("db:responseTime", "datastore", boom)
    result = registry.run()["db:responseTime"]
    assert result.status == "fail"
    assert "hunter2" not in str(result.as_dict(details=True))


def test_readiness_only_skips_informational_checks() -> None:
    registry = HealthRegistry()
    run, _ = counting_check()
    registry.register("uptime", "system", run, readiness=False)
    registry.register("db:responseTime", "datastore", run)
    assert set(registry.run(readiness_only=True)) == {"db:responseTime"}
    assert set(registry.run()) == {"db:responseTime", "uptime"}


def test_readiness_waits_for_the_gating_checks_only_until_the_others_first_answer() -> None:
    registry = HealthRegistry(timeout=2.0, cache_seconds=0.0)
    release = threading.Event()
    calls: list[int] = []

    def slow_redis() -> Observation:
        calls.append(1)
        release.wait(10)
        return Observation("pass")

    registry.register("redis:responseTime", "datastore", slow_redis, worst="warn")
    db, _ = counting_check()
    registry.register("db:responseTime", "datastore", db)
    started = time.monotonic()
    first = registry.run(readiness_only=True)
    assert time.monotonic() - started < 1.0, "readiness waited for a check that cannot fail it"
    assert list(first) == ["redis:responseTime", "db:responseTime"], "the registered order"
    assert first["db:responseTime"].status == "pass"
    pending = first["redis:responseTime"]
    assert (pending.status, pending.observation.output) == ("warn", "first check running")
    assert calls == [1], "the check not waited for is started all the same"
    # The full report waits for it; once it has answered, readiness waits for it as before.
    release.set()
    assert registry.run()["redis:responseTime"].status == "pass"
    release.clear()
    waiter = threading.Timer(0.3, release.set)
    waiter.start()
    assert registry.run(readiness_only=True)["redis:responseTime"].status == "pass"
    waiter.join()
    assert len(calls) == 2


def test_an_answer_is_reused_until_the_first_of_its_results_goes_stale() -> None:
    clock = FakeClock()
    registry = HealthRegistry(timeout=1.0, cache_seconds=2.0, clock=clock)
    status = {"db": "pass"}
    db_calls: list[int] = []

    def db() -> Observation:
        db_calls.append(1)
        return Observation(status["db"])  # type: ignore[arg-type]

    registry.register("db:responseTime", "datastore", db)
    registry.run()  # db's result is cached at 1000
    schema, schema_calls = counting_check()
    clock.now = 1001.0
    registry.register("db:schema", "datastore", schema)
    answer = registry.run()  # schema's at 1001: the answer holds until 1002, db's expiry
    status["db"] = "fail"
    clock.now = 1001.9
    assert registry.run() is answer, "nothing went stale: the same answer"
    assert (len(db_calls), len(schema_calls)) == (1, 1)
    clock.now = 1002.1
    again = registry.run()
    assert again["db:responseTime"].status == "fail", "db's result went stale: checked again"
    assert again["db:schema"] is answer["db:schema"], "schema's result is still fresh"
    assert (len(db_calls), len(schema_calls)) == (2, 1)


def test_a_first_check_running_placeholder_is_not_reused() -> None:
    clock = FakeClock()
    registry = HealthRegistry(timeout=2.0, cache_seconds=60.0, clock=clock)
    release = threading.Event()
    registry.register("redis:responseTime", "datastore", held_until(release), worst="warn")
    db, _ = counting_check()
    registry.register("db:responseTime", "datastore", db)
    first = registry.run(readiness_only=True)
    assert first["redis:responseTime"].observation.output == "first check running"
    release.set()
    # Within the cache period of db's result (the fake clock stands still), yet redis has
    # answered since: its answer shows as soon as its thread has handed it over.
    deadline = time.monotonic() + 5
    while registry.run(readiness_only=True)["redis:responseTime"].status != "pass":
        assert time.monotonic() < deadline, "the placeholder answer was kept"
        time.sleep(0.01)


def test_details_are_hidden_without_the_token() -> None:
    registry = HealthRegistry(cache_seconds=0.0)
    registry.register(
        "db:responseTime",
        "datastore",
        lambda: Observation(
            "fail", 3, "ms", output="host db.internal: refused", public_output="down"
        ),
    )
    result = registry.run()["db:responseTime"]
    assert result.as_dict(details=False) == {
        "componentType": "datastore",
        "status": "fail",
        "output": "down",
    }
    full = result.as_dict(details=True)
    assert full["output"] == "host db.internal: refused"
    assert full["observedValue"] == 3 and full["observedUnit"] == "ms" and full["time"]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [([], "pass"), (["pass", "warn"], "warn"), (["warn", "fail", "pass"], "fail")],
)
def test_worst_status(statuses: list[str], expected: str) -> None:
    assert worst_status(statuses) == expected


@pytest.mark.parametrize(
    ("current", "status", "mentions_migrate"),
    [
        ([], "fail", True),
        ([HEAD_REVISION], "pass", False),
        (["9999_from_the_future"], "warn", False),
    ]
    + ([([KNOWN_REVISIONS[0]], "fail", True)] if len(KNOWN_REVISIONS) > 1 else []),
)
def test_classify_revisions(current: list[str], status: str, mentions_migrate: bool) -> None:
    observation = classify_revisions(current)
    assert observation.status == status
    assert ("ratecard migrate" in (observation.output or "")) is mentions_migrate


def test_scrub_removes_secrets_and_url_passwords() -> None:
    text = "could not connect to postgresql://app:p%40ss@db:5432/x (token tok123)\nsecond line"
    assert (
        scrub(text, ["tok123"]) == "could not connect to postgresql://app:***@db:5432/x (token ***)"
    )

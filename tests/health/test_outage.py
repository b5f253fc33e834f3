"""The outage policy's decision, as a pure function: what an unreachable database may be."""

from __future__ import annotations

from typing import Any

from ratecard.health.check_registry import Observation
from ratecard.health.outage import tolerated

UNREACHABLE = Observation("fail", output="connection refused", unreachable=True)
FRESH: dict[str, Any] = dict(
    catalog_loaded=True, schema_verified=True, last_success=1000.0, now=1100.0, stale_after=300.0
)


def test_an_unreachable_database_is_a_warning_for_an_instance_that_can_serve() -> None:
    seen = tolerated(UNREACHABLE, **FRESH)
    assert seen.status == "warn"
    assert seen.output == (
        "connection refused; serving the catalog held in memory "
        "(last refresh 100 s ago, stale after 300 s)"
    )


def test_each_missing_condition_keeps_the_failure_and_names_itself() -> None:
    cases = {
        "no catalog in memory": dict(FRESH, catalog_loaded=False),
        "schema never verified by this process": dict(FRESH, schema_verified=False),
        "no successful refresh seen by this process": dict(FRESH, last_success=None),
        "catalog stale: last refresh over 300 s ago": dict(FRESH, now=1301.0),
    }
    for reason, conditions in cases.items():
        seen = tolerated(UNREACHABLE, **conditions)
        assert seen.status == "fail", reason
        assert seen.output == f"connection refused; cannot serve: {reason}"


def test_a_database_that_answers_wrongly_is_never_tolerated() -> None:
    behind = Observation("fail", "0003", output="schema behind the code")
    assert tolerated(behind, **FRESH) is behind
    passing = Observation("pass", 1.5, "ms")
    assert tolerated(passing, **FRESH) is passing

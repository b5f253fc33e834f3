"""schemathesis against /openapi.json of a running instance with a real catalog: no request
it generates may get a server error or a response that breaks the documented schema."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.dashboard.conftest import Fleet

MAX_EXAMPLES = 25  # per operation: bounded, so the suite stays fast
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


@dataclass
class Tally:
    operations: int = 0
    examples: int = 0
    failures: list[str] = field(default_factory=list)


def fuzz_operation(operation: object, session: requests.Session, tally: Tally) -> None:
    """Run MAX_EXAMPLES generated cases against one operation; record the first failure."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases every run: a failure here is reproducible
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report, don't minimize
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())  # type: ignore[attr-defined]
    def run(case: schemathesis.Case) -> None:
        tally.examples += 1
        response = case.call(session=session, timeout=10)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Exception as exc:  # the check failure, with the request and response it saw
        tally.failures.append(f"{operation.verbose_name}: {exc}")  # type: ignore[attr-defined]


@pytest.mark.slow
def test_api_matches_its_openapi_document_under_fuzzing(
    fleet: Fleet,
) -> None:
    base = fleet.instance.base_url
    schema = schemathesis.from_uri(f"{base}/openapi.json", base_url=base)
    tally = Tally()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]
            tally.operations += 1
            fuzz_operation(operation, session, tally)
    print(
        f"schemathesis: {tally.operations} operations, {tally.examples} examples, "
        f"{len(tally.failures)} failures"
    )
    assert tally.operations >= 5, "every /api route is documented"
    assert not tally.failures, "\n\n".join(tally.failures)

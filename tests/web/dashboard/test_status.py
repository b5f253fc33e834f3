"""The status document: the public sees no host, pid or URL; an admin does; no secret ever."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ratecard.web.dashboard.status_page import StatusInputs, build_status
from ratecard.web.redaction import host_alias

HOST = "db-web-17.internal"
SECRET = "tok-9f8e"
COORDINATION = {
    "backend": "redis",
    "backend_problem": None,
    "coordinator": {"alive": True, "problem": None},
    "jobs": {
        "refresh": {
            "interval": 10800.0,
            "lease": {"store": "redis", "holder": f"{HOST}:41", "fence": 7, "expires_in": 8.5},
            "next_due_at": 1_790_000_000.0,
            "next_due_in": 120.0,
            "last_completed_slot": 5,
        }
    },
    "instances": [
        {"id": f"{HOST}:41", "host": HOST, "pid": "41", "version": "0.1.0",
         "started_at": "1789990000.5", "role": "web", "store": "redis"},
        {"id": "web-b", "host": "other-host", "pid": "7", "version": "0.1.0",
         "started_at": "1789990001", "role": "worker", "store": "redis"},
    ],
}  # fmt: skip
STARTED = datetime(2026, 7, 24, 12, 0, tzinfo=UTC)
RUNS = [
    {
        "id": 9, "trigger": "schedule", "instance_id": f"{HOST}:41", "outcome": "partial",
        "started_at": STARTED, "finished_at": STARTED, "duration": 1.5, "error": None,
        "catalog_version": 9,
        "sources": [
            {"source": "litellm", "outcome": "success", "fetched": 10, "added": 1, "changed": 0,
             "removed": 0, "held": 0, "rejected": 0, "duration": 1.0, "error": None},
            {"source": "openrouter", "outcome": "failed", "fetched": 0, "added": 0, "changed": 0,
             "removed": 0, "held": 0, "rejected": 0, "duration": 0.5,
             "error": f"HTTP 503 from https://user:pw@{HOST}/feed (token {SECRET})"},
        ],
    },
]  # fmt: skip


@dataclass
class HeldRow:
    id: int = 3
    kind: str = "price"
    source: str = "litellm"
    model_id: str = "gpt-4o"
    reason: str = "input moved x1000"
    factor: str = "1000"
    detected_at: datetime = STARTED
    old: Any = None
    proposed: Any = None


def inputs() -> StatusInputs:
    held = HeldRow(
        old={"status": "priced", "input_per_token": "0.0000025", "output_per_token": "0.00001"},
        proposed={"status": "priced", "input_per_token": "0.0025", "output_per_token": "0.00001"},
    )
    return StatusInputs(
        served_by={"id": f"{HOST}:41", "version": "0.1.0"},
        coordination=COORDINATION,
        runs=RUNS,
        held=[held],
        now=1_790_000_000.0,
        secrets=[SECRET, "pw"],
        extra_hosts=(),
    )


def test_public_status_masks_hosts_and_never_shows_secrets() -> None:
    status = build_status(inputs(), admin=False)
    text = repr(status)
    assert HOST not in text and SECRET not in text and "user:pw" not in text
    # A `host:pid` id is aliased whole: no pid in the public view.
    assert status["coordination"]["lease_holder"] == host_alias(f"{HOST}:41")
    assert status["instances"][0]["id"] == host_alias(f"{HOST}:41")
    assert status["runs"][0]["instance_id"] == host_alias(f"{HOST}:41")
    first = status["instances"][0]
    assert first["holds_lease"] is True and "host" not in first and "pid" not in first
    assert status["instances"][1]["holds_lease"] is False
    assert status["last_error"]["source"] == "openrouter"
    assert "HTTP 503 from <url>" in status["last_error"]["text"]


def test_admin_status_shows_hosts_but_still_no_secret() -> None:
    status = build_status(inputs(), admin=True)
    assert status["instances"][0]["host"] == HOST
    assert status["coordination"]["lease_holder"] == f"{HOST}:41"
    assert SECRET not in repr(status) and "user:pw" not in repr(status)


def test_held_changes_show_only_the_prices_that_move() -> None:
    held = build_status(inputs(), admin=False)["held"][0]
    assert held["changes"] == [{"price": "input", "old": "2.5", "new": "2500"}]
    assert held["factor"] == "1000"


def test_timeline_groups_runs_by_source_and_times_are_iso() -> None:
    status = build_status(inputs(), admin=False)
    assert [line["source"] for line in status["timeline"]] == ["litellm", "openrouter"]
    assert status["coordination"]["next_due_at"].endswith("Z")
    assert status["instances"][0]["started_at"].endswith("Z")


def test_missing_parts_are_reported_not_raised() -> None:
    status = build_status(
        StatusInputs(
            served_by={"id": "x"},
            coordination_error="this process runs no coordinator",
            catalog_error="catalog unavailable: OperationalError",
        ),
        admin=False,
    )
    assert status["coordination"]["available"] is False
    assert status["coordination"]["problem"] == "this process runs no coordinator"
    assert status["catalog"] == {
        "available": False,
        "error": "catalog unavailable: OperationalError",
    }
    assert status["last_error"] is None and status["instances"] == []

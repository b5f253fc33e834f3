"""How the suite is spread over pytest-xdist workers (`make test` runs `pytest -n ...`).

Two rules on top of xdist's `load` scheduling (tests/conftest.py applies both):

- The long tests go first, longest first (`LONG_TESTS`, `expected_seconds`), so that they overlap
  one another from the start and the short tests fill the gaps, instead of one of them starting
  late and running alone at the end. The suite mostly waits (fleets of processes, lease TTLs),
  so several long tests at once share the cores well.
- The tests that share the dashboard's live instance (tests/dashboard/conftest.py `fleet`: a
  served instance and three refreshes, ~5 s; the browser tests' Chromium besides) run on one
  worker, one after another (`GROUPS`, `GroupedScheduling`), instead of each worker building
  its own. xdist's `--dist loadgroup` would do this from `xdist_group` marks, but with pytest
  9.2 it no longer can (pytest-xdist issue 1386: the group travels in the node id, which
  pytest 9.2 no longer lets a plugin change), so the scheduler groups by file name instead.

- The fleet tests whose guarantee is per slot with no slack (tests/coordination/
  test_fleet_processes.py: a 1.5 s slot, a 1 s lease TTL; a worker process starved of CPU for
  a slot loses it, and the test fails) run on one worker, one after another, and only once the
  tests that start and kill whole fleets of instances, or fuzz one, are over (`AFTER`): under
  their load a fleet's first run took longer than a slot. The strict tests' own assertions are
  unchanged; they only get a machine no busier than the rest of the suite makes it.

All are keyed by names that stay when a file moves to another folder (the test function's, the
file's own). A name missing here costs wall time, never a result: every test runs either way.
"""

from __future__ import annotations

import pytest
from xdist.scheduler import LoadScopeScheduling
from xdist.workermanage import WorkerController

DASHBOARD = "dashboard-fleet"
STRICT_FLEETS = "strict-fleets"
# Test file name -> the group its tests run in, on one worker.
GROUPS = {
    "test_browser.py": DASHBOARD,
    "test_schemathesis.py": DASHBOARD,
    "test_client_live.py": DASHBOARD,
    "test_fleet_processes.py": STRICT_FLEETS,
}
CHAOS_FLEET = "test_fleet_commits_each_slot_once_through_kills_and_a_redis_restart"
CHAOS_WEBHOOKS = "test_every_committed_change_arrives_once_per_id_through_sigkills"
# A unit (group or test function) -> the units it waits for: it is handed out once they are
# over, or when nothing else is left to hand out (so a worker is never kept idle for it).
AFTER = {STRICT_FLEETS: (DASHBOARD, CHAOS_FLEET, CHAOS_WEBHOOKS)}

# Test function (or group) -> its seconds, measured alone on 2 cores; only the order matters.
LONG_TESTS = {
    DASHBOARD: 45.0,
    CHAOS_FLEET: 44.0,
    STRICT_FLEETS: 37.0,
    CHAOS_WEBHOOKS: 33.0,
    "test_each_hostile_variant_leaves_every_model_at_its_last_good_prices": 17.5,
    "test_every_route_answers_every_hostile_input_without_a_500": 5.9,
    "test_fleet_command_prints_addresses_and_holder_and_stops_every_child": 4.0,
    "test_fixed_text_lines_are_the_general_paths_bytes": 3.9,
    "test_the_two_real_snapshots_in_either_order_give_identical_history": 3.6,
    "test_refresh_worker_and_health_work_through_pgbouncer": 3.5,
    "test_stop_releases_the_lease_and_a_standby_takes_over": 3.4,
    "test_refresh_starts_once_and_refuses_a_second_while_running": 3.3,
    "test_bundled_bootstrap_when_no_source_reachable_then_retired": 3.2,
    "test_status_shows_slots_runs_and_backend": 3.0,
}


def group_of(nodeid: str) -> str | None:
    """The group a test runs in (by its file's name), if any."""
    return GROUPS.get(nodeid.split("::", 1)[0].rsplit("/", 1)[-1])


def unit_of(nodeid: str) -> str:
    """The name of the unit a test belongs to: its group, else its function's name."""
    group = group_of(nodeid)
    return group if group is not None else nodeid.rsplit("::", 1)[-1].split("[", 1)[0]


def expected_seconds(item: pytest.Item) -> float:
    """How long `item` (or its whole group) is expected to take; 0 for the many short ones."""
    return LONG_TESTS.get(unit_of(item.nodeid), 0.0)


class GroupedScheduling(LoadScopeScheduling):
    """xdist's load scheduling, one test at a time, except that a group goes to one worker and
    a unit named in AFTER waits for the units it names.

    LoadScopeScheduling hands out work units in collection order (the long tests first, see
    above), the largest units first: each test is a unit of its own, a group one unit.
    """

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid) or nodeid

    def _assign_work_unit(self, node: WorkerController) -> None:
        """Hand out the first unit whose AFTER units are over (else the first one)."""
        ready = next(
            (
                scope
                for scope in self.workqueue
                if not any(self._unfinished(other) for other in AFTER.get(unit_of(scope), ()))
            ),
            None,
        )
        if ready is not None:
            self.workqueue.move_to_end(ready, last=False)
        super()._assign_work_unit(node)

    def _unfinished(self, unit: str) -> bool:
        """Whether a test of `unit` is still to be handed out, or handed out and not done."""
        if any(unit_of(scope) == unit for scope in self.workqueue):
            return True
        return any(
            unit_of(scope) == unit and not all(done.values())
            for work in self.assigned_work.values()
            for scope, done in work.items()
        )

"""A real fleet: `ratecard serve` instances SIGKILLed and restarted at random, Redis restarted.

The guarantee under test (design brief, "Coordination, precisely"): each slot's refresh
commits exactly once in the fleet, and no slot is lost. The coordinator coalesces missed slots
into the current one (coordination/coordinator.py: "missed slots coalesce into the current
one"), so a slot nobody completed in time is covered by the next committed run, which must
then be a `catch-up` run; and a slot can only be missed when something was disrupted.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import text

from ratecard.cli.fleet import instance_env, stop_instances
from ratecard.db import build_engine
from ratecard.redis_keys import RedisKeys
from tests.support.feeds import FeedServer
from tests.support.processes import ServedProcess, serve, stop_all
from tests.support.services import REPO, RedisServer, clean_env, free_port, wait_for_port

pytestmark = pytest.mark.slow

INTERVAL = 3.0
LEASE_TTL = 1.5
PREFIX = "fleettest:"
FEED = "litellm_2026-07-24.json"
CHAOS_SECONDS = 33.0
QUIET_SECONDS = 7.0  # two slots with every instance up: the fleet must settle


@dataclass
class LocalFleet:
    """Instances of `ratecard serve` by id, each restartable on its own port."""

    settings: dict[str, str]
    log_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, ServedProcess] = field(default_factory=dict)

    def start(self, instance_id: str) -> None:
        port = self.ports.setdefault(instance_id, free_port())
        self.processes[instance_id] = serve(
            self.log_dir / f"{instance_id}.log",
            port=port,
            env=self.settings,
            RATECARD_INSTANCE_ID=instance_id,
        ).start()

    def alive(self) -> list[str]:
        return sorted(i for i, p in self.processes.items() if p.returncode is None)

    def kill(self, instance_id: str) -> None:
        self.processes[instance_id].kill()  # the whole session: master and workers at once

    def stop_all(self) -> list[int | None]:
        return stop_all(self.processes.values(), grace=25)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )


@pytest.fixture
def local_fleet(
    tmp_path: Path, migrated_pg_url: str, redis_server: RedisServer, feed_server: FeedServer
) -> Iterator[LocalFleet]:
    settings = {
        "DATABASE_URL": migrated_pg_url,
        "REDIS_URL": redis_server.url,
        "RATECARD_SOURCES": f"litellm={feed_server.url(FEED)}",
        "RATECARD_REFRESH_INTERVAL": str(INTERVAL),
        "RATECARD_LEASE_TTL": str(LEASE_TTL),
        "RATECARD_HEARTBEAT_INTERVAL": "0.5",
        "RATECARD_REDIS_PREFIX": PREFIX,
        "RATECARD_LOG_FORMAT": "text",
    }
    fleet = LocalFleet(settings, tmp_path)
    yield fleet
    for process in fleet.processes.values():
        process.kill()


def lease_holder(client: redis.Redis) -> str | None:
    """Return the id of the instance holding the refresh lease in Redis, if any."""
    try:
        value = client.get(RedisKeys(PREFIX).lease("refresh"))
    except redis.RedisError:
        return None
    return value.decode().split("|", 1)[-1] if isinstance(value, bytes) else None


def refresh_runs(database_url: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return every refresh run (oldest first) and the job's state row."""
    engine = build_engine(database_url)
    try:
        with engine.connect() as conn:
            runs = [
                dict(row)
                for row in conn.execute(
                    text(
                        "SELECT id, slot, instance_id, trigger, outcome, catalog_version "
                        "FROM runs WHERE job = 'refresh' ORDER BY id"
                    )
                ).mappings()
            ]
            state = conn.execute(
                text("SELECT last_slot, last_run_id FROM job_state WHERE job = 'refresh'")
            ).mappings()
            return runs, dict(state.one())
    finally:
        engine.dispose()


def test_fleet_commits_each_slot_once_through_kills_and_a_redis_restart(
    local_fleet: LocalFleet, redis_server: RedisServer, migrated_pg_url: str
) -> None:
    seed = int(os.environ.get("RATECARD_FLEET_SEED", random.SystemRandom().randrange(10**6)))
    print(f"\nfleet test seed: {seed} (RATECARD_FLEET_SEED={seed} replays the same choices)")
    rng = random.Random(seed)
    ids = [f"fleet-{i}" for i in range(1, 6)]
    for instance_id in ids:
        local_fleet.start(instance_id)
    for instance_id in ids:
        wait_for_port(local_fleet.ports[instance_id], timeout=40)
    client = redis_server.client()

    kills, holder_kills, restarts = 0, 0, 0
    dead_until: dict[str, float] = {}
    started = time.monotonic()
    redis_restarted_at: float | None = None
    while (now := time.monotonic()) - started < CHAOS_SECONDS:
        for instance_id, due in list(dead_until.items()):
            if now >= due:
                local_fleet.start(instance_id)
                del dead_until[instance_id]
                restarts += 1
        if redis_restarted_at is None and now - started >= CHAOS_SECONDS / 2:
            redis_server.restart()  # SIGKILL + start: every lease, fence and heartbeat is lost
            redis_restarted_at = time.time()
        alive = local_fleet.alive()
        if len(alive) > 2:
            holder = lease_holder(client)
            # Half the time aim at the runner (mid-run, the case that needs a takeover).
            victim = holder if holder in alive and rng.random() < 0.5 else rng.choice(alive)
            local_fleet.kill(victim)
            kills += 1
            holder_kills += victim == holder
            dead_until[victim] = time.monotonic() + rng.uniform(1.0, 4.0)
        time.sleep(rng.uniform(1.5, 3.5))
    for instance_id in dead_until:
        local_fleet.start(instance_id)
        restarts += 1
    time.sleep(QUIET_SECONDS)
    codes = local_fleet.stop_all()
    assert redis_restarted_at is not None

    runs, state = refresh_runs(migrated_pg_url)
    committed = [r for r in runs if r["catalog_version"] is not None]
    slots = [r["slot"] for r in committed]
    first, last = min(slots), max(slots)
    missing = sorted(set(range(first, last + 1)) - set(slots))
    # A slot attempted by one instance and committed by another: someone took over.
    takeovers = sum(
        1
        for r in committed
        if any(o["slot"] == r["slot"] and o["instance_id"] != r["instance_id"] for o in runs)
    )
    print(
        f"slots {first}..{last}: {len(set(slots))} committed, {len(missing)} coalesced "
        f"({missing}); runs {len(runs)} ({dict(Counter(r['outcome'] for r in runs))}); "
        f"kills {kills} ({holder_kills} of the lease holder), restarts {restarts}, "
        f"takeovers {takeovers}, Redis restarts 1; exit codes at stop {codes}"
    )

    twice = sorted(s for s, n in Counter(slots).items() if n > 1)
    assert not twice, f"slots committed more than once: {twice}\n{local_fleet.logs()}"
    assert slots == sorted(slots), "a run committed an older slot after a newer one"
    # Coalescing: the run right after a gap completed it by catching up, never by schedule.
    for before, after in itertools.pairwise(committed):
        if after["slot"] - before["slot"] > 1:
            assert after["trigger"] == "catch-up", (before, after)
    # A slot is only missed when the fleet was disrupted during it.
    assert len(missing) <= kills + 1, f"more lost slots than disruptions: {missing}"
    assert state == {"last_slot": last, "last_run_id": committed[-1]["id"]}, state
    # The fleet kept working through the chaos and after the Redis restart.
    elapsed_slots = (CHAOS_SECONDS + QUIET_SECONDS) / INTERVAL
    assert len(set(slots)) >= elapsed_slots / 2, (slots, local_fleet.logs())
    restart_slot = int(redis_restarted_at // INTERVAL)
    assert last >= restart_slot + 2, f"no commits after the Redis restart: {slots}"
    assert kills >= 4
    assert all(code == 0 for code in codes), f"{codes}\n{local_fleet.logs()}"


def test_fleet_command_prints_addresses_and_holder_and_stops_every_child(
    tmp_path: Path, migrated_pg_url: str, redis_url: str, redis_prefix: str, feed_server: FeedServer
) -> None:
    base_port = free_port_pair()
    env = clean_env()
    env.update(
        DATABASE_URL=migrated_pg_url,
        REDIS_URL=redis_url,
        RATECARD_REDIS_PREFIX=redis_prefix,
        RATECARD_SOURCES=f"litellm={feed_server.url(FEED)}",
        RATECARD_REFRESH_INTERVAL="2",
        RATECARD_LEASE_TTL="1",
        RATECARD_LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    feed_server.delay(FEED, 2.5, times=3)  # the first runs hold the lease long enough to see
    ratecard = str(Path(sys.executable).with_name("ratecard"))
    with open(tmp_path / "stderr.log", "wb") as errors:
        fleet = subprocess.Popen(
            [ratecard, "fleet", "--instances", "2", "--base-port", str(base_port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    try:
        reader = LineReader(fleet)
        holder_line = reader.wait_for(lambda line: line.startswith("lease: refresh held by"), 60)
        children = child_pids(fleet.pid)
        fleet.send_signal(signal.SIGINT)
        output = reader.finish(timeout=40)
    finally:
        if fleet.poll() is None:
            fleet.kill()
            fleet.wait(10)
    assert f"fleet-1 listening on http://127.0.0.1:{base_port} " in output, output
    assert f"fleet-2 listening on http://127.0.0.1:{base_port + 1} " in output, output
    assert "does not migrate" in output
    holder = holder_line.split("held by ", 1)[1].split(" ", 1)[0]
    assert holder in ("fleet-1", "fleet-2"), holder_line
    assert "fleet stopped" in output and fleet.returncode == 0, output
    assert len(children) >= 4, children  # two gunicorn masters, each with its worker
    still_there = [pid for pid in children if pid_alive(pid)]
    assert not still_there, f"children left running: {still_there}"


def free_port_pair() -> int:
    """Return a port p such that p and p + 1 are both free now."""
    for _ in range(50):
        port = free_port()
        if port < 65535 and port_free(port + 1):
            return port
    raise RuntimeError("no two consecutive free ports")


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class LineReader:
    """Collect a process's stdout lines in a thread, so waiting for one never blocks on a pipe."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.process = process
        self.lines: list[str] = []
        self._stream = process.stdout
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        for line in self._stream:
            self.lines.append(line)

    def wait_for(self, done: Any, timeout: float) -> str:
        """Return the first line for which `done(line)` holds; fail with what was read."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if done(line):
                    return line
            if self.process.poll() is not None and not self._thread.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"expected line not printed within {timeout} s:\n{self.text()}")

    def finish(self, timeout: float) -> str:
        """Wait for the process to exit and its output to end; return all of it."""
        self.process.wait(timeout)
        self._thread.join(timeout)
        return self.text()

    def text(self) -> str:
        return "".join(self.lines)


def child_pids(parent: int) -> list[int]:
    """Return every live descendant pid of `parent` (parent links read from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [parent]
    while frontier:
        pid = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == pid]
        found += children
        frontier += children
    return found


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_instance_env_names_each_instance_and_drops_per_process_settings() -> None:
    base = {
        "DATABASE_URL": "postgresql://db/x",
        "RATECARD_INSTANCE_ID": "parent",
        "PROMETHEUS_MULTIPROC_DIR": "/tmp/shared-metrics",
    }
    env = instance_env(base, "fleet-3")
    assert env == {"DATABASE_URL": "postgresql://db/x", "RATECARD_INSTANCE_ID": "fleet-3"}


def test_stop_instances_sigkills_what_ignores_sigterm() -> None:
    stubborn = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True
        )
        for code in (stubborn, "import time; print('ready', flush=True); time.sleep(60)")
    ]
    try:
        for process in processes:
            assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        started = time.monotonic()
        codes = stop_instances(processes, grace=1.0)
        assert codes == [-signal.SIGKILL, -signal.SIGTERM]
        assert time.monotonic() - started < 5
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(10)
            if process.stdout is not None:
                process.stdout.close()


def test_fleet_refuses_a_database_that_is_not_migrated(pg_url: str) -> None:
    port = free_port()
    env = clean_env()
    env["DATABASE_URL"] = pg_url
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ratecard")), "fleet", "--base-port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "run `ratecard migrate` first" in result.stderr
    assert "listening" not in result.stdout

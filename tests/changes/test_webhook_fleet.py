"""A real fleet: three `ratecard serve` instances on PostgreSQL and Redis deliver webhooks to a
local receiver that verifies every signature with the `standardwebhooks` library and fails the
first attempt of every message, while the delivery lease holder (or another instance) is
SIGKILLed again and again, mid-delivery.

The guarantee under test: every committed change arrives, and no change travels
under two webhook-ids. Duplicate POSTs of one message (same id) are allowed: a receiver
de-duplicates by webhook-id, and a SIGKILL between a receiver's 200 and our record of it can
only be answered by sending again.
"""

from __future__ import annotations

import os
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import text

from ratecard.cli.fleet import instance_env, kill_session, start_instance
from ratecard.db import build_engine
from ratecard.redis_keys import RedisKeys
from tests.support.changes_app import FEED, tiny_feed
from tests.support.feeds import FeedServer
from tests.support.receiver import WebhookReceiver
from tests.support.services import RedisServer, clean_env, free_port, wait_for_port

pytestmark = pytest.mark.slow

PREFIX = "hookfleet:"
TOKEN = "fleet-admin-token-5e2"
INTERVAL = 2.0
CHAOS_SECONDS = 24.0
SETTLE_SECONDS = 60.0  # a killed sender's claim (4 x 1 s timeout + 5 s) plus retries


@dataclass
class HookFleet:
    env: dict[str, str]
    log_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, Any] = field(default_factory=dict)

    def start(self, instance_id: str) -> None:
        port = self.ports.setdefault(instance_id, free_port())
        with open(self.log_dir / f"{instance_id}.log", "ab") as log:
            self.processes[instance_id] = start_instance(
                "127.0.0.1", port, 1, instance_env(self.env, instance_id), log
            )

    def alive(self) -> list[str]:
        return sorted(i for i, p in self.processes.items() if p.poll() is None)

    def kill(self, instance_id: str) -> None:
        kill_session(self.processes[instance_id])
        self.processes[instance_id].wait(10)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )


@pytest.fixture
def hook_fleet(
    tmp_path: Path, migrated_pg_url: str, redis_server: RedisServer
) -> Iterator[tuple[HookFleet, FeedServer, WebhookReceiver]]:
    with FeedServer() as feeds, WebhookReceiver() as receiver:
        feeds.set_body(FEED, tiny_feed())
        env = clean_env()
        env.update(
            DATABASE_URL=migrated_pg_url,
            REDIS_URL=redis_server.url,
            RATECARD_SOURCES=f"litellm={feeds.url(FEED)}",
            RATECARD_REFRESH_INTERVAL=str(INTERVAL),
            RATECARD_LEASE_TTL="1.5",
            RATECARD_HEARTBEAT_INTERVAL="0.5",
            RATECARD_REDIS_PREFIX=PREFIX,
            RATECARD_LOG_FORMAT="text",
            RATECARD_ADMIN_TOKEN=TOKEN,
            RATECARD_WEBHOOK_ALLOW_PRIVATE="true",
            RATECARD_WEBHOOK_TIMEOUT="1",
            RATECARD_WEBHOOK_POLL_INTERVAL="0.2",
        )
        fleet = HookFleet(env, tmp_path)
        yield fleet, feeds, receiver
        for process in fleet.processes.values():
            if process.poll() is None:
                kill_session(process)
                process.wait(10)


def delivery_holder(client: redis.Redis) -> str | None:
    try:
        value = client.get(RedisKeys(PREFIX).lease("delivery"))
    except redis.RedisError:
        return None
    return value.decode().split("|", 1)[-1] if isinstance(value, bytes) else None


def test_every_committed_change_arrives_once_per_id_through_sigkills(
    hook_fleet: tuple[HookFleet, FeedServer, WebhookReceiver],
    redis_server: RedisServer,
    migrated_pg_url: str,
) -> None:
    fleet, feeds, receiver = hook_fleet
    seed = int(os.environ.get("RATECARD_FLEET_SEED", random.SystemRandom().randrange(10**6)))
    print(f"\nwebhook fleet seed: {seed} (RATECARD_FLEET_SEED={seed} replays the choices)")
    rng = random.Random(seed)
    ids = ["hook-1", "hook-2", "hook-3"]
    for instance_id in ids:
        fleet.start(instance_id)
    for instance_id in ids:
        wait_for_port(fleet.ports[instance_id], timeout=40)

    created = httpx.post(
        f"http://127.0.0.1:{fleet.ports['hook-1']}/admin/webhooks",
        json={"url": receiver.url("/prices"), "filter": {}},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    subscription = created.json()
    # Every message fails once (503), and answers slowly: kills land mid-delivery.
    receiver.expect("/prices", subscription["secret"], fail_first=1, delay=0.3)

    client = redis_server.client()
    kills = holder_kills = 0
    dead_until: dict[str, float] = {}
    started = time.monotonic()
    version = 0
    while (now := time.monotonic()) - started < CHAOS_SECONDS:
        version += 1  # a new price every second: most periods commit changes
        feeds.set_body(FEED, tiny_feed({"gpt-4o": f"{2 + version % 7}e-06"}))
        for instance_id, due in list(dead_until.items()):
            if now >= due:
                fleet.start(instance_id)
                del dead_until[instance_id]
        alive = fleet.alive()
        if len(alive) >= 2 and rng.random() < 0.45:
            holder = delivery_holder(client)
            victim = holder if holder in alive and rng.random() < 0.7 else rng.choice(alive)
            fleet.kill(victim)
            kills += 1
            holder_kills += victim == holder
            dead_until[victim] = time.monotonic() + rng.uniform(1.0, 3.0)
        time.sleep(1.0)
    for instance_id in dead_until:
        fleet.start(instance_id)

    engine = build_engine(migrated_pg_url)
    try:

        def outbox_done() -> bool:
            with engine.connect() as conn:
                left = conn.execute(
                    text("SELECT count(*) FROM webhook_events WHERE status <> 'delivered'")
                ).scalar()
            return left == 0

        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline and not outbox_done():
            time.sleep(0.5)
        with engine.connect() as conn:
            committed = [
                row.seq
                for row in conn.execute(
                    text("SELECT seq FROM changes WHERE seq > :after ORDER BY seq"),
                    {"after": _created_seq(conn, subscription["id"])},
                )
            ]
            events = {
                row.id: row.status
                for row in conn.execute(text("SELECT id, status FROM webhook_events"))
            }
    finally:
        engine.dispose()

    delivered: dict[int, set[str]] = defaultdict(set)
    attempted: dict[int, set[str]] = defaultdict(set)
    for arrival in receiver.arrivals:
        assert arrival.verified, f"a request failed signature verification: {arrival}"
        for change in arrival.body["data"]["changes"]:
            attempted[change["seq"]].add(arrival.message_id)
            if arrival.status == 200:
                delivered[change["seq"]].add(arrival.message_id)
    posts_per_id: dict[str, int] = defaultdict(int)
    for arrival in receiver.arrivals:
        posts_per_id[arrival.message_id] += 1
    duplicates = sum(1 for a in receiver.delivered() if posts_per_id[a.message_id] > 2)
    print(
        f"changes committed {len(committed)}, messages {len(events)}, POSTs "
        f"{len(receiver.arrivals)}, kills {kills} ({holder_kills} of the delivery holder), "
        f"messages POSTed beyond fail+success: {duplicates}"
    )

    assert len(committed) >= 5, "the fleet committed too few changes to test anything"
    assert kills >= 3
    missing = [seq for seq in committed if seq not in delivered]
    assert not missing, f"committed changes never delivered: {missing}\n{fleet.logs()}"
    under_two_ids = {seq: ids for seq, ids in attempted.items() if len(ids) > 1}
    assert not under_two_ids, f"changes carried under two webhook-ids: {under_two_ids}"
    invented = set(attempted) - set(committed)
    assert not invented, f"changes sent that never committed: {sorted(invented)}"
    assert set(events.values()) == {"delivered"}, events
    assert {a.message_id for a in receiver.arrivals} == set(events)


def _created_seq(conn: Any, subscription_id: str) -> int:
    return int(
        conn.execute(
            text("SELECT created_seq FROM webhook_subscriptions WHERE id = :id"),
            {"id": subscription_id},
        ).scalar_one()
    )

"""One real instance for the dashboard's end-to-end tests (browser, schemathesis).

Built once per session because it is the expensive part: a migrated PostgreSQL database, a
Redis key prefix, a local feed server, `ratecard serve` with its coordinator running, and a
catalog with history (the 2026-03-14 LiteLLM snapshot, then 2026-07-24) and one held change
(gpt-4o's input price x 1000). Every refresh goes through POST /admin/refresh, the lease and
the fence, exactly as in production.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
import redis

from tests.support.feeds import FeedServer
from tests.support.processes import ServedProcess, serve
from tests.support.services import FEED_DATA, REDIS_URL, PostgresDatabases, delete_keys

# The in-process app fixtures (tiny real feed, SQLite) are shared with tests/admin.
from tests.web.admin.conftest import admin_app, build_app, feeds  # noqa: F401
from tests.web.dashboard.serving import refresh_now, scaled_feed, wait_for_refresh_after

ADMIN_TOKEN = "dash-admin-token-5b1e"
INSTANCE_ID = "dash-instance-1"
HELD_MODEL = "gpt-4o"
HISTORY_MODEL = "mistral/mistral-medium-latest"  # its price changed between the snapshots
FEED_PATH = "/litellm.json"


@dataclass
class Fleet:
    """The running instance and what the tests need to know about its data."""

    instance: ServedProcess
    feeds: FeedServer
    held_model: str
    held_price: Decimal  # the proposed (x1000) input price per token
    held_id: int
    pg_url: str


@pytest.fixture(scope="session")
def fleet(
    pg_databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    pg_url = pg_databases.create_migrated()
    prefix = f"rctest:{uuid.uuid4().hex[:10]}:"
    workdir = tmp_path_factory.mktemp("dashboard-fleet")
    feed_server = FeedServer(FEED_DATA).start()
    feed_server.set_file(FEED_PATH, "litellm_2026-03-14.json")
    instance = serve(
        workdir / "serve.log",
        DATABASE_URL=pg_url,
        REDIS_URL=REDIS_URL,
        RATECARD_REDIS_PREFIX=prefix,
        RATECARD_SOURCES=f"litellm={feed_server.url(FEED_PATH)}",
        RATECARD_ADMIN_TOKEN=ADMIN_TOKEN,
        RATECARD_INSTANCE_ID=INSTANCE_ID,
        RATECARD_REFRESH_INTERVAL="10800",
        RATECARD_HEARTBEAT_INTERVAL="1",
        RATECARD_COORDINATOR="true",
        PROMETHEUS_MULTIPROC_DIR=str(workdir / "prom"),
    )
    try:
        instance.start().wait_ready("/health/startup")
        with instance.client(ADMIN_TOKEN) as client:
            # The catalog is empty: the coordinator's catch-up run loads 2026-03-14 at once.
            first = wait_for_refresh_after(client, None)
            assert first["outcome"] == "success", (first, instance.output()[-2000:])
            feed_server.set_file(FEED_PATH, "litellm_2026-07-24.json")
            second = refresh_now(client)
            assert second["outcome"] == "success", second
            body, held_price = scaled_feed(FEED_DATA / "litellm_2026-07-24.json", HELD_MODEL, 1000)
            feed_server.set_body(FEED_PATH, body)
            third = refresh_now(client)
            assert third["outcome"] in ("success", "partial"), third
            held = client.get("/api/catalog").json()["held"]
            held_ids = [h["id"] for h in held if h["model_id"] == HELD_MODEL]
            assert held_ids, held
        yield Fleet(instance, feed_server, HELD_MODEL, held_price, held_ids[0], pg_url)
    finally:
        instance.stop()
        feed_server.stop()
        client_ = redis.Redis.from_url(REDIS_URL)
        delete_keys(client_, prefix)
        client_.close()


@pytest.fixture(scope="session")
def fleet_url(fleet: Fleet) -> str:
    return fleet.instance.base_url


@pytest.fixture
def admin_token() -> str:
    return ADMIN_TOKEN

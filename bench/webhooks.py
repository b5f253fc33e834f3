"""Webhook delivery on PostgreSQL: commit -> delivery latency at a local receiver, and
deliveries per second to 10 receivers. Every message is verified by the receiver with the
`standardwebhooks` library (as a subscriber would).

    .venv/bin/python bench/webhooks.py [--rounds 15] [--messages 30]

Creates and drops its own database on 127.0.0.1:5432 (user postgres); the delivery lease runs
on the database (no Redis needed); receivers and the feed server listen on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from statistics import median
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from tests.support.changes_app import FEED, tiny_feed  # noqa: E402
from tests.support.feeds import FeedServer  # noqa: E402
from tests.support.receiver import WebhookReceiver  # noqa: E402

from ratecard.app import create_app  # noqa: E402
from ratecard.ingest.refresh import refresh_catalog  # noqa: E402
from ratecard.migrations.upgrade import Migrator  # noqa: E402
from ratecard.settings import Settings, parse_sources  # noqa: E402
from ratecard.web.state import get_state  # noqa: E402

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
TOKEN = "bench-token"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="commits timed for latency")
    parser.add_argument("--messages", type=int, default=30, help="messages per receiver")
    args = parser.parse_args()
    name = f"rc_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_URL.format(name=name)
    try:
        Migrator(url, echo=lambda _line: None).upgrade(wait=30)
        with FeedServer() as feeds:
            feeds.set_body(FEED, tiny_feed())
            settings = Settings(
                database_url=url,
                sources=parse_sources(f"litellm={feeds.url(FEED)}"),
                start_coordinator=False,
                admin_token=TOKEN,
                webhook_allow_private=True,
                instance_id="bench",
            )
            latency(settings, feeds, args.rounds)
            throughput(settings, feeds, args.messages)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _subscribe(app: Any, receiver: WebhookReceiver, path: str) -> str:
    created = app.test_client().post(
        "/admin/webhooks",
        json={"url": receiver.url(path)},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert created.status_code == 201, created.get_json()
    receiver.expect(path, created.get_json()["secret"])
    return str(created.get_json()["id"])


def _price(round_number: int) -> str:
    return f"{2 + round_number % 997}e-09"


def latency(settings: Settings, feeds: FeedServer, rounds: int) -> None:
    """Time commit -> arrival, with the holder polling, then woken as the refresh job does."""
    polled = _latency_round(settings, feeds, rounds, wake=False)
    woken = _latency_round(settings, feeds, rounds, wake=True)
    for label, ms in (
        ("holder on another instance", polled),
        ("holder on the same instance", woken),
    ):
        print(
            f"commit -> delivery latency, {label}: {median(ms):8.0f} ms  "
            f"(median of {rounds}; p95 {_p95(ms):.0f} ms, max {ms[-1]:.0f} ms; "
            f"poll {settings.webhook_poll_interval:g} s)"
        )


def _p95(values: list[float]) -> float:
    return values[min(len(values) - 1, int(0.95 * len(values)))]


def _latency_round(settings: Settings, feeds: FeedServer, rounds: int, wake: bool) -> list[float]:
    app = create_app(settings)
    state = get_state(app)
    deps = state.need_refresh_deps()
    worker = state.delivery
    assert worker is not None
    with WebhookReceiver() as receiver:
        sub_id = _subscribe(app, receiver, "/latency")
        worker.start()
        samples = []
        try:
            for n in range(rounds):
                feeds.set_body(FEED, tiny_feed({"gpt-4o": _price(n + (500 if wake else 0))}))
                report = refresh_catalog(deps)
                committed = time.time()  # the commit precedes this by the publish step only
                assert report.outcome == "success", report
                if wake:
                    worker.notify()  # what ratecard.background.run_refresh does after a commit
                deadline = committed + 10
                while len(receiver.delivered("/latency")) <= n and time.time() < deadline:
                    time.sleep(0.002)
                arrivals = receiver.delivered("/latency")
                assert len(arrivals) == n + 1, "a message did not arrive within 10 s"
                samples.append(arrivals[-1].at - committed)
                time.sleep(0.05)
            # Its receiver goes away with this block: the next phase must not send there.
            app.test_client().delete(
                f"/admin/webhooks/{sub_id}", headers={"Authorization": f"Bearer {TOKEN}"}
            )
        finally:
            state.shutdown()
    return sorted(s * 1000 for s in samples)


def throughput(settings: Settings, feeds: FeedServer, messages: int) -> None:
    app = create_app(settings)
    state = get_state(app)
    deps = state.need_refresh_deps()
    worker = state.delivery
    assert worker is not None
    receivers = [WebhookReceiver().__enter__() for _ in range(10)]
    try:
        for i, receiver in enumerate(receivers):
            _subscribe(app, receiver, f"/r{i}")
        for n in range(messages):  # every commit queues one message per receiver
            feeds.set_body(FEED, tiny_feed({"gpt-4o": _price(1000 + n)}))
            assert refresh_catalog(deps).outcome == "success"
        total = messages * len(receivers)
        started = time.perf_counter()
        worker.start()
        deadline = started + 120
        while sum(len(r.delivered()) for r in receivers) < total:
            assert time.perf_counter() < deadline, "deliveries did not finish in 120 s"
            time.sleep(0.005)
        seconds = time.perf_counter() - started
    finally:
        state.shutdown()
        for receiver in receivers:
            receiver.__exit__(None, None, None)
    print(
        f"deliveries to 10 receivers:                 {total / seconds:8.0f} deliveries/s  "
        f"({total} messages in {seconds:.2f} s; concurrency {settings.webhook_concurrency}, "
        "one in flight per receiver)"
    )


if __name__ == "__main__":
    main()

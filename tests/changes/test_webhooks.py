"""Webhooks end to end in one process: the refresh commit queues signed messages, the delivery
loop sends them to a real receiver that verifies them with the `standardwebhooks` library."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from ratecard.changes import outbox
from ratecard.changes.outbox import AttemptResult
from ratecard.runcontrol import RunFenced
from ratecard.schema import changes, webhook_events
from tests.support.changes_app import ChangesApp, bearer, tiny_feed


def _changes_in(arrivals: list) -> list[tuple[int, str]]:
    return [(c["seq"], a.message_id) for a in arrivals for c in a.body["data"]["changes"]]


def test_a_committed_change_arrives_signed_with_old_and_new_prices(
    changes_app: ChangesApp,
) -> None:
    changes_app.refresh()  # the first load happens before the subscription: not sent to it
    changes_app.subscribe("/hook")
    changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    changes_app.deliver()

    arrivals = changes_app.receiver.delivered("/hook")
    assert len(arrivals) == 1, changes_app.receiver.arrivals
    message = arrivals[0].body
    assert arrivals[0].verified
    assert message["type"] == "prices.changed"
    assert message["data"]["page"] == message["data"]["pages"] == 1
    [change] = message["data"]["changes"]
    assert (change["kind"], change["model"], change["source"]) == ("changed", "gpt-4o", "litellm")
    assert change["old"]["input_per_token"] == "0.0000025"
    assert change["new"]["input_per_token"] == "0.000003"


def test_a_subscription_hears_only_changes_after_its_creation(changes_app: ChangesApp) -> None:
    changes_app.refresh()
    changes_app.subscribe("/late")
    changes_app.deliver()

    assert changes_app.receiver.arrivals == []


def test_filters_select_the_changes_a_subscription_hears(changes_app: ChangesApp) -> None:
    changes_app.refresh()
    changes_app.subscribe("/anthropic", providers=["anthropic"])
    changes_app.subscribe("/removals", kinds=["removed"])
    changes_app.refresh(
        tiny_feed({"gpt-4o": "3e-06", "claude-3-haiku-20240307": "3e-07"}, drop=("gpt-4o-mini",))
    )
    changes_app.deliver()

    anthropic = _changes_in(changes_app.receiver.delivered("/anthropic"))
    removals = changes_app.receiver.delivered("/removals")
    assert len(anthropic) == 1
    assert [c["model"] for c in removals[0].body["data"]["changes"]] == ["gpt-4o-mini"]
    assert removals[0].body["data"]["changes"][0]["kind"] == "removed"


def test_a_failed_first_attempt_is_retried_with_the_same_webhook_id(
    changes_app: ChangesApp,
) -> None:
    changes_app.refresh()
    created = changes_app.subscribe("/flaky", fail_first=1)
    changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    changes_app.deliver()
    [first] = changes_app.receiver.arrivals
    assert first.status == 503

    with changes_app.engine.connect() as conn:
        event = conn.execute(select(webhook_events)).one()
    assert event.status == "pending" and event.attempts == 1
    # The schedule's first retry is 5 s after the failure (within the contract's 10 s).
    delay = (event.next_attempt_at - event.last_attempt_at).total_seconds()
    assert 4.0 <= delay <= 10.0
    with changes_app.engine.begin() as conn:  # let the retry come due now
        conn.execute(update(webhook_events).values(next_attempt_at=datetime.now(UTC)))
    changes_app.deliver()

    arrivals = changes_app.receiver.arrivals
    assert [a.status for a in arrivals] == [503, 200]
    assert arrivals[0].message_id == arrivals[1].message_id == event.id
    deliveries = changes_app.client.get(
        f"/admin/webhooks/{created['id']}/deliveries", headers=bearer()
    ).get_json()["items"]
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("delivered", 2)]


def test_dead_lettered_message_is_redelivered_under_the_same_id(
    build_changes_app: object,
) -> None:
    app: ChangesApp = build_changes_app(webhook_max_attempts=1)  # type: ignore[operator]
    app.refresh()
    created = app.subscribe("/down", fail_first=1)
    app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    app.deliver()
    listing = app.client.get(
        f"/admin/webhooks/{created['id']}/deliveries?status=dead", headers=bearer()
    ).get_json()["items"]
    assert len(listing) == 1 and listing[0]["last_status_code"] == 503
    dead_id = listing[0]["id"]
    assert app.client.get("/metrics").status_code == 200

    answer = app.client.post(
        f"/admin/webhooks/{created['id']}/deliveries/{dead_id}/redeliver", headers=bearer()
    )
    assert answer.status_code == 200, answer.get_json()
    again = app.client.post(
        f"/admin/webhooks/{created['id']}/deliveries/{dead_id}/redeliver", headers=bearer()
    )
    assert again.status_code == 409  # pending now: only dead-lettered messages are redelivered
    app.deliver()

    assert [a.message_id for a in app.receiver.delivered("/down")] == [dead_id]


def test_a_fenced_refresh_queues_no_message(changes_app: ChangesApp) -> None:
    from ratecard.ingest.refresh import refresh_catalog
    from ratecard.web.state import get_state

    changes_app.refresh()
    changes_app.subscribe("/hook")

    class Fenced:
        job, instance_id, trigger = "refresh", "stale", "schedule"
        slot: int | None = 1
        fence: int | None = 1

        def checkpoint(self) -> None:
            return None

        def claim(self, conn: object, run_id: object) -> None:
            raise RunFenced("slot 1 is already completed")

    changes_app.feeds.set_body("/tiny-litellm.json", tiny_feed({"gpt-4o": "9e-06"}))
    report = refresh_catalog(get_state(changes_app.app).need_refresh_deps(), Fenced())

    assert report.outcome == "fenced"
    with changes_app.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(webhook_events)).scalar() == 0
        entries = conn.execute(select(func.count()).select_from(changes)).scalar()
    assert entries == 4  # the first load's adds only: the fenced run left nothing


def test_a_stale_sender_cannot_settle_a_message_claimed_again(changes_app: ChangesApp) -> None:
    changes_app.refresh()
    changes_app.subscribe("/hook")
    changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    with changes_app.engine.begin() as conn:
        now = outbox.db_now(conn)
        [stale] = outbox.claim_due(conn, now, 10, claim_seconds=30)
        # Another sender cannot claim it while the claim is live...
        assert outbox.claim_due(conn, now + timedelta(seconds=10), 10, 30) == []
        # ...but can once it has run out (the first sender died or stalled).
        [fresh] = outbox.claim_due(conn, now + timedelta(seconds=31), 10, 30)
    assert fresh.id == stale.id and fresh.token != stale.token and fresh.attempts == 2

    with changes_app.engine.begin() as conn:
        assert outbox.settle(conn, stale, AttemptResult(True, 200), now) == "stale"
        assert outbox.settle(conn, fresh, AttemptResult(True, 200), now) == "delivered"
        assert outbox.settle(conn, fresh, AttemptResult(True, 200), now) == "stale"


def test_a_big_first_load_is_paged_and_no_change_is_under_two_ids(
    build_changes_app: object, feed_server: object
) -> None:
    from tests.support.feeds import FeedServer

    assert isinstance(feed_server, FeedServer)
    app: ChangesApp = build_changes_app()  # type: ignore[operator]
    app.subscribe("/all")
    app.feeds.set_file("/tiny-litellm.json", "litellm_2026-07-24.json")
    report = app.refresh()
    assert report.outcome == "success", report.sources
    app.deliver(passes=20)

    arrivals = app.receiver.delivered("/all")
    carried = _changes_in(arrivals)
    seqs = [seq for seq, _ in carried]
    assert len(arrivals) == -(-len(seqs) // outbox.PAGE_SIZE) >= 6
    assert len(seqs) == len(set(seqs)) >= 2900
    assert [a.body["data"]["page"] for a in arrivals] == list(range(1, len(arrivals) + 1))
    assert all(a.verified for a in arrivals)


def _heard(app: ChangesApp, path: str) -> list[tuple[str, str | None, str, str]]:
    return [
        (c["kind"], c.get("resolution"), c["provider"], c["new"]["input_per_token"])
        for a in app.receiver.delivered(path)
        for c in a.body["data"]["changes"]
    ]


def test_a_held_change_and_its_acceptance_are_heard(changes_app: ChangesApp) -> None:
    changes_app.refresh()
    changes_app.subscribe("/hook", models=["gpt-4o"])
    changes_app.refresh(tiny_feed({"gpt-4o": "0.0025"}))  # x1000: held, not served
    held = changes_app.client.get("/api/catalog").get_json()["held"]
    [held_id] = [h["id"] for h in held if h["model_id"] == "gpt-4o"]
    accepted = changes_app.client.post(f"/admin/held/{held_id}/accept", headers=bearer())
    assert accepted.status_code == 200, accepted.get_json()
    changes_app.deliver()

    assert _heard(changes_app, "/hook") == [
        ("held", None, "openai", "0.0025"),
        ("changed", None, "openai", "0.0025"),
        ("released", "accepted", "openai", "0.0025"),
    ]


def test_a_hold_confirmed_by_the_next_fetch_is_heard_as_changed_and_released(
    changes_app: ChangesApp,
) -> None:
    changes_app.refresh()
    changes_app.subscribe("/hook", models=["gpt-4o"])
    changes_app.refresh(tiny_feed({"gpt-4o": "0.0025"}))  # held
    changes_app.refresh(tiny_feed({"gpt-4o": "0.0025"}))  # the feed says it again: confirmed
    changes_app.deliver()

    assert sorted(_heard(changes_app, "/hook")) == [
        ("changed", None, "openai", "0.0025"),
        ("held", None, "openai", "0.0025"),
        ("released", "confirmed", "openai", "0.0025"),
    ]


def test_a_slow_receiver_times_out_without_holding_up_another(
    build_changes_app: object,
) -> None:
    # The timeout bounds a whole attempt, so it leaves a loaded machine room for the fast one.
    app: ChangesApp = build_changes_app(webhook_timeout=1.0)  # type: ignore[operator]
    app.refresh()
    slow = app.subscribe("/slow")
    app.subscribe("/fast")
    app.receiver.expect("/slow", *app.receiver.endpoints["/slow"].secrets, delay=3.0)
    app.refresh(tiny_feed({"gpt-4o": "3e-06"}))

    started = time.monotonic()
    assert app.worker.step() == 2  # both claimed in one pass, sent side by side
    deadline = started + 2.0
    while not app.receiver.delivered("/fast") and time.monotonic() < deadline:
        time.sleep(0.01)
    fast_seconds = time.monotonic() - started
    assert app.receiver.delivered("/fast"), "the fast receiver waited for the slow one"
    assert fast_seconds < 1.5
    assert app.worker.wait_idle(10)
    [delivery] = app.client.get(
        f"/admin/webhooks/{slow['id']}/deliveries", headers=bearer()
    ).get_json()["items"]
    assert delivery["status"] == "pending" and "timeout" in delivery["last_error"]


def test_a_message_waiting_for_its_retry_does_not_hold_back_the_next(
    changes_app: ChangesApp,
) -> None:
    changes_app.refresh()
    changes_app.subscribe("/flaky", fail_first=1)
    changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    changes_app.refresh(tiny_feed({"gpt-4o": "4e-06"}))
    changes_app.deliver()
    # Both messages were tried (one at a time), though the first now waits for its retry.
    first_round = [(a.message_id, a.status) for a in changes_app.receiver.arrivals]
    assert [status for _, status in first_round] == [503, 503]
    assert first_round[0][0] != first_round[1][0]

    with changes_app.engine.begin() as conn:
        conn.execute(update(webhook_events).values(next_attempt_at=datetime.now(UTC)))
    changes_app.deliver()
    seqs = sorted(seq for seq, _ in _changes_in(changes_app.receiver.delivered("/flaky")))
    assert len(seqs) == 2 and len(changes_app.receiver.delivered("/flaky")) == 2

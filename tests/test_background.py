"""The composition root wires the change log into every path that changes what is served.

Ingestion never calls the change log itself: it is handed a hook, and `background.refresh_deps`
is the one place that wires it. These tests go through each way a refresh or a review is
started (the coordinator's job, `ratecard prices refresh`, the admin review, the tests' own
helper) and read the change log afterwards: a path built without the hook would commit prices
that no subscriber ever hears of.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import Engine, func, select

from ratecard.app import create_app
from ratecard.background import refresh_deps
from ratecard.changes.changelog import read_changes, record_changes
from ratecard.cli import main
from ratecard.db import build_engine
from ratecard.ingest.refresh import refresh_catalog
from ratecard.schema import changes, held_changes
from ratecard.settings import Settings, parse_sources
from ratecard.vocabulary import ChangeLogKind, HeldStatus, JobName
from ratecard.web.state import get_state
from tests.support.feeds import FeedServer
from tests.support.store_helpers import make_deps

TOKEN = "wiring-test-admin-token"
FEED = "/litellm.json"
MODELS = {"gpt-4o": "2.5e-06", "gpt-4o-mini": "1.5e-07"}


def feed(prices: dict[str, str]) -> bytes:
    entries = ", ".join(
        f'"{model}": {{"litellm_provider": "openai", "mode": "chat", '
        f'"input_cost_per_token": {price}, "output_cost_per_token": 1e-05}}'
        for model, price in prices.items()
    )
    return ("{" + entries + "}").encode()


@pytest.fixture
def feeds(feed_server: FeedServer) -> FeedServer:
    feed_server.set_body(FEED, feed(MODELS))
    return feed_server


@pytest.fixture
def db(migrated_sqlite_url: str) -> Iterator[Engine]:
    engine = build_engine(migrated_sqlite_url)
    yield engine
    engine.dispose()


def logged(engine: Engine) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        return [(c.kind, c.model_id) for c in read_changes(conn, limit=1000)]


def app_on(url: str, feeds: FeedServer) -> Flask:
    return create_app(
        Settings(
            database_url=url,
            sources=parse_sources(f"litellm={feeds.url(FEED)}"),
            admin_token=TOKEN,
            start_coordinator=False,
            instance_id="wiring-test",
        )
    )


def test_the_factory_hands_ingestion_the_change_log(make_settings: Callable[..., Any]) -> None:
    deps = refresh_deps(make_settings(), engine=None, redis=None)  # type: ignore[arg-type]
    assert deps.record_changes is record_changes


def test_the_coordinators_refresh_job_logs_its_changes(
    migrated_sqlite_url: str, feeds: FeedServer, db: Engine
) -> None:
    app = app_on(migrated_sqlite_url, feeds)
    try:
        result = get_state(app).need_coordinator().run_once(JobName.REFRESH, wait=10)
        assert result.committed, result.as_dict()
    finally:
        get_state(app).shutdown()
    assert sorted(logged(db)) == [(ChangeLogKind.ADDED, model) for model in sorted(MODELS)]


def test_the_cli_refresh_logs_its_changes(
    migrated_sqlite_url: str, feeds: FeedServer, db: Engine
) -> None:
    env = {
        "DATABASE_URL": migrated_sqlite_url,
        "RATECARD_SOURCES": f"litellm={feeds.url(FEED)}",
        "REDIS_URL": None,
        "RATECARD_LOG_FORMAT": "text",
    }
    result = CliRunner().invoke(main, ["prices", "refresh"], env=env)
    assert result.exit_code == 0, result.output
    assert sorted(logged(db)) == [(ChangeLogKind.ADDED, model) for model in sorted(MODELS)]


def test_the_tests_own_refresh_helper_logs_its_changes(
    make_settings: Callable[..., Any], feeds: FeedServer, db: Engine
) -> None:
    settings = make_settings(sources=parse_sources(f"litellm={feeds.url(FEED)}"))
    assert refresh_catalog(make_deps(db, settings)).committed
    assert len(logged(db)) == len(MODELS)


def test_an_admin_review_logs_the_hold_it_releases(
    migrated_sqlite_url: str, feeds: FeedServer, db: Engine
) -> None:
    app = app_on(migrated_sqlite_url, feeds)
    state = get_state(app)
    try:
        assert refresh_catalog(state.need_refresh_deps()).committed
        feeds.set_body(FEED, feed({**MODELS, "gpt-4o": "2.5e-02"}))  # x10000: held
        assert refresh_catalog(state.need_refresh_deps()).committed
        with db.connect() as conn:
            held_id = conn.execute(
                select(held_changes.c.id).where(held_changes.c.status == HeldStatus.PENDING)
            ).scalar_one()
        response = app.test_client().post(
            f"/admin/held/{held_id}/reject", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status_code == 200, response.get_json()
    finally:
        state.shutdown()
    kinds = [kind for kind, model in logged(db) if model == "gpt-4o"]
    assert kinds == [ChangeLogKind.ADDED, ChangeLogKind.HELD, ChangeLogKind.RELEASED]


def test_a_refresh_without_the_hook_would_log_nothing(
    make_settings: Callable[..., Any], feeds: FeedServer, db: Engine
) -> None:
    """The counter-check: the entries above come from the hook, not from the store itself."""
    settings = make_settings(sources=parse_sources(f"litellm={feeds.url(FEED)}"))
    deps = make_deps(db, settings)
    deps.record_changes = lambda *args, **kwargs: None
    assert refresh_catalog(deps).committed
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(changes)).scalar_one() == 0

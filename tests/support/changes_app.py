"""An in-process app on a migrated database, a feed server with a tiny real-shaped feed, and
a signature-verifying webhook receiver; the delivery loop is driven step by step."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from ratecard.app import create_app
from ratecard.changes.delivery import DeliveryWorker
from ratecard.settings import Settings, parse_sources
from ratecard.web.state import get_state
from tests.support.feeds import FeedServer
from tests.support.receiver import WebhookReceiver
from tests.web.admin.conftest import TOKEN, bearer

FEED = "/tiny-litellm.json"
# Real LiteLLM entries (2026-07-24), prices written as the feed writes them.
MODELS = {
    "gpt-4o": ("openai", "2.5e-06", "1e-05"),
    "gpt-4o-mini": ("openai", "1.5e-07", "6e-07"),
    "claude-3-haiku-20240307": ("anthropic", "2.5e-07", "1.25e-06"),
    "text-embedding-3-small": ("openai", "2e-08", "0.0"),
}


def tiny_feed(overrides: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> bytes:
    """A LiteLLM-format feed of MODELS; `overrides` replaces input prices, `drop` removes ids."""
    overrides = overrides or {}
    entries = [
        f'"{model_id}": {{"litellm_provider": "{provider}", "mode": "chat", '
        f'"input_cost_per_token": {overrides.get(model_id, input_price)}, '
        f'"output_cost_per_token": {output_price}}}'
        for model_id, (provider, input_price, output_price) in MODELS.items()
        if model_id not in drop
    ]
    return ("{" + ", ".join(entries) + "}").encode()


@dataclass
class ChangesApp:
    app: Flask
    client: FlaskClient
    feeds: FeedServer
    receiver: WebhookReceiver

    @property
    def engine(self) -> Engine:
        return get_state(self.app).engine

    @property
    def worker(self) -> DeliveryWorker:
        worker = get_state(self.app).delivery
        assert worker is not None
        return worker

    def refresh(self, body: bytes | None = None) -> Any:
        """Serve `body` (if given) and run one refresh in this process; return its report."""
        from ratecard.ingest.refresh import refresh_catalog

        if body is not None:
            self.feeds.set_body(FEED, body)
        return refresh_catalog(get_state(self.app).need_refresh_deps())

    def subscribe(self, path: str, fail_first: int = 0, **filters: Any) -> dict[str, Any]:
        """Create a subscription to the receiver's `path`; register its secret there."""
        response = self.client.post(
            "/admin/webhooks",
            json={"url": self.receiver.url(path), "filter": filters},
            headers=bearer(),
        )
        assert response.status_code == 201, response.get_json()
        created: dict[str, Any] = response.get_json()
        self.receiver.expect(path, created["secret"], fail_first=fail_first)
        return created

    def deliver(self, passes: int = 5) -> None:
        """Run delivery passes (claim + send + settle) until nothing more is due."""
        for _ in range(passes):
            claimed = self.worker.step()
            assert self.worker.wait_idle(30)
            if not claimed:
                return


@pytest.fixture
def changes_feeds(feed_server: FeedServer) -> FeedServer:
    feed_server.set_body(FEED, tiny_feed())
    return feed_server


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def build_changes_app(
    make_settings: Callable[..., Settings],
    changes_feeds: FeedServer,
    receiver: WebhookReceiver,
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., ChangesApp]]:
    built: list[Flask] = []

    def build(database: str = "migrated_pg_url", **overrides: Any) -> ChangesApp:
        overrides.setdefault("admin_token", TOKEN)
        overrides.setdefault("webhook_allow_private", True)  # the receiver is on 127.0.0.1
        overrides.setdefault("lease_ttl", 5.0)
        settings = make_settings(
            database_url=request.getfixturevalue(database),
            sources=parse_sources(f"litellm={changes_feeds.url(FEED)}"),
            **overrides,
        )
        app = create_app(settings)
        built.append(app)
        return ChangesApp(app, app.test_client(), changes_feeds, receiver)

    yield build
    for app in built:
        get_state(app).shutdown()


@pytest.fixture
def changes_app(build_changes_app: Callable[..., ChangesApp]) -> ChangesApp:
    return build_changes_app()

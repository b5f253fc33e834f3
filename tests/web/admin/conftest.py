"""An in-process app on a migrated SQLite database, fed by a real local feed server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ratecard.app import create_app
from ratecard.settings import Settings, parse_sources
from ratecard.web.state import get_state
from tests.support.feeds import FeedServer

TOKEN = "admin-token-for-tests-0c4f"
FEED = "/tiny-litellm.json"
# Real LiteLLM entries (2026-07-24), prices written as the feed writes them.
MODELS = {
    "gpt-4o": ("openai", "chat", "2.5e-06", "1e-05"),
    "gpt-4o-mini": ("openai", "chat", "1.5e-07", "6e-07"),
    "claude-3-haiku-20240307": ("anthropic", "chat", "2.5e-07", "1.25e-06"),
    "text-embedding-3-small": ("openai", "embedding", "2e-08", "0.0"),
}


def tiny_feed(overrides: dict[str, str] | None = None) -> bytes:
    """Return a LiteLLM-format feed of MODELS; `overrides` replaces input prices by id."""
    overrides = overrides or {}
    entries = []
    for model_id, (provider, mode, input_price, output_price) in MODELS.items():
        entries.append(
            f'"{model_id}": {{"litellm_provider": "{provider}", "mode": "{mode}", '
            f'"max_input_tokens": 128000, '
            f'"input_cost_per_token": {overrides.get(model_id, input_price)}, '
            f'"output_cost_per_token": {output_price}}}'
        )
    return ("{" + ", ".join(entries) + "}").encode()


@dataclass
class AdminApp:
    app: Flask
    client: FlaskClient
    feeds: FeedServer

    def refresh(self) -> str:
        """Run one refresh in this process (no coordinator); return its outcome."""
        from ratecard.ingest.refresh import refresh_catalog

        report = refresh_catalog(get_state(self.app).need_refresh_deps())
        return str(report.outcome)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.set_body(FEED, tiny_feed())
        yield server


@pytest.fixture
def build_app(
    migrated_sqlite_url: str, make_settings: Callable[..., Settings], feeds: FeedServer
) -> Iterator[Callable[..., AdminApp]]:
    built: list[Flask] = []

    def build(**overrides: object) -> AdminApp:
        overrides.setdefault("admin_token", TOKEN)
        settings = make_settings(
            database_url=migrated_sqlite_url,
            sources=parse_sources(f"litellm={feeds.url(FEED)}"),
            **overrides,
        )
        app = create_app(settings)
        built.append(app)
        return AdminApp(app, app.test_client(), feeds)

    yield build
    for app in built:
        get_state(app).shutdown()


@pytest.fixture
def admin_app(build_app: Callable[..., AdminApp]) -> AdminApp:
    return build_app()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def js(response: Any) -> Any:
    """Return a test response's JSON body, failing if it has none."""
    body = response.get_json(silent=True)
    assert body is not None, f"not JSON: {response.status} {response.data[:200]!r}"
    return body

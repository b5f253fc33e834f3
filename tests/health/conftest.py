"""Fixtures for the health tests: apps built from settings, shut down after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from ratecard.app import create_app
from ratecard.extension import get_state
from ratecard.settings import Settings

TOKEN = "adm-7f3c9e1b-token"


@pytest.fixture
def make_app(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Flask]]:
    """Build an app from overridden settings; its pools are closed after the test."""
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        app = create_app(make_settings(**overrides))
        apps.append(app)
        return app

    yield build
    for app in apps:
        get_state(app).shutdown()


def check(body: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the single entry of check `name` in a health document."""
    entries = body["checks"][name]
    assert len(entries) == 1
    entry: dict[str, Any] = entries[0]
    return entry


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

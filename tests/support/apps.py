"""Apps built from settings for in-process tests (shut down after the test), and what the
health tests read from them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from ratecard.app import create_app
from ratecard.settings import Settings
from ratecard.web.state import get_state
from tests.support.services import REPO

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


def python_json(code: str) -> Any:
    """Run `code` in a fresh interpreter from the repository root; its last line, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def as_a_worker(database_url: str, catalog_data: str, then: str, setup: str = "") -> str:
    """Source for a fresh interpreter playing one worker: the app on `database_url`, holding
    the catalog built from `catalog_data` (an expression, after the lines of `setup`) as the
    master's preload hands it over (readiness_seed.catalog), then `then`, which prints its
    findings as JSON."""
    return (
        "import json, sys\n"
        "from ratecard.app import create_app\n"
        "from ratecard.settings import Settings\n"
        f"app = create_app(Settings(database_url={database_url!r}))\n"
        "from ratecard.catalog.snapshot import CatalogSnapshot\n"
        "from ratecard.web.state import get_state\n"
        + setup
        + f"snapshot = CatalogSnapshot.from_data({catalog_data})\n"
        "get_state(app).need_catalog_cache().start_with(snapshot)\n" + then
    )


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

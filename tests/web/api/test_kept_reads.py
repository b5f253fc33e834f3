"""Model reads answered before Flask (web/api/kept_reads.py): the view's very answer, only for
what the view would answer from its memo, and counted as the view's route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ratecard.web import http_metrics
from ratecard.web.state import get_state
from tests.support.store_helpers import SettingsFactory, price
from tests.web.api.test_models import build_app, commit, sqlite_client  # noqa: F401 (a fixture)

MODEL = "/api/models/acme/a-small"


@pytest.fixture
def app(sqlite_client: FlaskClient) -> Flask:  # noqa: F811 (the imported fixture)
    return sqlite_client.application


@pytest.fixture
def view_calls(app: Flask) -> list[str]:
    return counted_view_calls(app)


def counted_view_calls(app: Flask) -> list[str]:
    """The model ids the Flask view was called with (a read answered before Flask adds none)."""
    calls: list[str] = []
    view = app.view_functions["api.get_model"]

    def counted(model_id: str) -> Any:
        calls.append(model_id)
        return view(model_id=model_id)

    app.view_functions["api.get_model"] = counted
    return calls


def wire(response: TestResponse) -> tuple[str, list[tuple[str, str]], bytes]:
    return response.status, list(response.headers.items()), response.get_data()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_kept_answer_is_sent_before_flask_byte_for_byte_the_views(
    app: Flask, view_calls: list[str], scheme: str
) -> None:
    client = app.test_client()
    environ = {"wsgi.url_scheme": scheme}
    first = client.get(MODEL, environ_overrides=environ)  # the view answers and keeps it
    assert view_calls == ["acme/a-small"]
    kept = client.get(MODEL, environ_overrides=environ)
    assert view_calls == ["acme/a-small"], "the second read should not reach Flask"
    assert wire(kept) == wire(first)
    assert ("Strict-Transport-Security" in kept.headers) == (scheme == "https")
    # The view, asked again (a request the fast path leaves to Flask, same answer).
    through_flask = client.get(MODEL, environ_overrides={**environ, "CONTENT_LENGTH": "0"})
    assert view_calls == ["acme/a-small"] * 2
    assert wire(through_flask) == wire(kept)


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        (MODEL + "?source=litellm", {}),
        (MODEL, {"headers": {"If-None-Match": '"other"'}}),
        (MODEL, {"method": "HEAD"}),
        ("/api/models/ACME/A-SMALL", {}),  # a spelling: resolved each time, never kept
        ("/api/models/acme/a-sm%C3%A4ll", {}),  # not ASCII: Flask decodes it
        ("/api/models/acme/a-small/history", {}),  # another route under the prefix
        ("/api/models/no/such", {}),
    ],
)
def test_what_the_memo_does_not_hold_as_is_goes_to_flask(
    app: Flask, view_calls: list[str], path: str, kwargs: dict[str, Any]
) -> None:
    client = app.test_client()
    client.get(MODEL)
    client.get(path)  # anything the view keeps for this path is kept now
    before = len(view_calls)
    kwargs = {"method": "GET", **kwargs}
    answer = client.open(path, **kwargs)
    flask_routed = "history" not in path
    assert len(view_calls) == before + flask_routed, f"{path} {kwargs} was not left to Flask"
    assert answer.status_code in {200, 304, 404}


def test_a_304_is_the_views(app: Flask, view_calls: list[str]) -> None:
    client = app.test_client()
    etag = client.get(MODEL).headers["ETag"]
    unchanged = client.get(MODEL, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and len(view_calls) == 2


def test_a_new_catalog_version_is_never_answered_with_the_old_bytes(
    app: Flask, view_calls: list[str]
) -> None:
    client = app.test_client()
    old = client.get(MODEL)
    assert client.get(MODEL).get_data() == old.get_data() and len(view_calls) == 1
    commit(get_state(app).engine, "litellm", price("acme/a-small", "0.000003", "0.000002"))
    get_state(app).need_catalog_cache().invalidate()
    moved = client.get(MODEL)
    assert len(view_calls) == 2, "the new version's first read is the view's"
    assert moved.headers["ETag"] != old.headers["ETag"]
    assert moved.json is not None and moved.json["prices"]["input"]["per_token"] == "0.000003"
    assert wire(client.get(MODEL)) == wire(moved) and len(view_calls) == 2


def test_a_kept_read_is_counted_under_the_views_route(app: Flask, view_calls: list[str]) -> None:
    client = app.test_client()
    client.get(MODEL)
    http_metrics.recorder.flush()
    before = _count(client, "/api/models/<path:model_id>")
    for _ in range(3):
        client.get(MODEL)
    assert len(view_calls) == 1
    assert _count(client, "/api/models/<path:model_id>") == before + 3


def _count(client: FlaskClient, route: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    prefix = f'ratecard_http_requests_total{{method="GET",route="{route}",status="200"}} '
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


def test_with_trusted_hosts_every_read_goes_through_flask(
    migrated_sqlite_url: str, make_settings: SettingsFactory
) -> None:
    app = build_app(migrated_sqlite_url, _trusting(make_settings, "api.example"))
    try:
        calls = counted_view_calls(app)
        client = app.test_client()
        for _ in range(2):
            assert client.get(MODEL, headers={"Host": "api.example"}).status_code == 200
        assert client.get(MODEL, headers={"Host": "evil.example"}).status_code == 400
        assert len(calls) == 2
    finally:
        get_state(app).shutdown()


def _trusting(make_settings: SettingsFactory, host: str) -> Callable[..., Any]:
    def settings(**kwargs: Any) -> Any:
        return make_settings(**kwargs).with_overrides(trusted_hosts=(host,))

    return settings

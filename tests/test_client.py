"""ratecard.client.Pricer against a live ratecard app over real HTTP: its answers are the
API's on the same catalog version (errors too), it follows a price change, survives the
service stopping, starts from its disk copy, and syncs with a 304 when nothing moved."""

from __future__ import annotations

import gzip
import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from werkzeug.serving import BaseWSGIServer, make_server

from ratecard.changes.changelog import record_book_change
from ratecard.client import COPY_PATH, CatalogUnavailable, Pricer
from ratecard.errors import RatecardError
from ratecard.serving.book_store import BookLimits, put_book
from ratecard.settings import Settings
from ratecard.web.state import get_state
from tests.costing.formats.helpers import RESPONSES
from tests.support.store_helpers import price
from tests.web.api.test_models import build_app, commit

RECORDED = sorted(p for p in RESPONSES.glob("*/*.json") if not p.name.endswith(".expected.json"))


class LiveApp:
    """The app served over HTTP by werkzeug in a thread, restartable on the same port."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.port = 0
        self.server: BaseWSGIServer | None = None

    def start(self) -> LiveApp:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def serve_app(directory: Path, sqlite_template: Path) -> LiveApp:
    """build_app's catalog on a copy of the migrated SQLite template, served over HTTP."""
    path = directory / "rc.sqlite3"
    shutil.copyfile(sqlite_template, path)
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{path}"}).with_overrides(
        start_coordinator=False, instance_id=f"test-{uuid.uuid4().hex[:6]}"
    )
    return LiveApp(build_app(settings.database_url, settings.with_overrides)).start()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[LiveApp]:
    """One live app for the tests that only read (its catalog never moves)."""
    served = serve_app(tmp_path_factory.mktemp("client"), sqlite_template)
    yield served
    served.stop()
    get_state(served.app).shutdown()


@pytest.fixture
def own_live(tmp_path: Path, sqlite_template: Path) -> Iterator[LiveApp]:
    """A live app of the test's own: it changes prices, stops and restarts the server."""
    served = serve_app(tmp_path, sqlite_template)
    yield served
    served.stop()
    get_state(served.app).shutdown()


@pytest.fixture(scope="module")
def pricer(live: LiveApp) -> Iterator[Pricer]:
    with Pricer.connect(live.url, refresh_every=3600) as connected:
        yield connected


def api(client: FlaskClient, body: dict[str, Any]) -> tuple[int, Any]:
    answer = client.post("/api/cost", json=body)
    return answer.status_code, answer.json


def client_answer(pricer: Pricer, body: dict[str, Any]) -> tuple[int, Any]:
    """What the client gives for `body`, shaped as the API's answer or JSON error."""
    try:
        return 200, pricer.cost(**body).to_dict()
    except RatecardError as exc:
        return exc.status, {"error": exc.error, "detail": exc.detail, **exc.extra}


REQUESTS: list[dict[str, Any]] = [
    {"model": "acme/a-small", "input_tokens": 1000, "output_tokens": 500},
    {"model": "acme/tiered", "input_tokens": 250_000, "cache_read_tokens": 12_345},
    {"model": "acme/tiered", "input_tokens": 10, "cache_write_tokens": 3, "output_tokens": 7},
    {"model": "shared/model", "input_tokens": 1},  # litellm first, by the source order
    {"model": "shared/model", "source": "openrouter", "input_tokens": 1},
    {"model": "ACME/A-Small", "output_tokens": 3},  # resolved as typed
    {"model": "acme/c-free", "input_tokens": 5},
    # The API's errors: unknown (404 with suggestions), a dynamic price, a missing one, bad usage.
    {"model": "acme/a-smal", "input_tokens": 1},
    {"model": "acme/dyn", "input_tokens": 1},
    {"model": "acme/a-small", "audio_input_tokens": 10},
    {"model": "acme/a-small", "input_tokens": -1},
    {"model": "acme/a-small", "bogus_tokens": 1},
    {"model": "acme/a-small", "service_tier": "nonsense", "input_tokens": 1},
]


def test_every_answer_and_error_is_the_apis(live: LiveApp, pricer: Pricer) -> None:
    client = live.app.test_client()
    statuses = set()
    for body in REQUESTS:
        expected = api(client, body)
        assert client_answer(pricer, body) == expected, body
        statuses.add(expected[0])
    assert statuses >= {200, 404, 422}, "the list covers answers and errors"
    cost = pricer.cost(model="acme/tiered", input_tokens=250_000)
    assert isinstance(cost.total, Decimal) and cost.total == sum(c.cost for c in cost.components)
    assert pricer.catalog_version == cost.price_version is not None


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_recorded_provider_body_prices_as_the_api_prices_it(
    live: LiveApp, pricer: Pricer, path: Path
) -> None:
    body = json.loads(path.read_text())
    request = {"response": body, "model": "acme/tiered"}
    expected = api(live.app.test_client(), request)
    # A dict, its JSON text and its bytes are the same request.
    for given in (body, path.read_text(), path.read_bytes()):
        assert client_answer(pricer, {"response": given, "model": "acme/tiered"}) == expected


class _Usage(BaseModel):
    """Shaped like google-genai's types: snake_case fields, camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    prompt_token_count: int | None = None
    candidates_token_count: int | None = None
    total_token_count: int | None = None


class _Response(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    usage_metadata: _Usage | None = None
    model_version: str | None = None


def test_an_sdk_object_is_priced_as_the_body_it_came_from(live: LiveApp, pricer: Pricer) -> None:
    wire = {
        "usageMetadata": {
            "promptTokenCount": 1200,
            "candidatesTokenCount": 80,
            "totalTokenCount": 1280,
        },
        "modelVersion": "acme/a-small",
    }
    sdk_object = _Response.model_validate(wire)
    assert "usage_metadata" in sdk_object.model_dump()  # not the wire names
    expected = api(live.app.test_client(), {"response": wire})
    assert expected[0] == 200, expected
    assert client_answer(pricer, {"response": sdk_object}) == expected
    with pytest.raises(RatecardError) as refused:
        pricer.cost(object())
    assert refused.value.extra["field"] == "response"


def test_at_is_priced_by_the_service_from_its_history(live: LiveApp, pricer: Pricer) -> None:
    body = {"model": "acme/a-small", "input_tokens": 1000, "at": "2020-01-01T00:00:00Z"}
    assert client_answer(pricer, body) == api(live.app.test_client(), body)
    now = {**body, "at": datetime.now(UTC).isoformat()}  # after the catalog's commit
    assert client_answer(pricer, now) == api(live.app.test_client(), now)
    assert client_answer(pricer, now)[0] == 200


def test_a_price_book_is_priced_by_the_service_with_its_rules(own_live: LiveApp) -> None:
    book = {"public": True, "rules": [{"multiply": "0.5"}]}
    with get_state(own_live.app).engine.begin() as conn:
        put_book(
            conn, "half", book, datetime.now(UTC), limits=BookLimits(), record=record_book_change
        )
    body = {"model": "acme/a-small", "input_tokens": 1000, "price_book": "half"}
    with Pricer.connect(own_live.url, refresh_every=3600) as connected:
        assert client_answer(connected, body) == api(own_live.app.test_client(), body)
        cost = connected.cost(model="acme/a-small", input_tokens=1000, price_book="half")
        assert cost.to_dict()["price_book"]["name"] == "half"
        with pytest.raises(RatecardError) as missing:
            connected.cost(model="acme/a-small", input_tokens=1, price_book="absent")
        assert missing.value.status == 404
    with pytest.raises(RatecardError) as offline:
        Pricer.bundled().cost(model="gpt-4o", input_tokens=1, price_book="half")
    assert offline.value.extra["field"] == "price_book"


def test_cost_many_prices_each_line_and_keeps_going_past_a_bad_one(pricer: Pricer) -> None:
    results = pricer.cost_many(
        [
            {"model": "acme/a-small", "input_tokens": 2},
            {"model": "nope"},
            "not an object",
            {"model": "acme/a-small", "output_tokens": 1},
        ]
    )
    assert [type(r).__name__ for r in results] == [
        "Cost",
        "UnknownModel",
        "ValidationFailed",
        "Cost",
    ]
    first, last = results[0], results[3]
    assert not isinstance(first, RatecardError) and first.total == Decimal("0.000002")
    assert not isinstance(last, RatecardError) and last.total == Decimal("0.000002")


def test_model_resolves_as_the_api_does(live: LiveApp, pricer: Pricer) -> None:
    assert pricer.model("ACME/A-SMALL").model_id == "acme/a-small"
    assert pricer.model("shared/model", source="openrouter").source == "openrouter"
    read: Any = live.app.test_client().get("/api/models/shared/model").json
    assert pricer.model("shared/model").source == read["source"]


def test_the_copy_is_compressed_and_conditional(live: LiveApp) -> None:
    with httpx.Client(base_url=live.url) as http:
        plain = http.get(COPY_PATH, headers={"Accept-Encoding": "identity"})
        with http.stream("GET", COPY_PATH, headers={"Accept-Encoding": "gzip"}) as zipped:
            raw = b"".join(zipped.iter_raw())
        assert plain.status_code == zipped.status_code == 200
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(raw) == plain.content and len(raw) < len(plain.content) / 2
        assert plain.headers["ETag"] != zipped.headers["ETag"]
        again = http.get(
            COPY_PATH, headers={"If-None-Match": zipped.headers["ETag"], "Accept-Encoding": "gzip"}
        )
        assert again.status_code == 304 and again.content == b""
    data = plain.json()
    assert data["preferred"] == ["litellm", "openrouter"]
    assert {m["model_id"] for m in data["models"]} >= {"acme/a-small", "acme/tiered"}


def test_follows_a_price_change_and_survives_the_service_stopping(
    own_live: LiveApp, tmp_path: Path
) -> None:
    pricer = Pricer.connect(own_live.url, refresh_every=0.2, cache_dir=tmp_path)
    try:
        before = pricer.catalog_version
        assert pricer.cost(model="acme/a-small", input_tokens=1000).total == Decimal("0.001")
        assert not pricer.sync(), "nothing moved: a 304 keeps the copy"
        commit(
            get_state(own_live.app).engine, "litellm", price("acme/a-small", "0.000003", "0.000002")
        )
        deadline = time.monotonic() + 15
        while pricer.catalog_version == before and time.monotonic() < deadline:
            own_live.app.test_client().get("/api/catalog")  # the app adopts the version it serves
            time.sleep(0.1)
        assert pricer.catalog_version != before, "the background sync took the new version"
        assert pricer.cost(model="acme/a-small", input_tokens=1000).total == Decimal("0.003")

        own_live.stop()
        time.sleep(0.5)  # a few sync rounds against a closed port
        assert pricer.last_sync_error is not None
        assert pricer.cost(model="acme/a-small", input_tokens=1000).total == Decimal("0.003")

        # A new process with the service still down starts from the disk copy.
        with Pricer.connect(own_live.url, cache_dir=tmp_path) as restarted:
            assert restarted.catalog_version == pricer.catalog_version
            assert restarted.last_sync_error is not None
            assert restarted.cost(model="acme/a-small", input_tokens=1000).total == Decimal("0.003")
        with pytest.raises(CatalogUnavailable, match="no catalog from"):
            Pricer.connect(own_live.url, cache_dir=tmp_path / "empty", timeout=1)

        own_live.start()  # the service is back on its port: the pricer picks it up again
        deadline = time.monotonic() + 10
        while pricer.last_sync_error is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pricer.last_sync_error is None
    finally:
        pricer.close()


def test_bundled_prices_offline_as_a_service_on_the_bundled_snapshot_would() -> None:
    pricer = Pricer.bundled()
    assert pricer.catalog_version is None and pricer.catalog_updated_at
    cost = pricer.cost(model="gpt-4o", input_tokens=1_000_000, output_tokens=1_000_000)
    assert cost.total == Decimal("12.5")  # $2.50 + $10 per million, LiteLLM's 2026-07-24 file
    with pytest.raises(RatecardError) as no_history:
        pricer.cost(model="gpt-4o", input_tokens=1, at="2025-01-01T00:00:00Z")
    assert no_history.value.extra["field"] == "at"


def test_costs_in_threads_each_see_one_whole_catalog_while_it_moves(own_live: LiveApp) -> None:
    """Threads price while the sync swaps catalog versions: every answer is entirely of one
    version (its price and its price_version agree), never a mix."""
    engine = get_state(own_live.app).engine
    with Pricer.connect(own_live.url, refresh_every=3600) as pricer:
        expected = {pricer.catalog_version: Decimal("0.001")}
        seen: list[tuple[int | None, Decimal]] = []
        stop = threading.Event()

        def price_until_stopped() -> None:
            while not stop.is_set():
                cost = pricer.cost(model="acme/a-small", input_tokens=1000)
                seen.append((cost.price_version, cost.total))
                time.sleep(0.001)  # leave the GIL to the commits and syncs too

        threads = [threading.Thread(target=price_until_stopped) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            for step in range(1, 4):
                input_price = f"0.00000{step + 1}"
                version = commit(engine, "litellm", price("acme/a-small", input_price, "0.000002"))
                get_state(own_live.app).need_catalog_cache().invalidate()  # adopt it now
                assert pricer.sync() and pricer.catalog_version == version
                expected[version] = Decimal(input_price) * 1000
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    assert {version for version, _ in seen} == set(expected), "every version was priced"
    assert all(expected[version] == total for version, total in seen)

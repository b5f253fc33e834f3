"""POST /api/cost's request forms and errors, and POST /api/cost/batch (NDJSON, JSON array,
bodies past the 1 MiB every other route keeps)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from ratecard.db import build_engine
from ratecard.web.state import get_state
from tests.support.processes import ServedProcess, serve
from tests.support.store_helpers import SettingsFactory, price
from tests.web.api.test_models import build_app, commit, sqlite_client  # noqa: F401 (a fixture)

NDJSON = "application/x-ndjson"
FLAT = {"model": "acme/a-small", "input_tokens": 1000, "output_tokens": 500}  # 0.001 + 0.001


@pytest.fixture
def client(sqlite_client: FlaskClient) -> FlaskClient:  # noqa: F811 (the imported fixture)
    """test_api's app over SQLite: seven models in two sources."""
    return sqlite_client


def error_of(response: Any, status: int) -> Any:
    """The JSON body of a response that must have `status` (an error's, or an array's)."""
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/json"
    return response.json


# --- POST /api/cost --------------------------------------------------------------------------


def test_flat_counts_answer_every_field_of_the_contract(client: FlaskClient) -> None:
    body: Any = client.post("/api/cost", json=FLAT).json
    assert body["total"] == "0.002" and body["currency"] == "USD"
    assert (body["model"], body["source"], body["service_tier"]) == (
        "acme/a-small", "litellm", "standard",
    )  # fmt: skip
    assert body["components"][1] == {
        "name": "output_tokens",
        "quantity": 500,
        "unit": "token",
        "price": "0.000002",
        "price_per_million": "2",  # as prices are compared
        "price_name": "output_per_token",
        "cost": "0.001",
    }
    assert body["format"] is None and body["window"] is None and body["region"] is None
    assert body["resolved"] == {"requested": "acme/a-small", "by": "exact"}
    assert isinstance(body["price_version"], int) and body["priced_at"]


def test_a_quantity_not_given_is_zero(client: FlaskClient) -> None:
    body: Any = client.post("/api/cost", json={"model": "acme/a-small", "output_tokens": 7}).json
    assert body["total"] == "0.000014"
    assert [c["name"] for c in body["components"]] == ["output_tokens"]


def test_a_needed_missing_price_is_a_422_never_a_zero(client: FlaskClient) -> None:
    # acme/a-small has no cache-read price: 10 cache reads cannot be priced.
    body = error_of(client.post("/api/cost", json={**FLAT, "cache_read_tokens": 10}), 422)
    assert body["error"] == "validation_failed"
    assert (body["field"], body["price"]) == ("cache_read_tokens", "cache_read_per_token")
    assert body["detail"].startswith("cache_read_tokens ")
    dynamic = error_of(client.post("/api/cost", json={**FLAT, "model": "acme/dyn"}), 422)
    assert dynamic["field"] == "model" and "price" not in dynamic


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"usage": {"prompt_tokens": 1}}, "input_tokens"),  # two forms at once
        ({"response": {"model": "x"}}, "input_tokens"),
        ({"format": "anthropic"}, "format"),  # a format without a usage block
        ({"service_tier": "cheap"}, "service_tier"),
        ({"region": ""}, "region"),
        ({"source": 7}, "source"),
        ({"at": "2026-01-01"}, "at"),  # a date is not a time
        ({"at": "2026-01-01T00:00:00\n"}, "at"),
        ({"seconds": "1e3"}, "seconds"),
        ({"reasoning_tokens": -1}, "reasoning_tokens"),
        ({"images_out": 10**12 + 1}, "images_out"),
        ({"pages": 1.5}, "pages"),
    ],
)
def test_bad_requests_are_422_naming_the_field(
    client: FlaskClient, change: dict[str, Any], field: str
) -> None:
    body = error_of(client.post("/api/cost", json={**FLAT, **change}), 422)
    assert body["field"] == field, body
    assert body["detail"].startswith(field)


def test_usage_and_response_together_name_response(client: FlaskClient) -> None:
    both = {"model": "acme/a-small", "usage": {"input_tokens": 1}, "response": {"usage": {}}}
    assert error_of(client.post("/api/cost", json=both), 422)["field"] == "response"
    assert error_of(client.post("/api/cost", json={"usage": []}), 422)["field"] == "usage"


# --- POST /api/cost/batch --------------------------------------------------------------------


def ndjson(*items: Any) -> bytes:
    return b"".join(
        (item if isinstance(item, bytes) else json.dumps(item).encode()) + b"\n" for item in items
    )


def test_batch_ndjson_answers_each_line_in_order_and_a_bad_line_alone(
    client: FlaskClient,
) -> None:
    body = ndjson(
        FLAT,
        b"{not json",
        {"model": "acme/nope", "input_tokens": 1},
        b"   ",  # blank: skipped, but counted in line numbers
        {**FLAT, "input_tokens": 2000},
        {**FLAT, "surprise": 1},
    )
    response = client.post("/api/cost/batch", data=body, content_type=NDJSON)

    assert response.status_code == 200 and response.mimetype == NDJSON
    results = [json.loads(line) for line in response.data.splitlines()]
    assert len(results) == 5
    single: Any = client.post("/api/cost", json=FLAT).json
    assert results[0] == single
    assert results[1]["line"] == 2 and results[1]["status"] == 400
    assert results[1]["field"] == "body"
    assert (results[2]["line"], results[2]["status"], results[2]["error"]) == (3, 404, "not_found")
    assert results[3]["total"] == "0.003"
    assert (results[4]["line"], results[4]["field"]) == (6, "surprise")


def test_batch_repeats_an_identical_line_exactly(client: FlaskClient) -> None:
    body = ndjson(FLAT, {**FLAT, "input_tokens": True}, FLAT)
    lines = client.post("/api/cost/batch", data=body, content_type=NDJSON).data.splitlines()
    assert lines[0] == lines[2]
    # `true` equals 1 to Python: the memo must not answer it with the 1-token result.
    assert json.loads(lines[1])["field"] == "input_tokens"


def test_batch_json_array_answers_an_array(client: FlaskClient) -> None:
    response = client.post("/api/cost/batch", json=[FLAT, {"model": 1}, {**FLAT, "at": "x"}])
    assert response.status_code == 200 and response.mimetype == "application/json"
    first, bad_model, bad_at = error_of(response, 200)
    assert first["total"] == "0.002"
    assert (bad_model["line"], bad_model["field"]) == (2, "model")
    assert (bad_at["line"], bad_at["field"]) == (3, "at")


def test_batch_refuses_what_is_not_a_batch(client: FlaskClient) -> None:
    not_array = client.post("/api/cost/batch", json=FLAT)
    not_json = client.post("/api/cost/batch", data="[1,", content_type="application/json")
    text = client.post("/api/cost/batch", data=ndjson(FLAT), content_type="text/plain")
    assert error_of(not_array, 422)["field"] == "body"
    assert error_of(not_json, 400)["error"] == "bad_request"
    assert error_of(text, 415)["field"] == "Content-Type"


def test_batch_takes_bodies_past_1_mib_and_64_mb(client: FlaskClient) -> None:
    # Lines padded with JSON whitespace: the size a large log has, with fewer lines to price.
    padded = json.dumps(FLAT).encode()[:-1] + b" " * 4000 + b"}"
    two_mb = ndjson(*[padded] * 512)
    over = padded + b" " * 2_000_000
    single = client.post("/api/cost", data=over, content_type="application/json")
    assert error_of(single, 413)["error"] == "payload_too_large"  # other routes keep 1 MiB

    response = client.post("/api/cost/batch", data=two_mb, content_type=NDJSON)
    assert response.status_code == 200
    assert response.data.count(b'"total":"0.002"') == 512

    big = ndjson(*[padded] * 16_400)  # 64 MB and a little more
    assert len(big) > 64 * 1000 * 1000
    response = client.post("/api/cost/batch", data=big, content_type=NDJSON)
    assert response.status_code == 200
    assert response.data.count(b"\n") == response.data.count(b'"total":"0.002"') == 16_400


def test_batch_over_its_own_limit_is_413(
    migrated_sqlite_url: str, make_settings: SettingsFactory
) -> None:
    application = build_app(migrated_sqlite_url, make_settings)
    application.config["RATECARD_BODY_LIMITS"]["api.price_batch"] = 2 * 1024 * 1024
    try:
        client = application.test_client()
        body = ndjson(*[FLAT] * 50_000)  # ~3.4 MB
        assert error_of(client.post("/api/cost/batch", data=body, content_type=NDJSON), 413)
    finally:
        get_state(application).shutdown()


def test_openapi_documents_the_batch(client: FlaskClient) -> None:
    doc: Any = client.get("/openapi.json").json
    operation = doc["paths"]["/api/cost/batch"]["post"]
    media = operation["requestBody"]["content"]["application/json"]
    assert media["schema"]["$ref"].endswith("/CostBatchRequest")
    assert len(media["example"]) == 3
    assert {"200", "400", "413", "415", "422"} <= set(operation["responses"])
    assert "x-ndjson" in operation["description"] and "NDJSON" in operation["summary"]


# --- a real server ---------------------------------------------------------------------------


@pytest.fixture
def served(migrated_sqlite_url: str, tmp_path: Path) -> Iterator[ServedProcess]:
    """`ratecard serve` over a catalog with acme/a-small, its batch limit lowered to 4 MiB."""
    engine = build_engine(migrated_sqlite_url)
    try:
        commit(engine, "litellm", price("acme/a-small", "0.000001", "0.000002"))
    finally:
        engine.dispose()
    with serve(
        tmp_path / "serve.log",
        DATABASE_URL=migrated_sqlite_url,
        RATECARD_SOURCES="litellm=file:///nowhere",
        RATECARD_COORDINATOR="false",
        RATECARD_BATCH_MAX_BYTES=str(4 * 1024 * 1024),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"),
    ).running() as instance:
        yield instance


def post_chunked(port: int, body: bytes) -> tuple[int, bytes]:
    """POST an NDJSON body with no Content-Length (Transfer-Encoding: chunked)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        pieces = (body[i : i + 65536] for i in range(0, len(body), 65536))
        conn.request(
            "POST", "/api/cost/batch", body=pieces, headers={"Content-Type": NDJSON},
            encode_chunked=True,
        )  # fmt: skip
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_a_real_server_streams_a_batch_past_1_mib_sent_either_way(served: ServedProcess) -> None:
    body = ndjson(*[FLAT] * 40_000)  # ~2.7 MB
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        conn.request("POST", "/api/cost/batch", body=body, headers={"Content-Type": NDJSON})
        response = conn.getresponse()
        with_length = (response.status, response.read())
        # The answer is spooled whole before it is sent: its length is known, and said.
        assert response.getheader("Content-Length") == str(len(with_length[1]))
    finally:
        conn.close()
    chunked = post_chunked(served.port, body)

    for status, answer in (with_length, chunked):
        assert status == 200, answer[:300]
        assert answer.count(b"\n") == answer.count(b'"total":"0.002"') == 40_000


def test_a_real_server_answers_413_to_a_chunked_batch_over_its_limit(
    served: ServedProcess,
) -> None:
    status, answer = post_chunked(served.port, ndjson(*[FLAT] * 80_000))  # ~5.4 MB > 4 MiB
    assert status == 413
    assert json.loads(answer)["error"] == "payload_too_large"


def test_a_key_given_twice_is_refused_per_line_and_per_array(client: FlaskClient) -> None:
    twice = b'{"model": "acme/a-small", "input_tokens": 1, "input_tokens": 1000000000}'
    # As many `":` as keys: only the colon count sees that one key is written twice.
    spaced = b'{"model": "acme/a-small", "output_tokens": 1, "output_tokens" : 2}'
    nested = b'{"model": "acme/a-small", "usage": {"input_tokens": 1, "input_tokens": 2}}'
    # Compact, as orjson writes (no line with a key twice is ever the JSON of its parse).
    compact = b'{"model":"acme/a-small","usage":{"input_tokens":1,"input_tokens":2}}'
    # Times in `at`: a colon count beside the texts' colons sees the second `at`...
    two_ats = b'{"model": "acme/a-small", "at": "2001-01-01T00:00:00Z", "at": "2002-01-01T00:00"}'
    # ... and an escaped colon, making up for the dropped key's, sends the line to the parser.
    escaped = b'{"model": "acme/a-small", "source": "x", "source": "\\u003a", "input_tokens": 1}'
    text = b'{"model": "acme/a-small", "source": "a\\":b", "input_tokens": 1}'  # `":` in a value
    at = b'{"model": "acme/a-small", "input_tokens": 1, "at": "2001-01-01T00:00:00Z"}'
    lines = client.post(
        "/api/cost/batch",
        data=ndjson(twice, spaced, nested, compact, two_ats, escaped, text, at),
        content_type=NDJSON,
    ).data.splitlines()
    answers = [json.loads(line) for line in lines]
    fields = [a.get("field") for a in answers[:6]]
    twice_named = ["input_tokens", "output_tokens", "input_tokens", "input_tokens", "at", "source"]
    assert fields == twice_named
    assert all(a["status"] == 422 and "given twice" in a["detail"] for a in answers[:6])
    # Colons inside values are no keys: no duplicate here (an unknown source; no price then).
    assert [a["status"] for a in answers[6:]] == [404, 404]
    assert not any("twice" in a["detail"] for a in answers[6:])
    array = client.post(
        "/api/cost/batch", data=b"[" + twice + b"]", content_type="application/json"
    )
    assert error_of(array, 422)["field"] == "input_tokens"


def test_the_documented_enums_are_the_parsers() -> None:
    from typing import get_args

    from ratecard.costing.cost_requests import FORMATS, SERVICE_TIERS
    from ratecard.web.api.schemas import ProviderFormat, ServiceTier

    assert get_args(ServiceTier) == SERVICE_TIERS
    assert get_args(ProviderFormat) == FORMATS


def test_a_line_over_1_mib_gets_its_own_413_line(client: FlaskClient) -> None:
    huge = json.dumps(FLAT).encode()[:-1] + b" " * (1024 * 1024) + b"}"
    lines = client.post(
        "/api/cost/batch", data=ndjson(FLAT, huge, FLAT), content_type=NDJSON
    ).data.splitlines()
    first, too_long, third = (json.loads(line) for line in lines)
    assert first["total"] == third["total"] == "0.002"
    assert (too_long["line"], too_long["status"]) == (2, 413)


def test_a_line_of_many_unknown_keys_is_named_not_echoed(client: FlaskClient) -> None:
    line = json.dumps(
        {"model": "acme/a-small", **{f"k{i:05d}" + "x" * 200: 1 for i in range(2000)}}
    )
    answer = client.post("/api/cost/batch", data=ndjson(line.encode()), content_type=NDJSON).data
    error = json.loads(answer)
    assert error["field"] == "k00000" + "x" * 94  # the first, cut to 100 characters
    assert "and 1995 more" in error["detail"] and len(answer) < 1000


def test_batch_fork_off_prices_a_large_body_in_the_worker(
    migrated_sqlite_url: str, make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RATECARD_BATCH_FORK=false: no child process, the same answers."""
    import ratecard.costing.cost_batch_child as child

    application = build_app(migrated_sqlite_url, make_settings)
    body = ndjson(*[FLAT] * 9_000, {**FLAT, "input_tokens": -1})  # past one group of lines
    try:
        client = application.test_client()
        forked = client.post("/api/cost/batch", data=body, content_type=NDJSON).data
        get_state(application).settings = replace(get_state(application).settings, batch_fork=False)

        def no_fork(*_args: Any, **_kwargs: Any) -> Any:
            raise AssertionError("forked although RATECARD_BATCH_FORK=false")

        monkeypatch.setattr(child, "ndjson_on_two_cores", no_fork)
        alone = client.post("/api/cost/batch", data=body, content_type=NDJSON).data
    finally:
        get_state(application).shutdown()
    assert alone == forked
    lines = alone.splitlines()
    assert len(lines) == 9_001 and b'"field":"input_tokens"' in lines[-1]


def test_lines_with_their_own_at_read_each_models_history_once_per_batch(
    client: FlaskClient,
) -> None:
    from sqlalchemy import event

    engine = get_state(client.application).engine
    commit(engine, "litellm", price("acme/a-small", "0.000003", "0.000002"))
    # 400 lines, each at its own instant, over two models: half before any price was
    # recorded (the 2000s), half long after a-small's change (2100s).
    lines, early = [], []
    for i in range(400):
        model = "acme/a-small" if i % 2 else "acme/b-large"
        year = 2000 + i % 10 if i % 4 < 2 else 2100 + i % 10
        at = f"{year}-01-01T00:{i % 60:02d}:{i // 60:02d}Z"
        lines.append(json.dumps({"model": model, "input_tokens": 1_000_000, "at": at}))
        early.append(year < 2100)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.post("/api/cost/batch", data="\n".join(lines), content_type=NDJSON)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    answers = [json.loads(line) for line in response.data.splitlines()]
    assert len(answers) == 400
    for answer, line, before in zip(answers, lines, early, strict=True):
        if before:
            assert answer["status"] == 404 and "in force at" in answer["detail"], line
        else:
            assert answer["total"] == ("3" if "a-small" in line else "10"), (line, answer)
    # One history read per model; a read per instant would be 400. The rest is the adoption
    # of the new catalog version and each model's row: a handful, whatever the line count.
    history_reads = [s for s in statements if "price_history" in s]
    assert len(history_reads) == 2, statements[:6]
    assert len(statements) < 20, statements


def test_the_batch_child_reads_the_history_on_a_connection_of_its_own(
    client: FlaskClient,
) -> None:
    """ForkedHistory, as the batch's forked child uses it: built in the parent, which opens
    nothing; in a forked process it answers a line with `at` as the parent's resolver does."""
    import os
    from datetime import UTC, datetime

    from ratecard.serving.prices_at import ForkedHistory
    from ratecard.web.api.blueprint import current_catalog, preferred_sources
    from ratecard.web.api.price_request import model_resolver

    engine = get_state(client.application).engine
    commit(engine, "litellm", price("acme/a-small", "0.000003", "0.000002"))
    at = datetime(2100, 1, 1, tzinfo=UTC)
    with client.application.test_request_context():
        snapshot = current_catalog()
        history = ForkedHistory(snapshot, preferred_sources(), get_state().settings.database_url)
        expected = model_resolver(snapshot)("acme/a-small", None, at)
    assert history._engine is None  # the parent opened nothing
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answers through the pipe, never returns
        code = 1
        try:
            os.close(read)
            found = history.resolver()("acme/a-small", None, at)
            same = found.price == expected.price and found.version == expected.version
            os.write(write, f"{same} {found.valid_from == expected.valid_from}".encode())
            history.close()
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        said = answer.read()
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and said == b"True True"
    assert expected.valid_from is not None and expected.valid_until is None
    assert history._engine is None  # still: the child's engine was the child's


def test_lines_alternating_between_two_prices_in_force_each_get_their_own(
    client: FlaskClient,
) -> None:
    """A batch keeps a history row's prices for the instants it answers (from its observation
    until the next); a line outside that span, before or after, is resolved again."""
    from datetime import datetime, timedelta

    engine = get_state(client.application).engine
    commit(engine, "litellm", price("acme/a-small", "0.000003", "0.000002"))
    history = client.get("/api/models/acme/a-small/history").get_json()
    observed = sorted(datetime.fromisoformat(e["observed_at"]) for e in history["entries"])
    first, second = observed[0], observed[-1]
    assert first < second
    instants = [first, second, first + (second - first) / 2, second + timedelta(days=1)]
    instants += [second - timedelta(microseconds=1), second, first, first - timedelta(seconds=1)]
    lines = [
        json.dumps({"model": "acme/a-small", "input_tokens": 1_000_000, "at": at.isoformat()})
        for at in instants
    ]
    batch = client.post("/api/cost/batch", data="\n".join(lines), content_type=NDJSON)
    answers = [json.loads(line) for line in batch.data.splitlines()]
    singles = [
        client.post("/api/cost", data=line, content_type="application/json") for line in lines
    ]
    assert [a.get("total") for a in answers] == [s.get_json().get("total") for s in singles]
    assert [a.get("total") for a in answers] == ["1", "3", "1", "3", "1", "3", "1", None]
    assert answers[-1]["status"] == 404

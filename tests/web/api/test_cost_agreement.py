"""One bad request, three ways in: alone, in a JSON array, as an NDJSON line. Each is refused
with the same status and field, never a 500, and the good line beside it is still priced."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.web.api.test_models import build_app, commit, sqlite_client  # noqa: F401 (a fixture)

NDJSON = "application/x-ndjson"
GOOD = '{"model": "acme/a-small", "input_tokens": 1000}'
AT = '"at": "2026-01-01T00:00:00Z"'
HUGE = "9" * 4000  # beyond 64 bits (orjson's limit), within Python's 4,300 digits

# (JSON text of one request, the field its error must name)
BAD = {
    "lone surrogate in model, with at": (
        f'{{"model": "acme/\\ud800x", "input_tokens": 1, {AT}}}',
        "model",
    ),
    "lone surrogate in model": ('{"model": "acme/\\udc00", "input_tokens": 1}', "model"),
    "lone surrogate in source": ('{"model": "acme/a-small", "source": "\\ud800"}', "source"),
    # Named as its escape, a backslash and five letters: a lone surrogate is not text to write.
    "lone surrogate as a key": ('{"model": "acme/a-small", "\\ud800": 1}', "\\ud800"),
    "lone surrogate as a usage key": (
        '{"model": "acme/a-small", "usage": {"\\ud800": 1}}',
        "format",
    ),
    "4,000-digit count": (f'{{"model": "acme/a-small", "input_tokens": {HUGE}}}', "input_tokens"),
    "count over 10^12": (
        '{"model": "acme/a-small", "input_tokens": 1000000000001}',
        "input_tokens",
    ),
    "usage count over 10^12": (
        '{"model": "acme/a-small", "usage": {"prompt_tokens": 10000000000000, '
        '"completion_tokens": 1}}',
        "usage.prompt_tokens",
    ),
    "4,000-digit usage count": (
        f'{{"model": "acme/a-small", "usage": {{"prompt_tokens": {HUGE}, '
        '"completion_tokens": 1}}',
        "usage.prompt_tokens",
    ),
    "NaN count": ('{"model": "acme/a-small", "input_tokens": NaN}', "input_tokens"),
    "full-width digits in at": (
        '{"model": "acme/a-small", "input_tokens": 1, "at": "\\uff12026-01-01T00:00:00Z"}',
        "at",
    ),
}


@pytest.fixture
def client(sqlite_client: FlaskClient) -> FlaskClient:  # noqa: F811 (the imported fixture)
    return sqlite_client


def _error(body: Any) -> tuple[int, str | None]:
    return body["status"], body["field"]


@pytest.mark.parametrize("text,field", BAD.values(), ids=list(BAD))
def test_a_bad_request_is_refused_alike_alone_in_an_array_and_as_a_line(
    client: FlaskClient, text: str, field: str
) -> None:
    alone = client.post("/api/cost", data=text, content_type="application/json")
    assert alone.status_code == 422, alone.data[:300]
    assert json.loads(alone.data)["field"] == field

    array = client.post(
        "/api/cost/batch", data=f"[{text}, {GOOD}]", content_type="application/json"
    )
    assert array.status_code == 200, array.data[:300]
    first, second = json.loads(array.data)
    assert (first["line"], _error(first)) == (1, (422, field))
    assert second["total"] == "0.001"

    lines = client.post("/api/cost/batch", data=f"{text}\n{GOOD}\n", content_type=NDJSON)
    assert lines.status_code == 200, lines.data[:300]
    first, second = (json.loads(line) for line in lines.data.splitlines())
    assert (first["line"], _error(first)) == (1, (422, field))
    assert second["total"] == "0.001"


def test_a_byte_order_mark_before_the_first_ndjson_line_is_not_part_of_it(
    client: FlaskClient,
) -> None:
    # Windows editors and spreadsheet exports write one; the CSV reader drops it too.
    body = b"\xef\xbb\xbf" + GOOD.encode() + b"\n" + GOOD.encode() + b"\n"
    answer = client.post("/api/cost/batch", data=body, content_type=NDJSON)
    assert [json.loads(line)["total"] for line in answer.data.splitlines()] == ["0.001"] * 2


@pytest.mark.parametrize("since", ["\uff15", "\u0665", "1\uff10"])
def test_a_change_cursor_in_other_digits_is_refused(client: FlaskClient, since: str) -> None:
    answer = client.get("/api/changes", query_string={"since": since})
    assert answer.status_code == 422
    assert json.loads(answer.data)["field"] == "since"


def test_a_json_array_batch_past_its_limit_is_a_413_pointing_at_ndjson(
    client: FlaskClient,
) -> None:
    body = ("[" + ",".join([GOOD] * (9 * 1024 * 1024 // len(GOOD))) + "]").encode()
    assert len(body) > 8 * 1024 * 1024  # RATECARD_BATCH_ARRAY_MAX_BYTES, by default
    answer = client.post("/api/cost/batch", data=body, content_type="application/json")
    assert answer.status_code == 413
    assert json.loads(answer.data)["detail"] == (
        "a JSON-array batch is limited to 8388608 bytes (it is parsed whole): send a larger "
        "batch as NDJSON (application/x-ndjson), which is streamed"
    )
    streamed = client.post(
        "/api/cost/batch", data=body[1:-1].replace(b"},{", b"}\n{"), content_type=NDJSON
    )
    assert streamed.status_code == 200
    assert streamed.data.count(b"\n") == body.count(b"},{") + 1

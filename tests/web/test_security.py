"""Hardening: security headers, the body limit (JSON 413), JSON 404/405 under /api, strict JSON
(422 naming the field), and no trace, SQL or secret in any error response."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ratecard.app import create_app
from ratecard.settings import Settings
from ratecard.web.security import CONTENT_SECURITY_POLICY
from ratecard.web.state import get_state
from tests.support.processes import ServedProcess, serve
from tests.support.services import free_port
from tests.web.admin.conftest import js

TOKEN = "security-test-token-93d1"
TWENTY_MB = 20 * 1024 * 1024
LEAKS = ("Traceback", 'File "', "SELECT ", "INSERT ", "sqlalchemy", "psycopg", TOKEN)


@pytest.fixture
def app(migrated_sqlite_url: str, make_settings: Callable[..., Settings]) -> Iterator[Flask]:
    app = create_app(make_settings(database_url=migrated_sqlite_url, admin_token=TOKEN))
    yield app
    get_state(app).shutdown()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def assert_no_leak(body: str, *secrets: str) -> None:
    for marker in (*LEAKS, *secrets):
        assert marker not in body, f"{marker!r} leaked in: {body[:300]}"


def test_html_pages_carry_the_security_headers(client: FlaskClient) -> None:
    for path in ("/", "/models/no-such-model", "/no-such-page"):
        response = client.get(path)
        assert response.mimetype == "text/html", path
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_dashboard_html_has_no_inline_script_or_style(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "<script>" not in html and "<script " in html  # only external scripts
    assert "src=" in html.split("<script", 1)[1].split(">", 1)[0]
    assert " onclick=" not in html and " style=" not in html and "<style" not in html


def test_json_responses_are_nosniff(client: FlaskClient) -> None:
    for path in ("/api/catalog", "/health/live", "/dashboard/status.json", "/api/nope"):
        assert client.get(path).headers["X-Content-Type-Options"] == "nosniff", path


def test_unknown_api_route_and_wrong_method_are_json(client: FlaskClient) -> None:
    missing = client.get("/api/no/such/route")
    assert missing.status_code == 404 and missing.is_json
    assert js(missing)["error"] == "not_found"
    wrong = client.delete("/api/models")
    assert wrong.status_code == 405 and wrong.is_json
    assert "GET" in wrong.headers["Allow"]
    wrong_post = client.get("/api/cost")
    assert wrong_post.status_code == 405 and wrong_post.is_json


@pytest.mark.parametrize("path", ["/", "/api/cost", "/admin/refresh", "/health/live"])
def test_a_20_mb_body_gets_a_json_413_on_any_route(client: FlaskClient, path: str) -> None:
    response = client.post(
        path,
        data=b"x" * TWENTY_MB,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 413, response.data[:200]
    assert response.is_json and js(response)["error"] == "payload_too_large"
    assert_no_leak(response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"model": "gpt-4o", "input_tokens": NaN, "output_tokens": 1}', "input_tokens"),
        ('{"model": "gpt-4o", "input_tokens": 1, "output_tokens": Infinity}', "output_tokens"),
        ('{"model": "gpt-4o", "input_tokens": -Infinity, "output_tokens": 1}', "input_tokens"),
        ('{"model": "gpt-4o", "input_tokens": "10", "output_tokens": 1}', "input_tokens"),
        ('{"model": "gpt-4o", "input_tokens": 10.0, "output_tokens": 1}', "input_tokens"),
        ('{"model": "gpt-4o", "input_tokens": true, "output_tokens": 1}', "input_tokens"),
        ('{"model": "gpt-4o", "input_tokens": 1e400, "output_tokens": 1}', "input_tokens"),
        ('{"model": 42, "input_tokens": 1, "output_tokens": 1}', "model"),
        ('{"input_tokens": 1, "output_tokens": 1}', "model"),
        # A quantity not given is 0; two forms at once, or a quantity in exponent text, is not.
        ('{"model": "gpt-4o", "input_tokens": 1, "usage": {"input_tokens": 1}}', "input_tokens"),
        ('{"model": "gpt-4o", "seconds": "1e3"}', "seconds"),
        ('{"model": "gpt-4o", "input_tokens": -1, "output_tokens": 1}', "input_tokens"),
        ('{"model": "gpt-4o", "input_tokens": 1, "output_tokens": 1, "at": "soon"}', "at"),
    ],
)
def test_strict_json_gives_422_naming_the_field(client: FlaskClient, body: str, field: str) -> None:
    response = client.post("/api/cost", data=body, content_type="application/json")
    assert response.status_code == 422, (body, response.data)
    assert response.is_json
    assert field in json.dumps(js(response)), (body, response.json)
    assert_no_leak(response.get_data(as_text=True))


@pytest.mark.parametrize(
    "body", [b"", b"{", b"[1, 2]", b"null", b'"text"', b"\xff\xfe\x00", b'{"model": "a"' * 1000]
)
def test_malformed_bodies_get_a_clear_4xx(client: FlaskClient, body: bytes) -> None:
    response = client.post("/api/cost", data=body, content_type="application/json")
    assert 400 <= response.status_code < 500, (body[:40], response.status_code)
    assert response.is_json
    assert_no_leak(response.get_data(as_text=True))


def test_a_database_outage_leaks_no_password_sql_or_trace(
    make_settings: Callable[..., Settings],
) -> None:
    password = "pw-s3cret-7781"
    url = f"postgresql+psycopg://ratecard:{password}@127.0.0.1:{free_port()}/ratecard"
    app = create_app(make_settings(database_url=url, admin_token=TOKEN))
    client = app.test_client()
    try:
        page = client.get("/")
        assert page.status_code == 200, "the dashboard stays up and says what is missing"
        assert "unavailable" in page.get_data(as_text=True)
        requests = [
            ("GET", "/", {}),
            ("GET", "/dashboard/status.json", {}),
            ("GET", "/dashboard/status.json", {"Authorization": f"Bearer {TOKEN}"}),
            ("GET", "/dashboard/live", {"Authorization": f"Bearer {TOKEN}"}),
            ("GET", "/models/gpt-4o", {}),
            ("GET", "/api/models", {}),
            ("GET", "/api/models/gpt-4o/history", {}),
            ("GET", "/admin/worker", {"Authorization": f"Bearer {TOKEN}"}),
            ("POST", "/admin/held/1/accept", {"Authorization": f"Bearer {TOKEN}"}),
        ]
        for method, path, headers in requests:
            response = client.open(path, method=method, headers=headers)
            assert response.status_code < 500 or response.status_code == 503, (path, response)
            assert_no_leak(response.get_data(as_text=True), password)
    finally:
        get_state(app).shutdown()


@pytest.fixture
def served(migrated_sqlite_url: str, tmp_path: Path) -> Iterator[ServedProcess]:
    with serve(
        tmp_path / "serve.log",
        DATABASE_URL=migrated_sqlite_url,
        RATECARD_COORDINATOR="false",
        RATECARD_ADMIN_TOKEN=TOKEN,
        RATECARD_INSTANCE_ID="security-test",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"),
    ).running() as instance:
        yield instance


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response from a raw socket (headers, then Content-Length bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def test_a_real_server_answers_413_json_to_a_20_mb_upload(served: ServedProcess) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        conn.request(
            "POST", "/api/cost", body=b"x" * TWENTY_MB, headers={"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        body = response.read().decode()
    finally:
        conn.close()
    assert response.status == 413, body[:200]
    assert json.loads(body)["error"] == "payload_too_large"
    assert_no_leak(body)


def test_a_real_server_answers_413_json_to_a_streamed_chunked_upload(
    served: ServedProcess,
) -> None:
    chunk = b"x" * (1024 * 1024)
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/cost HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        try:
            for _ in range(20):  # 20 MB, announced nowhere
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may stop reading once it has answered; the answer must be there
        status, headers, body = read_response(sock)
    assert status == 413, body[:200]
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"] == "payload_too_large"
    assert_no_leak(body.decode())

"""Fetching feeds from a real local HTTP server: ETags, retries, timeouts, caps, file://."""

from __future__ import annotations

import hashlib
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ratecard.ingest.bundled import BUNDLED_DATE, BUNDLED_URL, bundled_snapshot
from ratecard.ingest.feed_errors import FeedError
from ratecard.ingest.feeds import parse_feed
from ratecard.ingest.fetch import fetch_feed, make_http_client, retry_delay, tls_context
from ratecard.settings import Source
from tests.support.feeds import FeedServer
from tests.support.services import feed_checksums, free_port

EDGES = "openrouter_models_edge_cases.json"
LITELLM_FILE = "litellm_2026-07-24.json"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    http = make_http_client(connect_timeout=2.0, read_timeout=2.0)
    yield http
    http.close()


class Sleeps:
    """Records the pauses fetch_feed asks for instead of sleeping through them."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def source_at(server: FeedServer, path: str, kind: str = "openrouter") -> Source:
    return Source(name=kind, url=server.url(path), kind=kind)


def test_ok_returns_the_exact_bytes_with_validators(feed_server, client, feed_data):
    result = fetch_feed(source_at(feed_server, EDGES), client)
    body = (feed_data / EDGES).read_bytes()
    assert result.status == "ok"
    assert result.body == body
    assert result.etag == '"' + hashlib.sha256(body).hexdigest() + '"'
    assert result.last_modified is not None
    assert result.attempts == 1
    _method, _path, headers = feed_server.requests[-1]
    assert headers["user-agent"].startswith("ratecard/")
    assert "if-none-match" not in headers


def test_etag_gives_not_modified(feed_server, client):
    source = source_at(feed_server, EDGES)
    first = fetch_feed(source, client)
    second = fetch_feed(source, client, etag=first.etag, last_modified=first.last_modified)
    assert second.status == "not-modified"
    assert second.body is None
    assert second.etag == first.etag
    assert feed_server.requests[-1][2]["if-none-match"] == first.etag


def test_last_modified_alone_gives_not_modified(feed_server, client):
    source = source_at(feed_server, EDGES)
    first = fetch_feed(source, client)
    second = fetch_feed(source, client, last_modified=first.last_modified)
    assert second.status == "not-modified"
    assert feed_server.requests[-1][2]["if-modified-since"] == first.last_modified


def test_changed_body_is_fetched_again_despite_old_etag(feed_server, client):
    feed_server.set_body("/feed.json", b'{"data": []}')
    first = fetch_feed(source_at(feed_server, "/feed.json"), client)
    feed_server.set_body("/feed.json", b'{"data": [1]}')
    second = fetch_feed(source_at(feed_server, "/feed.json"), client, etag=first.etag)
    assert second.status == "ok"
    assert second.body == b'{"data": [1]}'
    assert second.etag != first.etag


def test_retries_503_then_succeeds_with_growing_backoff(feed_server, client):
    feed_server.fail(EDGES, 503, times=2)
    sleeps, checkpoints = Sleeps(), []
    result = fetch_feed(
        source_at(feed_server, EDGES),
        client,
        backoff=0.1,
        sleep=sleeps,
        checkpoint=lambda: checkpoints.append(1),
    )
    assert result.status == "ok"
    assert result.attempts == 3
    assert feed_server.hits(EDGES) == 3
    assert len(sleeps.calls) == 2 and len(checkpoints) == 2
    assert 0.1 <= sleeps.calls[0] <= 0.15  # backoff, +0-50% jitter
    assert 0.2 <= sleeps.calls[1] <= 0.3  # doubled


def test_persistent_503_fails_with_attempt_count(feed_server, client):
    feed_server.fail(EDGES, 503)
    with pytest.raises(FeedError) as caught:
        fetch_feed(source_at(feed_server, EDGES), client, backoff=0.01, sleep=Sleeps())
    assert caught.value.reason == "HTTP 503 after 3 attempts"
    assert feed_server.hits(EDGES) == 3


def test_429_honours_retry_after_up_to_the_cap(feed_server, client):
    feed_server.fail(EDGES, 429, times=1, retry_after="2")
    sleeps = Sleeps()
    result = fetch_feed(source_at(feed_server, EDGES), client, backoff=0.01, sleep=sleeps)
    assert result.attempts == 2
    assert sleeps.calls == [2.0]
    feed_server.fail(EDGES, 429, times=1, retry_after="3600")
    sleeps = Sleeps()
    fetch_feed(source_at(feed_server, EDGES), client, sleep=sleeps, max_retry_after=5)
    assert sleeps.calls == [5.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_other_4xx_fail_at_once(feed_server, client, status):
    feed_server.fail(EDGES, status)
    sleeps = Sleeps()
    with pytest.raises(FeedError) as caught:
        fetch_feed(source_at(feed_server, EDGES), client, sleep=sleeps)
    assert caught.value.reason == f"HTTP {status}"
    assert feed_server.hits(EDGES) == 1
    assert sleeps.calls == []


def test_missing_path_is_404(feed_server, client):
    with pytest.raises(FeedError, match=r"HTTP 404$"):
        fetch_feed(source_at(feed_server, "/nothing-here.json"), client)


def test_checkpoint_can_cancel_between_attempts(feed_server, client):
    feed_server.fail(EDGES, 503)

    def lease_lost() -> None:
        raise RuntimeError("lease lost")

    with pytest.raises(RuntimeError, match="lease lost"):
        fetch_feed(source_at(feed_server, EDGES), client, sleep=Sleeps(), checkpoint=lease_lost)
    assert feed_server.hits(EDGES) == 1


def test_slow_server_times_out(feed_server):
    feed_server.delay(EDGES, 10)
    http = make_http_client(connect_timeout=1.0, read_timeout=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(FeedError) as caught:
            fetch_feed(source_at(feed_server, EDGES), http, attempts=2, sleep=Sleeps())
    finally:
        http.close()
    assert caught.value.reason == "timed out after 0.3 s after 2 attempts"
    assert feed_server.hits(EDGES) == 2
    assert time.monotonic() - started < 5  # two 0.3 s timeouts, not the 10 s stall


def test_stall_mid_body_times_out(feed_server):
    feed_server.delay(EDGES, 10, after_bytes=1000)
    http = make_http_client(read_timeout=0.3)
    try:
        with pytest.raises(FeedError, match=r"timed out after 0\.3 s$"):
            fetch_feed(source_at(feed_server, EDGES), http, attempts=1)
    finally:
        http.close()


def test_recovers_after_one_timeout(feed_server):
    feed_server.delay(EDGES, 10, times=1)
    http = make_http_client(read_timeout=0.3)
    try:
        result = fetch_feed(source_at(feed_server, EDGES), http, sleep=Sleeps())
    finally:
        http.close()
    assert result.status == "ok" and result.attempts == 2


def test_html_error_page_is_fetched_but_refused_by_the_parser(feed_server, client):
    feed_server.html_error(EDGES)
    source = source_at(feed_server, EDGES)
    result = fetch_feed(source, client)
    assert result.status == "ok" and result.body is not None
    with pytest.raises(FeedError, match="body is HTML, not JSON"):
        parse_feed(source, result.body)


def test_html_502_is_retried_then_reported(feed_server, client):
    feed_server.html_error(EDGES, status=502)
    with pytest.raises(FeedError, match=r": HTTP 502 after 2 attempts$"):
        fetch_feed(source_at(feed_server, EDGES), client, attempts=2, sleep=Sleeps())


def test_truncated_body_is_refused_by_the_parser(feed_server, client):
    feed_server.truncate(LITELLM_FILE, 12345)
    source = source_at(feed_server, LITELLM_FILE, kind="litellm")
    result = fetch_feed(source, client)
    assert result.body is not None and len(result.body) == 12345
    with pytest.raises(FeedError) as caught:
        parse_feed(source, result.body)
    assert caught.value.reason == "truncated JSON at byte 12345"


def test_dropped_connection_is_retried_then_reported(feed_server, client):
    feed_server.truncate(EDGES, 500, declare_full_length=True)
    with pytest.raises(FeedError) as caught:
        fetch_feed(source_at(feed_server, EDGES), client, backoff=0.01, sleep=Sleeps())
    assert caught.value.reason == (
        "connection closed before the response was complete after 3 attempts"
    )
    assert feed_server.hits(EDGES) == 3


def test_size_cap_by_content_length(feed_server, client):
    feed_server.oversize("/big.json", 3 * 1024 * 1024)
    with pytest.raises(FeedError) as caught:
        fetch_feed(source_at(feed_server, "/big.json"), client, max_bytes=1024 * 1024)
    assert caught.value.reason == "body exceeds 1 MB cap"
    assert feed_server.hits("/big.json") == 1  # a cap is not retried


def test_size_cap_while_streaming_stops_reading_early(feed_server, client):
    total = 400 * 1024 * 1024
    feed_server.oversize("/endless.json", total, declare_length=False)
    with pytest.raises(FeedError, match=r": body exceeds 1 MB cap$"):
        fetch_feed(source_at(feed_server, "/endless.json"), client, max_bytes=1024 * 1024)
    # The server stops once the client hangs up: only socket buffers' worth went out.
    deadline = time.monotonic() + 5
    sent = feed_server.bytes_sent("/endless.json")
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if feed_server.bytes_sent("/endless.json") == sent:
            break
        sent = feed_server.bytes_sent("/endless.json")
    assert sent < total // 4


def test_redirect_is_followed(feed_server, client, feed_data):
    feed_server.redirect("/latest.json", f"/{EDGES}")
    result = fetch_feed(source_at(feed_server, "/latest.json"), client)
    assert result.body == (feed_data / EDGES).read_bytes()


def test_connection_refused_is_retried_then_reported(client):
    source = Source("litellm", f"http://127.0.0.1:{free_port()}/feed.json", "litellm")
    sleeps = Sleeps()
    with pytest.raises(FeedError) as caught:
        fetch_feed(source, client, attempts=2, sleep=sleeps)
    assert caught.value.reason == "could not connect after 2 attempts"
    assert len(sleeps.calls) == 1


def test_no_credentials_in_errors(feed_server, client):
    url = feed_server.url(EDGES).replace("http://", "http://reader:s3cret-token@")
    feed_server.fail(EDGES, 503)
    with pytest.raises(FeedError) as caught:
        fetch_feed(Source("openrouter", url, "openrouter"), client, sleep=Sleeps())
    assert "s3cret-token" not in str(caught.value)
    refused = Source("litellm", f"http://u:s3cret-token@127.0.0.1:{free_port()}/", "litellm")
    with pytest.raises(FeedError) as caught:
        fetch_feed(refused, client, attempts=1)
    assert "s3cret-token" not in str(caught.value)


def test_unsupported_scheme(client):
    with pytest.raises(FeedError, match="unsupported URL scheme 'ftp'"):
        fetch_feed(Source("litellm", "ftp://example.invalid/x.json", "litellm"), client)


def test_without_a_client_one_is_made_and_closed(feed_server):
    result = fetch_feed(source_at(feed_server, EDGES), None)
    assert result.status == "ok"


@pytest.fixture
def tls_feed(tmp_path: Path) -> Iterator[tuple[FeedServer, Path]]:
    """An https feed server on 127.0.0.1 whose certificate nobody signed, and the certificate;
    it serves /feed.json."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days=1", *subject, *files],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FeedServer(tls=context) as server:
        server.set_body("/feed.json", b"{}")
        yield server, cert


def test_every_feed_client_verifies_the_certificate(tls_feed: tuple[FeedServer, Path]) -> None:
    # The clients share one TLS context per process: each must still refuse a certificate
    # nobody signed, the first one made and any made after it.
    server, cert = tls_feed
    url = server.url("/feed.json")
    source = Source("litellm", url, "litellm")
    for _ in range(2):
        sleeps = Sleeps()
        with (
            make_http_client(connect_timeout=2.0, read_timeout=2.0) as http,
            pytest.raises(FeedError) as caught,
        ):
            fetch_feed(source, http, attempts=3, sleep=sleeps)
        # Said as it is, at once: an untrusted certificate is no reason to try again.
        assert caught.value.reason.startswith("the server's TLS certificate is not trusted")
        assert sleeps.calls == []
        assert "127.0.0.1" not in str(caught.value)
    # The same feed is served to a client that trusts its certificate.
    trusting = httpx.Client(verify=ssl.create_default_context(cafile=cert))
    with trusting:
        assert trusting.get(url).status_code == 200


def test_the_ca_bundle_ssl_cert_file_names_is_trusted(
    tls_feed: tuple[FeedServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cert = tls_feed
    url = server.url("/feed.json")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    tls_context.cache_clear()  # read once per process: this test's process reads it again
    try:
        with make_http_client(connect_timeout=2.0, read_timeout=2.0) as http:
            result = fetch_feed(Source("litellm", url, "litellm"), http, attempts=1)
    finally:
        tls_context.cache_clear()  # the next client, after this test, reads the usual bundle
    assert (result.status, result.body) == ("ok", b"{}")


# -- file:// and package:// ------------------------------------------------------------------


def test_file_url_with_sha256_etag(feed_data):
    path = feed_data / EDGES
    source = Source("openrouter", path.as_uri(), "openrouter")
    first = fetch_feed(source, None)
    assert first.status == "ok"
    assert first.body == path.read_bytes()
    assert first.etag == '"' + hashlib.sha256(path.read_bytes()).hexdigest() + '"'
    again = fetch_feed(source, None, etag=first.etag)
    assert again.status == "not-modified" and again.body is None


def test_file_url_changed_content_is_ok_again(tmp_path: Path):
    path = tmp_path / "feed.json"
    path.write_bytes(b'{"m": {"input_cost_per_token": 1e-06}}')
    source = Source("litellm", path.as_uri(), "litellm")
    first = fetch_feed(source, None)
    path.write_bytes(b'{"m": {"input_cost_per_token": 2e-06}}')
    second = fetch_feed(source, None, etag=first.etag)
    assert second.status == "ok" and second.etag != first.etag


def test_file_url_failures(tmp_path: Path):
    missing = Source("litellm", (tmp_path / "nope.json").as_uri(), "litellm")
    with pytest.raises(FeedError, match="file not found"):
        fetch_feed(missing, None)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(FeedError, match=r": body exceeds 1024 bytes cap$"):
        fetch_feed(Source("litellm", big.as_uri(), "litellm"), None, max_bytes=1024)
    with pytest.raises(FeedError, match="not a file"):
        fetch_feed(Source("litellm", tmp_path.as_uri(), "litellm"), None)


def test_bundled_snapshot_is_the_newest_litellm_file(feed_data):
    feed = Source("litellm-eu", "https://feeds.example/prices.json", "litellm")
    source, body, date = bundled_snapshot(feed)
    assert (source.name, source.kind, source.url) == ("litellm-eu", "litellm", BUNDLED_URL)
    # tests/data's copy is a symlink to the bundled file: the recorded checksum of the real
    # 2026-07-24 snapshot is what makes this comparison against real data.
    assert hashlib.sha256(body).hexdigest() == feed_checksums()[LITELLM_FILE]
    assert body == (feed_data / LITELLM_FILE).read_bytes()
    parsed = parse_feed(source, body)
    assert date == BUNDLED_DATE == parsed.snapshot_date == "2026-07-24"
    assert parsed.source == "litellm-eu", "it stands in under the feed's own name"
    assert len(parsed.models) == 2982
    fetched = fetch_feed(source, None)
    assert fetched.body == body


@pytest.mark.parametrize(
    ("failures", "backoff", "retry_after", "low", "high"),
    [
        (1, 0.5, None, 0.5, 0.75),
        (2, 0.5, None, 1.0, 1.5),
        (3, 0.5, None, 2.0, 3.0),
        (1, 0.5, 4.0, 4.0, 4.0),
        (1, 0.5, 99.0, 30.0, 30.0),
        (10, 1.0, None, 30.0, 30.0),
    ],
)
def test_retry_delay_table(failures, backoff, retry_after, low, high):
    for _ in range(20):
        assert low <= retry_delay(failures, backoff, retry_after) <= high

"""Receivers that misbehave at the HTTP level: a binary error body, an answer trickled byte by
byte. Each attempt is settled with a readable last_error, and none outlives its timeout."""

from __future__ import annotations

import contextlib
import gzip
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.changes_app import ChangesApp, bearer, tiny_feed
from tests.support.tcp_proxy import TcpProxy

Answer = Callable[[socket.socket], None]


class RawReceiver:
    """A TCP server that reads each request's head and body, then answers with `answer`."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(body) < length:
                body += conn.recv(65536)
            self.requests += 1
            with contextlib.suppress(OSError):  # the sender gave up on us (the trickle test)
                self.answer(conn)

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def raw_receiver() -> Iterator[Callable[[Answer], RawReceiver]]:
    made: list[RawReceiver] = []

    def make(answer: Answer) -> RawReceiver:
        made.append(RawReceiver(answer))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def subscribe(app: ChangesApp, port: int) -> str:
    created = app.client.post(
        "/admin/webhooks", json={"url": f"http://127.0.0.1:{port}/hook"}, headers=bearer()
    )
    assert created.status_code == 201, created.get_json()
    subscription: str = created.get_json()["id"]
    return subscription


def one_delivery(app: ChangesApp, subscription: str) -> dict[str, Any]:
    [delivery] = app.client.get(
        f"/admin/webhooks/{subscription}/deliveries", headers=bearer()
    ).get_json()["items"]
    return delivery


def answer_503(body: bytes, *headers: str) -> Answer:
    def answer(conn: socket.socket) -> None:
        head = [
            "HTTP/1.1 503 Service Unavailable",
            f"Content-Length: {len(body)}",
            "Connection: close",
            *headers,
        ]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    return answer


@pytest.mark.parametrize(
    "body,headers,said",
    [
        (
            gzip.compress(b"upstream down " * 50),
            ("Content-Encoding: gzip",),
            "HTTP 503: (gzip-encoded answer, not shown)",
        ),
        (b"bad\x00answer\x01", (), "HTTP 503: bad\\u0000answer\\u0001"),
    ],
    ids=["gzip body", "NUL in a plain body"],
)
def test_a_binary_error_answer_is_settled_with_a_readable_error(
    changes_app: ChangesApp,
    raw_receiver: Callable[[Answer], RawReceiver],
    body: bytes,
    headers: tuple[str, ...],
    said: str,
) -> None:
    # Before: NUL in last_error made the settling transaction fail; the message stayed
    # claimed, was re-sent every claim period, attempts climbing, and nothing was logged.
    receiver = raw_receiver(answer_503(body, *headers))
    changes_app.refresh()
    subscription = subscribe(changes_app, receiver.port)
    changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    changes_app.deliver()
    delivery = one_delivery(changes_app, subscription)
    assert receiver.requests == 1
    assert (delivery["status"], delivery["attempts"]) == ("pending", 1)
    assert delivery["last_error"].startswith(said), delivery["last_error"]
    assert "\x00" not in delivery["last_error"]


def test_an_answer_trickled_byte_by_byte_ends_at_the_timeout(
    build_changes_app: Any, raw_receiver: Callable[[Answer], RawReceiver]
) -> None:
    # Each byte comes well within the read timeout: only a total deadline ends the attempt.
    def trickle(conn: socket.socket) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Padding: " + b"x" * 200:
            conn.sendall(bytes([byte]))
            time.sleep(0.05)

    app: ChangesApp = build_changes_app(webhook_timeout=1.0)
    receiver = raw_receiver(trickle)
    app.refresh()
    subscription = subscribe(app, receiver.port)
    app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    started = time.monotonic()
    app.deliver(passes=1)
    elapsed = time.monotonic() - started
    delivery = one_delivery(app, subscription)
    assert (delivery["status"], delivery["last_error"]) == ("pending", "timeout after 1 s")
    assert elapsed < 2.5, f"the attempt took {elapsed:.1f} s under a 1 s timeout"
    assert elapsed < app.worker.claim_seconds


@pytest.fixture
def pg_proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy(target_port=5432).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def proxied_pg_url(migrated_pg_url: str, pg_proxy: TcpProxy) -> str:
    name = migrated_pg_url.rsplit("/", 1)[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{pg_proxy.port}/{name}"


def test_an_unreachable_database_is_one_warning_line_not_a_traceback(
    build_changes_app: Any, pg_proxy: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    app: ChangesApp = build_changes_app("proxied_pg_url", webhook_poll_interval=0.05)
    pg_proxy.stop()
    with caplog.at_level(logging.INFO, logger="ratecard.changes.delivery"):
        app.worker.start()
        deadline = time.monotonic() + 10
        while not any("delivery paused" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
            time.sleep(0.05)
        time.sleep(3.0)  # more passes (a standby's every TTL/2 = 2.5 s), all failed: one line
        app.worker.stop()
    mine = [r for r in caplog.records if r.name == "ratecard.changes.delivery"]
    assert [r.levelname for r in mine] == ["WARNING"], [r.getMessage() for r in mine]
    assert mine[0].exc_info is None
    assert (
        mine[0]
        .getMessage()
        .startswith("webhook delivery paused: database unavailable (OperationalError: connection")
    )

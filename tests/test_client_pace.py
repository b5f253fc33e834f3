"""Under real gunicorn: clients too slow to send their request or read their answer lose
their worker thread, so the instance goes on answering (RATECARD_UPLOAD_TIMEOUT and
RATECARD_UPLOAD_MIN_RATE, here 1 s and 1,000 bytes/s, on one worker of two threads)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ServedProcess, serve

LINE = json.dumps({"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 10}).encode() + b"\n"


@pytest.fixture
def instance(migrated_sqlite_url: str, tmp_path: Path) -> Iterator[ServedProcess]:
    env = {
        "DATABASE_URL": migrated_sqlite_url,
        "RATECARD_COORDINATOR": "false",
        "RATECARD_THREADS": "2",
        "RATECARD_UPLOAD_TIMEOUT": "1",
        "RATECARD_UPLOAD_MIN_RATE": "1000",
    }
    with serve(tmp_path / "serve.log", workers=1, env=env).running("/health/live") as proc:
        yield proc


def trickle(port: int, body: bytes, pause: float, answers: list[tuple[float, bytes]]) -> None:
    """POST a batch a byte at a time, `pause` s apart; record when and what the server says."""
    started = time.monotonic()
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        "POST /api/cost/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    client.sendall(head)
    try:
        for byte in body:
            client.sendall(bytes([byte]))
            time.sleep(pause)
    except OSError:
        pass  # the server answered and closed: what it said is read below
    answer = b""
    try:
        while chunk := client.recv(65536):
            answer += chunk
    except OSError:
        pass
    answers.append((time.monotonic() - started, answer))
    client.close()


def live_within(port: int) -> float:
    """Seconds /health/live takes to answer 200 on a new connection."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    conn.request("GET", "/health/live")
    assert conn.getresponse().status == 200
    conn.close()
    return time.monotonic() - started


def test_trickling_uploads_are_answered_408_and_free_their_threads(
    instance: ServedProcess,
) -> None:
    answers: list[tuple[float, bytes]] = []
    tricklers = [
        threading.Thread(target=trickle, args=(instance.port, LINE * 3, 0.2, answers))
        for _ in range(2)  # every thread of the instance
    ]
    for t in tricklers:
        t.start()
    time.sleep(0.3)
    # Answered once a thread is free: after the timeout plus what they sent (~10 bytes), ~1 s;
    # without the pace rule, after the tricklers' 36 s (the margin is for a loaded machine).
    assert live_within(instance.port) < 8.0
    for t in tricklers:
        t.join(timeout=30)
    assert len(answers) == 2
    for seconds, answer in answers:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body["error"] == "request_timeout" and "RATECARD_UPLOAD_MIN_RATE" in body["detail"]
        assert seconds < 8.0, "a trickling body kept its thread past the pace rule"


def test_a_client_that_stops_sending_mid_body_gets_408(instance: ServedProcess) -> None:
    client = socket.create_connection(("127.0.0.1", instance.port), timeout=10)
    client.sendall(
        b"POST /api/cost HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    started = time.monotonic()
    response = http.client.HTTPResponse(client)
    response.begin()
    assert response.status == 408 and time.monotonic() - started < 8.0
    assert json.loads(response.read())["error"] == "request_timeout"
    client.close()


def test_a_client_that_never_reads_its_answer_frees_its_thread(instance: ServedProcess) -> None:
    """A large answer to a client that never reads: the send stalls, the thread goes back."""
    body = LINE * 60_000  # ~4 MB of lines; the answer (one error per line) is larger still
    stuck = []
    for _ in range(2):
        client = socket.create_connection(("127.0.0.1", instance.port), timeout=30)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.sendall(
            b"POST /api/cost/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        stuck.append(client)  # never read
    time.sleep(0.5)
    assert live_within(instance.port) < 10.0
    for client in stuck:
        client.close()

"""A stopping instance under real gunicorn: its port refuses new connections at once, the
requests it has accepted are answered, and RATECARD_SHUTDOWN_DELAY keeps it serving, unready,
first. (Behind a balancer a refused connection is retried on another instance; a connection
left in a backlog nobody accepts is reset when the process exits: a lost request.)"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import time
from pathlib import Path

from tests.support.processes import ServedProcess, serve

BODY = json.dumps({"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 10}).encode()


def refused(port: int) -> bool:
    """True when a new TCP connection to the port is refused (nothing listens)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True


def wait_refused(port: int, within: float) -> float:
    """Seconds until the port refuses connections; fails after `within`."""
    started = time.monotonic()
    while not refused(port):
        assert time.monotonic() - started < within, f"port still accepts after {within} s"
        time.sleep(0.02)
    return time.monotonic() - started


def start_slow_request(port: int) -> socket.socket:
    """A POST whose body is half sent: the worker has accepted it and waits for the rest."""
    client = socket.create_connection(("127.0.0.1", port), timeout=15)
    head = (
        "POST /api/cost HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n"
    ).encode()
    client.sendall(head + BODY[:10])
    return client


def finish_slow_request(client: socket.socket) -> tuple[int, dict[str, object]]:
    client.sendall(BODY[10:])
    response = http.client.HTTPResponse(client)
    response.begin()
    answer = (response.status, json.loads(response.read()))
    client.close()
    return answer


def get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def instance(tmp_path: Path, url: str, **settings: str) -> ServedProcess:
    env = {"DATABASE_URL": url, "RATECARD_COORDINATOR": "false", **settings}
    return serve(tmp_path / "serve.log", workers=2, env=env)


def test_sigterm_closes_the_port_at_once_and_answers_the_request_in_flight(
    migrated_sqlite_url: str, tmp_path: Path
) -> None:
    proc = instance(tmp_path, migrated_sqlite_url).start().wait_ready("/health/live")
    try:
        slow = start_slow_request(proc.port)
        time.sleep(0.3)  # a worker thread has accepted it and reads its body
        proc.signal(signal.SIGTERM)
        # Refused within a moment, not after the drain (the slow request still holds it open).
        assert wait_refused(proc.port, within=8.0) < 8.0  # without the fix: the whole drain
        status, body = finish_slow_request(slow)
        # Answered by the app after the signal (an empty catalog: the model is not served).
        assert (status, body["field"]) == (404, "model"), (status, body)
        assert proc.wait(timeout=20) == 0, proc.output()[-2000:]
    finally:
        proc.stop()


def test_the_shutdown_delay_serves_unready_then_closes_the_port(
    migrated_sqlite_url: str, tmp_path: Path
) -> None:
    proc = instance(tmp_path, migrated_sqlite_url, RATECARD_SHUTDOWN_DELAY="4")
    proc.start().wait_ready("/health/live")
    try:
        proc.signal(signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(0.3)
        # Both workers: new connections are still served, but readiness is out of rotation.
        answers = [
            (get(proc.port, "/health/ready"), get(proc.port, "/health/live")) for _ in range(6)
        ]
        assert time.monotonic() - signalled < 3.8, "the checks took longer than the delay"
        assert set(answers) == {(503, 200)}, answers
        wait_refused(proc.port, within=8.0)
        assert time.monotonic() - signalled >= 3.9
        assert proc.wait(timeout=20) == 0, proc.output()[-2000:]
    finally:
        proc.stop()

"""The tests' own HTTP servers never print: a handler thread can outlive its test, and what it
printed would land in a later test's CliRunner capture (sys.stderr is swapped process-wide)."""

from __future__ import annotations

import http.client
import logging
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from tests.support.feeds import QuietHTTPServer


class _Broken(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        raise ValueError("a handler bug")

    def log_message(self, format: str, *args: object) -> None:
        """Not under test here."""


def test_a_handler_error_is_logged_not_printed(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    server = QuietHTTPServer(("127.0.0.1", 0), _Broken)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with caplog.at_level(logging.ERROR, logger="tests.support.feeds"):
            connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
            connection.request("GET", "/")
            with pytest.raises(http.client.RemoteDisconnected):
                connection.getresponse()
            connection.close()
            for _ in range(100):
                if caplog.records:
                    break
                threading.Event().wait(0.02)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    (record,) = caplog.records
    assert record.exc_info is not None and isinstance(record.exc_info[1], ValueError)
    assert capfd.readouterr().err == ""

"""The README's shell examples, run as a reader would run them, against live instances.

Every ```sh block of README.md is run here, line for line, through bash: the `curl` examples
against a served instance (with `--fail-with-body`, so an HTTP error fails the test where the
README's plain `curl -s` would print it and carry on), the fleet walkthrough as a real fleet,
`make run` as `make run`. The test only substitutes what a test must own: where things listen
(a free port for `localhost:8000`, ports 8001-8003), the database's name, a webhook receiver of
its own for `https://hooks.example.com` (no DNS here) and a Redis key prefix. Each
substitution is listed below; a line the test cannot run is named in NOT_RUN with the reason.
An example that drifts from the service (a route, a header, a field, an option) fails here.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from tests.support.processes import RATECARD, ServedProcess, serve
from tests.support.receiver import WebhookReceiver
from tests.support.services import (
    FEED_DATA,
    PG_ADMIN_DSN,
    REDIS_URL,
    REPO,
    clean_env,
    delete_keys,
    free_port,
)

README = REPO / "README.md"
BUNDLED = REPO / "src" / "ratecard" / "ingest" / "data" / "litellm_snapshot.json"
TOKEN = "readme-examples-admin-token"
# Lines of the README's blocks that a test cannot run as written, and why.
NOT_RUN = {
    "make test": "it is the command that runs this suite",
    "git clone <this repository> ratecard && cd ratecard": "this suite runs inside such a clone",
    "make install": "`make test` has just run it (a second run would rebuild nothing)",
}


def shell_blocks() -> list[str]:
    """The README's ```sh blocks, in order."""
    return re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)


def block(first_words: str) -> str:
    """The one block whose first command starts with `first_words`."""
    found = [b for b in shell_blocks() if _commands(b)[0].startswith(first_words)]
    assert len(found) == 1, f"README: expected one ```sh block starting {first_words!r}"
    return found[0]


def _commands(text: str) -> list[str]:
    """The block's commands: continuation lines joined, comment lines and comments dropped."""
    joined = text.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        code = " ".join(re.split(r"\s+#\s", " " + line, maxsplit=1)[0].split())
        if code and not code.startswith("#"):
            commands.append(code)
    return commands


def runnable(text: str) -> str:
    """The block without the lines named in NOT_RUN (each must still be in it)."""
    lines = text.splitlines()
    kept = [line for line in lines if _commands(line + "\n")[:1] not in ([k] for k in NOT_RUN)]
    return "\n".join(kept) + "\n"


def bash(script: str, *, env: dict[str, str], cwd: Path, timeout: float = 60) -> str:
    """Run `script` under `bash -euo pipefail`; its stdout (a failure shows stderr too)."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done.stdout


def strict_curl(script: str) -> str:
    """Each `curl -s` as `curl -sS --fail-with-body`: an HTTP error fails the command."""
    return script.replace("curl -s ", "curl -sS --fail-with-body ")


def json_values(text: str) -> list[Any]:
    """The JSON documents printed one after another (curl adds no newline between them)."""
    decoder, at = json.JSONDecoder(), 0
    values: list[Any] = []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return values
        value, at = decoder.raw_decode(text, at)
        values.append(value)


def test_every_block_is_run_here_and_every_skipped_line_is_in_the_readme() -> None:
    # make run (the quick start), git clone (the fleet) and its second terminal, the webhook
    # and the cost examples: each block has its test below.
    firsts = [_commands(b)[0] for b in shell_blocks()]
    expected = [
        "make run",
        "git clone <this repository>",
        "curl -s http://127.0.0.1:8002/health/ready",
        "curl -s -X POST localhost:8000/admin/webhooks",
        "curl -s localhost:8000/api/cost",
        "curl -s -X PUT localhost:8000/admin/price-books/contract-2026",
    ]
    assert len(firsts) == len(expected) and all(
        first.startswith(start) for first, start in zip(firsts, expected, strict=True)
    ), f"a README block was added or reordered: run it in a test here ({firsts})"
    every_line = {c for b in shell_blocks() for c in _commands(b)}
    assert set(NOT_RUN) <= every_line, "NOT_RUN names a line the README no longer has"


# --- a served instance (the webhook and cost examples) ------------------------------------


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProcess]:
    """`ratecard serve` over the bundled snapshot, with the admin token and private webhooks."""
    folder = tmp_path_factory.mktemp("readme-instance")
    settings = {
        "DATABASE_URL": f"sqlite:///{folder / 'ratecard.sqlite3'}",
        "RATECARD_SOURCES": f"litellm=file://{BUNDLED}",
        "RATECARD_ADMIN_TOKEN": TOKEN,
        "RATECARD_WEBHOOK_ALLOW_PRIVATE": "true",  # the test's receiver is on 127.0.0.1
        "RATECARD_COORDINATOR": "false",
    }
    for command in (["migrate"], ["prices", "refresh"]):
        done = subprocess.run(
            [RATECARD, *command],
            cwd=REPO,
            env=clean_env(**settings),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    with serve(folder / "serve.log", env=settings).running("/health/ready") as served:
        yield served


def on_instance(script: str, instance: ServedProcess) -> str:
    return script.replace("localhost:8000", f"127.0.0.1:{instance.port}")


def test_the_webhook_example_subscribes(instance: ServedProcess, tmp_path: Path) -> None:
    with WebhookReceiver() as receiver:
        script = strict_curl(on_instance(block("curl -s -X POST"), instance))
        script = script.replace("https://hooks.example.com/prices", receiver.url("/prices"))
        (created,) = json_values(bash(script, env={"RATECARD_ADMIN_TOKEN": TOKEN}, cwd=tmp_path))
    assert created["id"].startswith("wh_") and created["secret"].startswith("whsec_")
    assert created["filter"]["providers"] == ["openai"] and created["filter"]["kinds"] == [
        "changed"
    ]


def test_the_cost_examples_price_each_form(instance: ServedProcess, tmp_path: Path) -> None:
    response = FEED_DATA / "responses" / "openai_chat" / "gpt-4o_plain.json"
    (tmp_path / "response.json").write_bytes(response.read_bytes())
    script = strict_curl(on_instance(block("curl -s localhost:8000/api/cost"), instance))
    answers = json_values(bash(script, env={}, cwd=tmp_path))
    assert [a["model"] for a in answers] == ["gpt-4o", "claude-sonnet-4-5", "gpt-4o-2024-08-06"]
    assert [a["format"] for a in answers] == [None, "anthropic", "openai.chat"]
    # The flat counts, by hand: 1,000 + 200 cached + 500 out at gpt-4o's prices.
    assert answers[0]["total"] == "0.00775"
    assert all(a["currency"] == "USD" and a["components"] for a in answers)


def test_the_price_book_example_prices_with_the_book(
    instance: ServedProcess, tmp_path: Path
) -> None:
    script = strict_curl(on_instance(block("curl -s -X PUT"), instance))
    created, priced = json_values(bash(script, env={"RATECARD_ADMIN_TOKEN": TOKEN}, cwd=tmp_path))
    assert (created["name"], created["version"]) == ("contract-2026", 1)
    assert created["read_key"].startswith("rcb_")
    # 1M input at the set 2 per M, 100k output at 0.85 x 10 per M: as the README says.
    assert priced["total"] == "2.85"
    first = priced["components"][0]
    assert (first["price"], first["list_price"], first["rule"]["rule"]) == (
        "0.000002",
        "0.0000025",
        0,
    )
    assert priced["price_book"]["name"] == "contract-2026"


# --- the quick start ---------------------------------------------------------------------


def test_make_run_serves_where_the_bind_setting_says(tmp_path: Path) -> None:
    (command,) = [c for c in _commands(block("make run")) if c not in NOT_RUN]
    assert command == "make run"
    port = free_port()
    env = {
        "RATECARD_BIND": f"127.0.0.1:{port}",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ratecard.sqlite3'}",
        "RATECARD_SOURCES": f"litellm=file://{BUNDLED}",  # the public feeds are not reachable
        # The build this suite runs under, so that make's stamp stays fresh (no rebuild).
        **{k: v for k, v in os.environ.items() if k == "RATECARD_PURE_PYTHON"},
    }
    process = subprocess.Popen(
        ["bash", "-c", command],
        cwd=REPO,
        env=clean_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/api/models/gpt-4o", timeout=2)
            except httpx.TransportError:
                status = None
            if status is not None and status.status_code == 200:
                break
            time.sleep(0.2)
        assert status is not None and status.status_code == 200, "make run did not serve"
        assert status.json()["id"] == "gpt-4o"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode(errors="replace")
    assert f"Listening at: http://127.0.0.1:{port}" in output, output[-2000:]


# --- the local fleet ---------------------------------------------------------------------


def consecutive_free_ports(count: int) -> int:
    """The first of `count` consecutive ports nothing listens on (the fleet's --base-port)."""
    for _ in range(50):
        base = free_port()
        if all(_port_free(base + i) for i in range(1, count)):
            return base
    raise RuntimeError("no run of free ports")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_the_local_fleet_walkthrough(tmp_path: Path) -> None:
    base = consecutive_free_ports(3)
    database = f"rc_readme_{uuid.uuid4().hex[:10]}"
    prefix = f"rctest:{uuid.uuid4().hex[:10]}:"
    first = runnable(block("git clone")).replace("ratecard_local", database)
    first = first.replace("--base-port 8001", f"--base-port {base}")
    setup, _, fleet_command = first.rstrip("\n").rpartition("\n")
    assert fleet_command.startswith(".venv/bin/ratecard fleet"), fleet_command
    exports = "\n".join(line for line in setup.splitlines() if line.startswith("export "))
    # The test's own Redis keys: the README's fleet uses the default prefix.
    exports += f"\nexport RATECARD_REDIS_PREFIX={prefix}"
    log = tmp_path / "fleet.log"
    fleet: subprocess.Popen[bytes] | None = None
    try:
        bash(setup + "\n" + exports, env={}, cwd=REPO, timeout=120)
        with log.open("wb") as out:
            fleet = subprocess.Popen(
                ["bash", "-c", f"{exports}\nexec {fleet_command}"],
                cwd=REPO,
                env=clean_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        pids = wait_for(log, r"fleet-\d listening on \S+ \(pid (\d+)\)", count=3, timeout=90)
        # A reader looks once the first refresh has loaded the catalog (the bundled snapshot,
        # offline): the third instance serves gpt-4o.
        wait_serving(f"http://127.0.0.1:{base + 2}/api/models/gpt-4o", timeout=90)
        second = block("curl -s http://127.0.0.1:8002")
        second = second.replace(":8002/", f":{base + 1}/").replace(":8003/", f":{base + 2}/")
        second = second.replace("<pid>", pids[-1])
        printed = bash(exports + "\n" + strict_curl(second), env={}, cwd=REPO, timeout=60)
        ready, model = json_values(printed.split("backend:", 1)[0])
        assert ready["status"] in ("pass", "warn") and model["id"] == "gpt-4o"
        assert "backend:" in printed, "worker --status printed its status"
        wait_for(log, r"fleet-3 exited with code -9 \(not restarted\)", count=1, timeout=30)
    finally:
        if fleet is not None:
            os.killpg(fleet.pid, signal.SIGINT)  # Ctrl-C
            fleet.wait(timeout=60)
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        client = redis.Redis.from_url(REDIS_URL)
        delete_keys(client, prefix)
        client.close()
    assert "fleet stopped" in log.read_text(errors="replace")


def wait_for(log: Path, pattern: str, *, count: int, timeout: float) -> list[str]:
    """Wait until `pattern` has matched `count` times in the log; what each match captured."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m.group(m.lastindex or 0) for m in re.finditer(pattern, log.read_text())]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{pattern!r} not seen:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)


def wait_serving(url: str, timeout: float) -> None:
    """Wait until `url` answers 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} not served after {timeout} s"
        time.sleep(0.2)

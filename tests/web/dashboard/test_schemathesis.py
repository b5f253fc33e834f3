"""schemathesis 4 against /openapi.json of a running instance with a real catalog.

`st run --checks all` with every phase (examples, coverage, fuzzing, stateful): no request it
generates may get a server error, an undocumented status or body, a schema-valid request
refused or a schema-violating one accepted. The run is the real CLI, as a developer would
type it; its summary line is printed (`pytest -s`) for the record.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.web.dashboard.conftest import ADMIN_TOKEN, Fleet

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 40  # per operation and phase: bounded, so the suite stays fast
SEED = 1  # the same cases every run: a failure here is reproducible with the same command
PHASES = ("Examples", "Coverage", "Fuzzing", "Stateful")


@pytest.mark.slow
def test_api_matches_its_openapi_document_under_every_check_and_phase(
    fleet: Fleet, tmp_path: Path
) -> None:
    base = fleet.instance.base_url
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--request-timeout",
        "10",
    ]
    env = dict(os.environ, RATECARD_ST_ADMIN_TOKEN=ADMIN_TOKEN)
    # cwd: schemathesis keeps a crash cache (.schemathesis/) in its working directory.
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path
    )
    output = result.stdout + result.stderr
    summary = [line for line in output.splitlines() if re.match(r"^=+ .* in [\d.]+s =+$", line)]
    cases = re.search(r"^\s*(\d+ generated.*)$", output, re.M)
    print(
        "\nschemathesis:",
        summary[-1] if summary else "(no summary line)",
        "|",
        cases.group(1) if cases else "",
    )

    warnings = (
        output.split("= WARNINGS =", 1)[-1].split("= SUMMARY =", 1)[0]
        if "= WARNINGS =" in output
        else ""
    )
    print("schemathesis warnings:", " ".join(warnings.split())[:400] or "none")
    failures = output.split("= FAILURES =", 1)[-1].split("= WARNINGS =", 1)[0]
    # Long generated URLs would bury the findings: shorten percent-encoded runs.
    assert result.returncode == 0, re.sub(r"(%[0-9A-F]{2}){20,}", "%…", failures)[-12000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    assert selected and int(selected.group(1)) >= 9, "every /api and /admin operation"
    for phase in PHASES:
        assert re.search(rf"✅ {phase}\b", output), f"phase {phase} did not run and pass"


def test_a_long_request_line_is_answered_as_documented_json(fleet: Fleet) -> None:
    import http.client
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(fleet.instance.base_url)

    def get(path: str) -> tuple[int, str, dict[str, str]]:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return (
                response.status,
                response.getheader("Content-Type") or "",
                json.loads(response.read()),
            )
        finally:
            conn.close()

    # The longest id the document allows, percent-encoded 4-byte UTF-8: ~6 KB, under the limit.
    status, content_type, body = get("/api/models/" + "%F3%A9%BF%B3" * 512 + "/history")
    assert status == 404 and content_type == "application/json", (status, body)
    # Over gunicorn's 8190-byte request line: its 414, in the API's JSON error shape.
    status, content_type, body = get("/api/models/" + "x" * 9000)
    assert status == 414 and content_type == "application/json"
    assert body["error"] == "uri_too_long" and body["field"] == "url"

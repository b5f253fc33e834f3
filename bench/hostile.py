"""CPU seconds per rejected 1 MB POST /api/cost body, against a valid request.

    .venv/bin/python bench/hostile.py [--repeat 20]

Runs the app in-process (Flask test client) on a temporary SQLite database loaded from the
bundled LiteLLM snapshot, and measures process CPU time (not wall time: the machine is
shared) per request for: a valid cost request, and three 1 MB bodies the API rejects (~90,000
unknown keys, one huge unknown value, ~90,000 duplicate keys). Prints each figure and its ratio
to the valid request. Before the keys were checked first, the unknown-keys body cost ~0.6 s here (~1.3 s on the
probed host: pydantic built an error per key, twice) and duplicate keys were accepted (200);
after, ~35 ms: a plain JSON parse and a look at the keys, proportional to the body's size.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

from flask.testing import FlaskClient

REPO = Path(__file__).resolve().parents[1]
FEED = REPO / "src" / "ratecard" / "ingest" / "data" / "litellm_snapshot.json"
MB = 1024 * 1024
VALID = {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500}


def unknown_keys_body() -> bytes:
    """~90,000 short unknown keys beside a valid request, just under 1 MB."""
    parts = [json.dumps(VALID)[1:-1]]
    size, n = len(parts[0]), 0
    while size < MB - 64:
        item = f'"k{n}":1'
        parts.append(item)
        size += len(item) + 1
        n += 1
    return ("{" + ",".join(parts) + "}").encode()


def duplicate_keys_body() -> bytes:
    """One valid key repeated until the body is ~1 MB."""
    item = '"input_tokens":1'
    count = (MB - 64) // (len(item) + 1)
    return ('{"model":"gpt-4o","output_tokens":1,' + ",".join([item] * count) + "}").encode()


def huge_value_body() -> bytes:
    return json.dumps({**VALID, "x": "a" * (MB - 100)}).encode()


def build_client(directory: Path) -> FlaskClient:
    from ratecard.app import create_app
    from ratecard.ingest.refresh import refresh_catalog
    from ratecard.migrations.upgrade import Migrator
    from ratecard.settings import Settings
    from ratecard.web.state import get_state

    url = f"sqlite:///{directory / 'bench.sqlite3'}"
    Migrator(url, echo=lambda _line: None).upgrade(wait=30)
    settings = Settings.from_env(
        {
            "DATABASE_URL": url,
            "RATECARD_SOURCES": f"litellm=file://{FEED}",
            "RATECARD_COORDINATOR": "false",
            "RATECARD_LOG_FORMAT": "json",
        }
    )
    app = create_app(settings)
    refresh_catalog(get_state(app).need_refresh_deps())
    return app.test_client()


def cpu_per_call(call: Callable[[], int], repeat: int) -> tuple[float, int]:
    """Median process CPU seconds of `call`, and the status it answered."""
    samples, status = [], 0
    for _ in range(repeat):
        start = time.process_time()
        status = call()
        samples.append(time.process_time() - start)
    return median(samples), status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="requests per case (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        client = build_client(Path(tmp))
        headers = {"Content-Type": "application/json"}

        def post(body: bytes) -> Callable[[], int]:
            return lambda: client.post("/api/cost", data=body, headers=headers).status_code

        valid = json.dumps(VALID).encode()
        post(valid)()  # first request loads pydantic and the schemas: not measured
        base, status = cpu_per_call(post(valid), args.repeat)
        print(f"valid request:               {base * 1000:8.2f} ms CPU  (HTTP {status})")
        cases = [
            ("1 MB, ~90,000 unknown keys", unknown_keys_body()),
            ("1 MB, ~60,000 duplicate keys", duplicate_keys_body()),
            ("1 MB, one huge unknown value", huge_value_body()),
        ]
        for name, body in cases:
            cost, status = cpu_per_call(post(body), args.repeat)
            ratio = cost / base
            print(f"{name + ':':29}{cost * 1000:8.2f} ms CPU  (HTTP {status}, {ratio:.0f}x valid)")


if __name__ == "__main__":
    main()

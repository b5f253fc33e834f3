"""Lines/s of POST /api/cost/batch whose lines each carry their own `at`, beside the same lines
without it, in one run (target: with `at` >= half the rate without).

    .venv/bin/python bench/batch_at.py [--lines 20000] [--rounds 3]

Loads the bundled LiteLLM snapshot into its own PostgreSQL database and Redis prefix (both
removed at the end) and starts ratecard under gunicorn. The workload: `--lines` flat-count
lines over the snapshot's priced chat models; the `at` body gives every line its own instant
(microseconds apart, after the catalog was loaded, so each finds the price in force then).
Rounds alternate the two bodies; each answer is checked (no error line). Prints:

    lines without at :  150000 lines/s
    lines with at    :   90000 lines/s
    ratio at / plain :     0.60  (target >= 0.5)
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from bench.api import start_gunicorn, stop, wait_ready  # noqa: E402
from bench.cost_batch import priced_models  # noqa: E402
from bench.support import free_port, scratch_catalog  # noqa: E402


def bodies(url: str, lines: int, loaded: datetime) -> tuple[bytes, bytes]:
    """The same lines as NDJSON without and with a distinct `at` each."""
    rng = random.Random(7)
    models = [m.model_id for m in priced_models(url)]
    plain, dated = [], []
    for i in range(lines):
        line = {
            "model": rng.choice(models),
            "input_tokens": rng.randrange(1, 200_000),
            "output_tokens": rng.randrange(1, 20_000),
        }
        plain.append(json.dumps(line))
        at = loaded + timedelta(microseconds=i)
        dated.append(json.dumps({**line, "at": at.isoformat().replace("+00:00", "Z")}))
    return ("\n".join(plain) + "\n").encode(), ("\n".join(dated) + "\n").encode()


def post(port: int, body: bytes) -> tuple[float, int]:
    """Seconds from the first byte sent to the last byte read, and the error lines."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request(
        "POST", "/api/cost/batch", body=body, headers={"Content-Type": "application/x-ndjson"}
    )
    response = conn.getresponse()
    answer = response.read()
    seconds = time.perf_counter() - started
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"batch answered {response.status}: {answer[:300]!r}")
    errors = sum(
        1 for line in answer.splitlines() if b'"status"' in line and b'"total"' not in line
    )
    return seconds, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with scratch_catalog() as env:
        # A moment after the load: every instant of the dated body finds the loaded prices.
        loaded = datetime.now(UTC) + timedelta(seconds=1)
        plain, dated = bodies(env["DATABASE_URL"], args.lines, loaded)
        time.sleep(max(0.0, (loaded - datetime.now(UTC)).total_seconds() + 0.2))
        port = free_port()
        process = start_gunicorn("python:ratecard.gunicorn_conf", "ratecard.wsgi:app", port, env)
        rates: dict[str, list[float]] = {"plain": [], "at": []}
        try:
            wait_ready(port, "/health/ready")
            post(port, plain)  # warm-up: the catalog, the batch pricer's imports
            post(port, dated)
            for _ in range(args.rounds):
                for label, body in (("plain", plain), ("at", dated)):
                    seconds, errors = post(port, body)
                    if errors:
                        raise RuntimeError(f"{errors} error lines in the {label} body")
                    rates[label].append(args.lines / seconds)
        finally:
            stop(process)
    plain_rate, at_rate = statistics.median(rates["plain"]), statistics.median(rates["at"])
    print(f"{args.lines} lines per body, median of {args.rounds} alternating rounds")
    print(f"lines without at : {plain_rate:8.0f} lines/s")
    print(f"lines with at    : {at_rate:8.0f} lines/s")
    print(f"ratio at / plain : {at_rate / plain_rate:8.2f}  (target >= 0.5)")


if __name__ == "__main__":
    main()

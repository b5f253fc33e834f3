"""The in-process client: `Pricer.cost()` per call, against LiteLLM's `cost_per_token` and
genai-prices' `calc_price` in the same run (target: >= 10x the faster), and what a sync of the
whole catalog costs (bytes, time, and a 304 when nothing changed).

    .venv/bin/python bench/client.py [--seconds 3] [--rounds 3] [--anchor-seconds 3]

Loads the bundled LiteLLM snapshot into its own PostgreSQL database and Redis prefix (removed
at the end), starts ratecard under gunicorn and connects a Pricer to it over HTTP. The cost
workload is a mix, cycled: flat counts on the snapshot's priced chat models (random counts,
cache reads where priced) and the real provider bodies of tests/data/responses whose model the
snapshot prices (OpenAI, Anthropic, Gemini, Bedrock, ... as returned), each call a whole
`cost()` (parse, resolve, price, the answer). The anchors run in the conformance venv
(bench/anchors/litellm_genai_rates.py, the same as bench/cost_batch.py's). Prints:

    catalog copy, gzip         :   171234 bytes (2982 models; 2154321 bytes uncompressed)
    first sync (connect)       :    0.312 s
    sync, nothing changed      :    0.0012 s (304)
    cost() in-process          :    30000 calls/s (2000 requests: 1964 flat, 36 bodies)
    cost() of provider bodies  :    25000 calls/s (the 36 bodies alone)
    anchor (faster of the two) :     2500 calls/s
    ratio cost() / anchor      :     12.0  (target >= 10)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from bench.api import start_gunicorn, stop, wait_ready  # noqa: E402
from bench.cost_batch import add_anchor_options, priced_models, print_anchors  # noqa: E402
from bench.support import free_port, scratch_catalog  # noqa: E402

RESPONSES = REPO / "tests" / "data" / "responses"


def workload(pricer: Any, models: list[Any], count: int) -> tuple[list[dict[str, Any]], int]:
    """`count` cost() keyword sets: every recorded body the catalog prices, then flat counts."""
    from ratecard.errors import RatecardError

    bodies = []
    for path in sorted(RESPONSES.glob("*/*.json")):
        if path.name.endswith(".expected.json"):
            continue
        request = {"response": json.loads(path.read_text())}
        try:
            pricer.cost(**request)
        except RatecardError:
            continue  # its model is not in the bundled snapshot
        bodies.append(request)
    rng = random.Random(11)
    flat = []
    for _ in range(max(0, count - len(bodies))):
        model = rng.choice(models)
        request = {
            "model": model.model_id,
            "input_tokens": rng.randint(1, 150_000),
            "output_tokens": rng.randint(0, 8_000),
        }
        if model.cache_read_per_token is not None:
            request["cache_read_tokens"] = rng.randint(0, 50_000)
        flat.append(request)
    mixed = flat + bodies
    rng.shuffle(mixed)
    return mixed, len(bodies)


def best_rate(pricer: Any, requests: list[dict[str, Any]], seconds: float, rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        calls = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            for request in requests:
                pricer.cost(**request)
            calls += len(requests)
        best = max(best, calls / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one timed round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best one is reported")
    parser.add_argument("--requests", type=int, default=2000, help="requests in the cycled mix")
    add_anchor_options(parser, "ratecard's figures alone")
    args = parser.parse_args()

    import httpx

    from ratecard.client import COPY_PATH, Pricer

    with scratch_catalog() as env:
        models = priced_models(env["DATABASE_URL"])
        port = free_port()
        process = start_gunicorn("python:ratecard.gunicorn_conf", "ratecard.wsgi:app", port, env)
        try:
            wait_ready(port, "/health/ready")
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url) as http:
                plain = http.get(COPY_PATH, headers={"Accept-Encoding": "identity"}).content
                with http.stream("GET", COPY_PATH, headers={"Accept-Encoding": "gzip"}) as z:
                    zipped = b"".join(z.iter_raw())
            started = time.perf_counter()
            pricer = Pricer.connect(url, refresh_every=3600)
            connect_seconds = time.perf_counter() - started
            syncs = []
            for _ in range(20):
                started = time.perf_counter()
                moved = pricer.sync()
                syncs.append(time.perf_counter() - started)
                assert not moved and pricer.last_sync_error is None
            requests, with_bodies = workload(pricer, models, args.requests)
            rate = best_rate(pricer, requests, args.seconds, args.rounds)
            bodies = [r for r in requests if "response" in r]
            body_rate = best_rate(pricer, bodies, args.seconds, args.rounds)
            pricer.close()
        finally:
            stop(process)
    count = len(json.loads(plain)["models"])
    print(
        f"catalog copy, gzip         : {len(zipped):9d} bytes ({count} models; "
        f"{len(plain)} bytes uncompressed)"
    )
    print(f"first sync (connect)       : {connect_seconds:9.3f} s")
    print(
        f"sync, nothing changed      : {sorted(syncs)[len(syncs) // 2]:9.4f} s (304, median of 20)"
    )
    print(
        f"cost() in-process          : {rate:9.0f} calls/s ({len(requests)} requests: "
        f"{len(requests) - with_bodies} flat, {with_bodies} provider bodies)"
    )
    print(f"cost() of provider bodies  : {body_rate:9.0f} calls/s (the {with_bodies} bodies alone)")
    anchor = print_anchors(args)
    if anchor is None:
        return
    print(f"ratio cost() / anchor      : {rate / anchor:9.1f}  (target >= 10)")


if __name__ == "__main__":
    main()

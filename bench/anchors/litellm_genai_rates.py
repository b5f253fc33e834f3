"""In-process pricing rates of LiteLLM's `cost_per_token` and genai-prices' `calc_price`.

    python3.11 bench/anchors/litellm_genai_rates.py [--seconds 5] [--rounds 3]

The anchors for the batch figure ("≥ 10x the faster of the two"). Runs inside the
conformance venv (conformance/.venv, built from conformance/requirements.txt with hashes; it
re-executes itself there), never in ratecard's: neither library is a runtime or test dependency.
Not listed in bench/all.py's SCRIPTS (that table runs only the scripts it names), so `make bench`
is unchanged until the batch benchmark adds it on purpose.

Workload: the golden cases' `cost_per_token` calls (tests/data/conformance/litellm_cases.jsonl.gz),
priced in a loop with LiteLLM's model map replaced by the snapshot — the same calls the
conformance check replays. genai-prices prices the same usage counts with its own bundled prices
(it has no way to take the snapshot), for the models it knows; the others are skipped and
counted. Prints one line per library:

    litellm cost_per_token      :   12345 calls/s  (N cases, best of R rounds of S s)
    genai-prices calc_price     :   23456 calls/s  (N cases, best of R rounds of S s)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "data" / "conformance" / "litellm_cases.jsonl.gz"

if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "conformance"))
    from bootstrap import reexec_in_venv

    reexec_in_venv(str(Path(__file__).resolve()))

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_RUST"] = "false"  # Python code paths only, as in generate.py


def best_rate(fn: Any, items: list[Any], seconds: float, rounds: int) -> float:
    """Calls per second, best of `rounds` timed loops over `items` (cycled) of `seconds` each."""
    best = 0.0
    for _ in range(rounds):
        calls = 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            for item in items:
                fn(item)
            calls += len(items)
        best = max(best, calls / (time.perf_counter() - start))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one timed round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best one is reported")
    parser.add_argument("--limit", type=int, default=2000, help="cases per loop (a varied mix)")
    args = parser.parse_args()

    import genai_prices
    import litellm
    from litellm.types.utils import Usage

    sys.path.insert(0, str(REPO / "conformance"))
    from generate import load_snapshot

    snap_float, _ = load_snapshot()
    litellm.model_cost = snap_float
    litellm.suppress_debug_info = True

    cases = [json.loads(line) for line in gzip.decompress(CASES.read_bytes()).splitlines()]
    token_cases = [
        c
        for c in cases
        if c["call"]["function"] == "cost_per_token" and "usage_object" in c["call"]["kwargs"]
    ]
    # Every k-th case: all dimensions and providers in the loop, not the first models only.
    step = max(1, len(token_cases) // args.limit)
    chosen = token_cases[::step][: args.limit]

    # Build the usage objects outside the timed loop: a caller holds a usage already.
    lite_items = []
    for case in chosen:
        kwargs = dict(case["call"]["kwargs"])
        kwargs["usage_object"] = Usage(**kwargs["usage_object"])
        lite_items.append(kwargs)

    def lite(kwargs: dict[str, Any]) -> None:
        litellm.cost_per_token(**kwargs)

    genai_items = []
    skipped = 0
    for case in chosen:
        u = case["usage"]
        usage = genai_prices.Usage(
            input_tokens=u.get("input_tokens", 0)
            + u.get("cache_read_tokens", 0)
            + u.get("cache_write_tokens", 0)
            + u.get("cache_write_1h_tokens", 0)
            + u.get("audio_input_tokens", 0),
            cache_read_tokens=u.get("cache_read_tokens") or None,
            cache_write_tokens=(u.get("cache_write_tokens", 0) + u.get("cache_write_1h_tokens", 0))
            or None,
            output_tokens=u.get("output_tokens", 0)
            + u.get("reasoning_tokens", 0)
            + u.get("audio_output_tokens", 0),
        )
        model = case["model"].split("/")[-1]
        try:
            genai_prices.calc_price(usage, model_ref=model)
        except Exception:  # genai-prices does not know this model: not part of its loop
            skipped += 1
            continue
        genai_items.append((usage, model))

    def genai(item: tuple[Any, str]) -> None:
        genai_prices.calc_price(item[0], model_ref=item[1])

    lite_rate = best_rate(lite, lite_items, args.seconds, args.rounds)
    genai_rate = best_rate(genai, genai_items, args.seconds, args.rounds)
    rounds = f"best of {args.rounds} rounds of {args.seconds:g} s"
    print(
        f"litellm cost_per_token      : {lite_rate:9.0f} calls/s  ({len(lite_items)} cases, {rounds})"
    )
    print(
        f"genai-prices calc_price     : {genai_rate:9.0f} calls/s  ({len(genai_items)} cases,"
        f" {skipped} models unknown to it skipped, {rounds})"
    )
    print(f"anchor (faster of the two)  : {max(lite_rate, genai_rate):9.0f} calls/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

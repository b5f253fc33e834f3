"""Results/s of POST /api/cost/batch: 100,000 varied requests in ONE NDJSON body from one
client, against the in-process rates of LiteLLM's `cost_per_token` and genai-prices'
`calc_price` measured in the same run (target: >= 10x the faster of the two).

    .venv/bin/python bench/cost_batch.py [--requests 100000] [--rounds 5] [--no-anchors]

Loads the bundled LiteLLM snapshot (2,982 real models) into its own PostgreSQL database and
Redis key prefix (both removed at the end), starts ratecard under gunicorn as `ratecard serve`
does (one worker: see measure()), sends the whole body once to warm it, then sends it
`--rounds` times with Content-Length, each on its own connection; the time runs from the first
byte sent to the last byte of the answer, and each round's figure is printed. The requests use every priced chat model
of the snapshot, with random counts (so no two lines are likely equal), as flat counts and as
each provider format's usage block and whole response. Every result is checked: no error object, and its total equal to `price_usage` on
the same Usage computed here in-process. Then bench/anchors/litellm_genai_rates.py runs in the
conformance venv (python3.11 conformance/bootstrap.py builds it); without it the batch figure
is printed alone, saying why. Prints:

    ratecard POST /api/cost/batch : 95000 results/s  (100000 requests, ...)
    anchor (faster of the two)    :  9000 calls/s
    ratio batch / anchor          :  10.6  (target >= 10)
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

import orjson  # noqa: E402

from bench.api import start_gunicorn, stop, wait_ready  # noqa: E402
from bench.support import free_port, scratch_catalog  # noqa: E402
from ratecard.costing.usage import Usage  # noqa: E402

ANCHORS = REPO / "bench" / "anchors" / "litellm_genai_rates.py"
SEED = 12


# --- the workload ----------------------------------------------------------------------------


def priced_models(url: str) -> list[Any]:
    """The served chat models with input and output prices (ModelPrice), from the database."""
    from ratecard.db import build_engine
    from ratecard.serving.catalog_cache import newest_snapshot

    engine = build_engine(url)
    try:
        with engine.connect() as conn:
            snapshot = newest_snapshot(conn)
    finally:
        engine.dispose()
    return [
        served.price
        for served in snapshot.models
        if served.price.status == "priced"
        and served.price.input_per_token is not None
        and served.price.output_per_token is not None
        and served.price.mode in (None, "chat", "responses", "completion")
    ]


def random_usage(rng: random.Random, model: Any) -> Usage:
    """Varied counts of what the model has prices for (cache reads and writes when it has)."""
    return Usage(
        input_tokens=rng.randint(1, 150_000),
        output_tokens=rng.randint(0, 8_000),
        cache_read_tokens=rng.randint(0, 50_000) if model.cache_read_per_token else 0,
        cache_write_tokens=rng.randint(0, 5_000) if model.cache_write_per_token else 0,
    )


def flat(model_id: str, usage: Usage) -> dict[str, Any]:
    return {"model": model_id, **usage.nonzero()}


def openai_chat_usage(usage: Usage) -> dict[str, Any]:
    prompt = usage.input_tokens + usage.cache_read_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def anthropic_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }


def gemini_usage(usage: Usage) -> dict[str, Any]:
    prompt = usage.input_tokens + usage.cache_read_tokens
    return {
        "promptTokenCount": prompt,
        "cachedContentTokenCount": usage.cache_read_tokens,
        "candidatesTokenCount": usage.output_tokens,
        "totalTokenCount": prompt + usage.output_tokens,
    }


def bedrock_usage(usage: Usage) -> dict[str, Any]:
    total = (
        usage.input_tokens + usage.output_tokens + usage.cache_read_tokens
        + usage.cache_write_tokens
    )  # fmt: skip
    return {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "cacheReadInputTokens": usage.cache_read_tokens,
        "cacheWriteInputTokens": usage.cache_write_tokens,
        "totalTokens": total,
    }


def provider_forms(model_id: str, usage: Usage) -> list[dict[str, Any]]:
    """The same usage as each format's usage block and whole response (what the format can
    say: no cache writes in OpenAI's or Gemini's counts)."""
    forms: list[dict[str, Any]] = []
    if not usage.cache_write_tokens:
        chat = openai_chat_usage(usage)
        forms.append({"model": model_id, "format": "openai.chat", "usage": chat})
        forms.append(
            {
                "response": {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion",
                    "model": model_id,
                    "choices": [],
                    "usage": chat,
                    "service_tier": "default",
                }
            }
        )
        gemini = gemini_usage(usage)
        forms.append({"model": model_id, "format": "gemini", "usage": gemini})
        forms.append({"response": {"modelVersion": model_id, "usageMetadata": gemini}})
    claude = anthropic_usage(usage)
    forms.append({"model": model_id, "format": "anthropic", "usage": claude})
    forms.append(
        {"response": {"id": "msg_bench", "type": "message", "model": model_id, "usage": claude}}
    )
    forms.append({"model": model_id, "format": "bedrock", "usage": bedrock_usage(usage)})
    return forms


def build_requests(models: list[Any], count: int) -> list[tuple[bytes, Any, Usage]]:
    """`count` (NDJSON line, model, Usage it states): a third in provider forms."""
    rng = random.Random(SEED)
    out = []
    for index in range(count):
        model = models[index % len(models)]
        usage = random_usage(rng, model)
        body = flat(model.model_id, usage)
        if index % 3 == 2:
            body = rng.choice(provider_forms(model.model_id, usage))
        out.append((orjson.dumps(body), model, usage))
    rng.shuffle(out)
    return out


def expected_totals(requests: list[tuple[bytes, Any, Usage]]) -> list[Decimal]:
    """Each request's total from `price_usage` in this process (the independent check)."""
    from ratecard.costing.cost import price_usage

    return [price_usage(model, usage).total for _line, model, usage in requests]


# --- the measurement -------------------------------------------------------------------------


def post_batch(port: int, body: bytes) -> tuple[float, bytes]:
    """Send one NDJSON body; return (seconds from first byte sent to last byte read, answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        started = time.perf_counter()
        conn.request(
            "POST", "/api/cost/batch", body=body, headers={"Content-Type": "application/x-ndjson"}
        )
        response = conn.getresponse()
        answer = response.read()
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"batch answered {response.status}: {answer[:300]!r}")
    return seconds, answer


def check(answer: bytes, expected: list[Decimal]) -> int:
    """Raise unless every result is a priced answer with exactly the expected total."""
    lines = answer.splitlines()
    if len(lines) != len(expected):
        raise RuntimeError(f"{len(lines)} results for {len(expected)} requests")
    for number, (line, total) in enumerate(zip(lines, expected, strict=True), start=1):
        result = orjson.loads(line)
        if "line" in result or Decimal(result["total"]) != total:
            raise RuntimeError(f"request {number}: {result} (expected total {total})")
    return len(lines)


def run_anchors(seconds: float, rounds: int) -> tuple[list[str], float | None, str | None]:
    """The anchor script's lines and its faster rate, or why it could not run."""
    python = os.environ.get("CONFORMANCE_PYTHON") or "python3.11"
    argv = [python, str(ANCHORS), "--seconds", f"{seconds:g}", "--rounds", str(rounds)]
    try:
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [], None, f"{type(exc).__name__}: {exc}"
    lines = done.stdout.strip().splitlines()
    found = re.search(r"anchor \(faster of the two\)\s*:\s*([\d.]+) calls/s", done.stdout)
    if done.returncode != 0 or found is None:
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        return lines, None, f"exit {done.returncode}: {' | '.join(tail)}"
    return lines, float(found.group(1)), None


def add_anchor_options(parser: argparse.ArgumentParser, alone: str) -> None:
    """The anchors' options (bench/anchors/litellm_genai_rates.py), `alone` the help of
    --no-anchors."""
    parser.add_argument("--anchor-seconds", type=float, default=3.0)
    parser.add_argument("--anchor-rounds", type=int, default=2)
    parser.add_argument("--no-anchors", action="store_true", help=alone)


def print_anchors(args: argparse.Namespace) -> float | None:
    """Run the anchors (unless --no-anchors), print their lines, and return the faster rate;
    None, with a line saying why, when they could not run."""
    if args.no_anchors:
        return None
    lines, anchor, problem = run_anchors(args.anchor_seconds, args.anchor_rounds)
    for line in lines:
        print(line)
    if anchor is None:
        print(f"anchors unavailable ({problem}); build them: python3.11 conformance/bootstrap.py")
    return anchor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000, help="requests in the body")
    parser.add_argument("--rounds", type=int, default=5, help="bodies sent; the best is reported")
    add_anchor_options(parser, "the batch figure alone")
    args = parser.parse_args()
    figures: dict[str, float] = {}

    def measure(env: dict[str, str]) -> None:
        models = priced_models(env["DATABASE_URL"])
        requests = build_requests(models, args.requests)
        body = b"\n".join(line for line, _model, _usage in requests) + b"\n"
        expected = expected_totals(requests)
        port = free_port()
        # One worker: a batch is priced by the worker that takes it (and its child), so the
        # worker count does not change its speed, only which worker's per-model answer texts
        # are warm; with one, the warm-up below warms the worker every round is sent to.
        served = {**env, "WEB_CONCURRENCY": "1"}
        server = start_gunicorn("python:ratecard.gunicorn_conf", "ratecard.wsgi:app", port, served)
        try:
            wait_ready(port, "/api/models/gpt-4o")
            post_batch(port, body)  # warm-up: every model's answer text built, as in service
            best = 0.0
            for _ in range(args.rounds):
                seconds, answer = post_batch(port, body)
                checked = check(answer, expected)
                print(f"  one round                     : {checked / seconds:9.0f} results/s")
                best = max(best, checked / seconds)
        finally:
            stop(server)
        figures["batch"] = best
        print(
            f"ratecard POST /api/cost/batch : {best:9.0f} results/s  ({args.requests} requests "
            f"of {len({m.model_id for _l, m, _u in requests})} models, flat counts and every "
            f"provider format; one body of "
            f"{len(body) / 1e6:.1f} MB from one client; all {checked} totals equal price_usage "
            f"in-process; best of {args.rounds})"
        )

    with scratch_catalog() as env:
        measure(env)
    anchor = print_anchors(args)
    if anchor is None:
        return 0
    print(f"ratio batch / anchor          : {figures['batch'] / anchor:9.1f}  (target >= 10)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

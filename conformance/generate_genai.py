"""Generate the genai-prices conformance golden file: genai-prices' own `calc_price` on the
repository's snapshot of its data file, for every model it prices.

    python3.11 conformance/generate_genai.py [--seed 20260725] [--out FILE.jsonl.gz]

Re-runs itself inside conformance/.venv (the pinned genai-prices of requirements.txt; see
bootstrap.py), replaces genai-prices' bundled data with tests/data/genai_prices_2026-07-25.json
(`set_custom_snapshot`), and writes one JSON object a line:

    {"model": "<provider>/<model>", "at": RFC 3339 UTC, "usage": {ratecard's disjoint counts},
     "genai": {"input", "output", "total"}   (genai-prices' Decimals, as text)}

Each model gets a few usages of the dimensions it prices (uncached text input, cache reads and
writes, audio in and out, output; one request), a prompt past its first tier when it has one,
at three instants: inside and outside DeepSeek's daily window, and before the dated prices of
2025-06-10 and 2026-03-13 took effect; a model with a dated list also at each start's first
instant and the second before it (2026-09-01's, still ahead of the snapshot's day, included).
genai-prices' counts are inclusive (its `input_tokens` holds cached and audio input;
`cache_read_tokens` and `input_audio_tokens` their own parts), ratecard's are disjoint: the
usage is drawn disjoint and summed for genai-prices.
Deterministic for a seed (an RNG per model, sorted models, gzip mtime 0).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SNAPSHOT = REPO / "tests" / "data" / "genai_prices_2026-07-25.json"
DEFAULT_OUT = REPO / "tests" / "data" / "conformance" / "genai_prices_cases.jsonl.gz"
DEFAULT_LOOKUPS = REPO / "tests" / "data" / "conformance" / "genai_prices_lookups.jsonl.gz"
DATA = REPO / "tests" / "data"
DASHED_DATE = re.compile(r"-20\d{2}-\d{2}-\d{2}(?=-|:|$)")
INSTANTS = (
    "2026-07-25T12:00:00+00:00",  # inside DeepSeek's 00:30-16:30 UTC window
    "2026-07-25T20:00:00+00:00",  # outside it
    "2025-06-01T12:00:00+00:00",  # before o3's 2025-06-10 price and claude-opus-4-6's 2026-03-13
)
# genai-prices price key -> the ratecard quantity it prices (the disjoint part).
QUANTITY_OF = {
    "input_mtok": "input_tokens",
    "cache_read_mtok": "cache_read_tokens",
    "cache_write_mtok": "cache_write_tokens",
    "output_mtok": "output_tokens",
    "input_audio_mtok": "audio_input_tokens",
    "output_audio_mtok": "audio_output_tokens",
}

if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    from bootstrap import reexec_in_venv

    reexec_in_venv(str(Path(__file__).resolve()))


def start_edges(prices: Any) -> tuple[str, ...]:
    """For a dated price list, each start's first instant and the last second before it (a
    start still ahead of the snapshot's day included: the price scheduled for it)."""
    if not isinstance(prices, list):
        return ()
    edges: list[str] = []
    for conditional in prices:
        start = (conditional.get("constraint") or {}).get("start_date")
        if start:
            day = datetime.fromisoformat(f"{start}T00:00:00+00:00")
            edges += [day.isoformat(), (day - timedelta(seconds=1)).isoformat()]
    return tuple(edges)


def stated_keys(prices: Any) -> set[str]:
    """Every price key any of a model's price entries states."""
    entries = [p["prices"] for p in prices] if isinstance(prices, list) else [prices]
    return {key for entry in entries for key in entry}


def first_tier(prices: Any) -> int | None:
    entries = [p["prices"] for p in prices] if isinstance(prices, list) else [prices]
    starts = [
        tier["start"]
        for entry in entries
        for value in entry.values()
        if isinstance(value, dict)
        for tier in value["tiers"]
    ]
    return min(starts) if starts else None


def usages(rng: random.Random, keys: set[str], tier: int | None) -> list[dict[str, int]]:
    """A few disjoint usages of what the model prices (and one past its first tier)."""
    out = []
    for size in (1_000, 50_000, 180_000):
        usage = {
            quantity: rng.randint(1, size)
            for key, quantity in QUANTITY_OF.items()
            if key in keys and key != "input_mtok"
        }
        if "input_mtok" in keys:
            usage["input_tokens"] = rng.randint(1, size)
        out.append(usage)
    if tier is not None and "input_mtok" in keys:
        out.append({"input_tokens": tier + rng.randint(1, 50_000), "output_tokens": 1_000}
                   if "output_mtok" in keys else {"input_tokens": tier + 1})  # fmt: skip
        out.append({"input_tokens": tier})  # exactly at the start: the base price still
    return out


def genai_usage(types: Any, usage: dict[str, int]) -> Any:
    """ratecard's disjoint counts as genai-prices' inclusive ones."""
    cached = usage.get("cache_read_tokens", 0) + usage.get("cache_write_tokens", 0)
    audio_in = usage.get("audio_input_tokens", 0)
    audio_out = usage.get("audio_output_tokens", 0)
    return types.Usage(
        input_tokens=usage.get("input_tokens", 0) + cached + audio_in,
        cache_read_tokens=usage.get("cache_read_tokens") or None,
        cache_write_tokens=usage.get("cache_write_tokens") or None,
        input_audio_tokens=audio_in or None,
        output_tokens=usage.get("output_tokens", 0) + audio_out,
        output_audio_tokens=audio_out or None,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=20260725)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--lookups-out", type=Path, default=DEFAULT_LOOKUPS)
    args = parser.parse_args()

    import genai_prices
    from genai_prices import data_snapshot, types

    raw = json.loads(SNAPSHOT.read_text())
    providers = types._providers_from_raw(raw)  # what genai-prices' UpdatePrices.fetch uses
    data_snapshot.set_custom_snapshot(data_snapshot.DataSnapshot(providers, from_auto_update=False))

    lines: list[str] = []
    skipped: dict[str, int] = {}
    for provider in sorted(raw, key=lambda p: p["id"]):
        for model in sorted(provider["models"], key=lambda m: m["id"]):
            served = f"{provider['id']}/{model['id']}"
            keys = stated_keys(model["prices"])
            if not keys & set(QUANTITY_OF):
                skipped["no token price"] = skipped.get("no token price", 0) + 1
                continue
            digest = hashlib.sha256(f"{args.seed}:{served}".encode()).digest()
            rng = random.Random(int.from_bytes(digest[:8], "big"))
            for at in INSTANTS + start_edges(model["prices"]):
                when = datetime.fromisoformat(at).astimezone(UTC)
                for usage in usages(rng, keys, first_tier(model["prices"])):
                    try:
                        calc = genai_prices.calc_price(
                            genai_usage(types, usage),
                            model_ref=model["id"],
                            provider_id=provider["id"],
                            genai_request_timestamp=when,
                        )
                    except (LookupError, ValueError) as exc:
                        reason = type(exc).__name__
                        skipped[reason] = skipped.get(reason, 0) + 1
                        continue
                    if calc.model.id != model["id"]:
                        # Its id matched another model's clause first: not this model's price.
                        skipped["id matched another model"] = (
                            skipped.get("id matched another model", 0) + 1
                        )
                        continue
                    record = {
                        "model": served,
                        "at": at,
                        "usage": usage,
                        "genai": {
                            "input": str(calc.input_price),
                            "output": str(calc.output_price),
                            "total": str(calc.total_price),
                        },
                    }
                    lines.append(json.dumps(record, sort_keys=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    body = ("\n".join(lines) + "\n").encode()
    args.out.write_bytes(gzip.compress(body, mtime=0))
    print(f"genai-prices {genai_prices.__version__}: {len(lines)} cases written to {args.out}")
    for reason, count in sorted(skipped.items()):
        print(f"  skipped {count}: {reason}")
    write_lookups(args.lookups_out, raw)
    return 0


def lookup_refs(raw: Any) -> list[str]:
    """The ids asked of genai-prices' lookup: every id of the LiteLLM and OpenRouter snapshots
    in tests/data (as users type them: they name models in those vocabularies), every genai
    model's own id bare and upper-cased, and its id with a compact date where it has a dashed
    one (LiteLLM's `-20251211` spelling)."""
    refs: set[str] = set()
    for name in ("litellm_2026-07-24.json", "litellm_2026-03-14.json"):
        refs.update(k for k in json.loads((DATA / name).read_text()) if k != "sample_spec")
    openrouter = json.loads((DATA / "openrouter_models_2026-08-19.json").read_text())
    refs.update(m["id"] for m in openrouter["data"])
    for provider in raw:
        for model in provider["models"]:
            refs.update({model["id"], model["id"].upper()})
            refs.add(DASHED_DATE.sub(lambda m: "-" + m.group(0)[1:].replace("-", ""), model["id"]))
    return sorted(refs)


def write_lookups(out: Path, raw: Any) -> None:
    """genai-prices' own lookup (`find_provider_model`, no provider named) for each ref: the
    provider and model it finds, or null where it finds none."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    lines = []
    for ref in lookup_refs(raw):
        try:
            provider, model = snapshot.find_provider_model(ref, None, None, None)
            found: str | None = f"{provider.id}/{model.id}"
        except LookupError:
            found = None
        lines.append(json.dumps({"ref": ref, "found": found}, sort_keys=True))
    out.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    found_count = sum('"found": null' not in line for line in lines)
    print(f"  {len(lines)} lookups written to {out}, {found_count} found")


if __name__ == "__main__":
    raise SystemExit(main())

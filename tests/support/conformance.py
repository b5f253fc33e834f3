"""Replay the LiteLLM conformance golden file through ratecard's own engine.

    .venv/bin/python -m tests.support.conformance     # prints the table the README quotes

`tests/data/conformance/litellm_cases.jsonl.gz` (made by conformance/generate.py with LiteLLM
1.110.2 in its own venv; LiteLLM is not needed here) gives, per case, a model of the bundled
2026-07-24 snapshot, disjoint usage counts, the service tier and region, and `exact`: LiteLLM's
rule evaluated in Decimal on the snapshot's text. Every case lands in exactly one class:

- `exact`: ratecard's total equals `exact` to the last digit, and every component the golden
  file lists is priced by ratecard at the same price;
- `refused`: LiteLLM substitutes a price the model does not have (0, the input price for cache
  reads, $0.035 for Gemini grounding) and ratecard refuses instead (NotPriceable naming the
  price, a 422 in the API); the snapshot entry must indeed lack that price;
- `per_request_fee`: the model states `input_cost_per_request`, which LiteLLM never adds and
  ratecard does: the total is `exact` plus that fee;
- anything else is a failure.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ratecard.catalog.model import ModelPrice
from ratecard.costing.cost import Cost, NotPriceable, price_usage
from ratecard.costing.usage import usage_from_counts
from ratecard.ingest.feeds import litellm
from ratecard.ingest.feeds.parsing import load_json
from tests.support.services import FEED_DATA

GOLDEN = FEED_DATA / "conformance" / "litellm_cases.jsonl.gz"
SNAPSHOT = FEED_DATA / "litellm_2026-07-24.json"
# The snapshot keys (base or service-tier suffixed) whose absence makes ratecard refuse.
LITELLM_KEYS = {
    "input_per_token": "input_cost_per_token",
    "output_per_token": "output_cost_per_token",
    "cache_read_per_token": "cache_read_input_token_cost",
    "web_search": "search_context_cost_per_query",
}


@dataclass(frozen=True)
class Outcome:
    case: Mapping[str, Any]
    kind: str  # exact | refused | per_request_fee | failure
    detail: str = ""


def cases(path: Path = GOLDEN) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def snapshot() -> tuple[dict[str, ModelPrice], dict[str, Any]]:
    """The snapshot as ratecard parses it, and as raw JSON (to check what an entry lacks)."""
    body = SNAPSHOT.read_bytes()
    return litellm.parse("litellm", load_json("litellm", body)).models, json.loads(body)


def classify(case: Mapping[str, Any], model: ModelPrice, raw: Mapping[str, Any]) -> Outcome:
    usage = usage_from_counts(case["usage"])
    exact = Decimal(case["exact"])
    try:
        cost = price_usage(
            model, usage, service_tier=case["service_tier"], region=case.get("data_residency")
        )
    except NotPriceable as exc:
        key = LITELLM_KEYS.get(exc.price or "")
        tier = case["service_tier"]
        stated = key is not None and any(
            raw.get(k) is not None for k in (key, f"{key}_{tier}", f"{key}_batches")
        )
        if key is None or stated:
            return Outcome(case, "failure", f"refused although stated: {exc}")
        return Outcome(case, "refused", exc.price or "")
    if cost.total == exact:
        wrong = _component_mismatches(case, cost)
        return Outcome(case, "failure", wrong) if wrong else Outcome(case, "exact")
    fee = raw.get("input_cost_per_request")
    if fee is not None and cost.total == exact + Decimal(str(fee)) * max(usage.requests, 1):
        return Outcome(case, "per_request_fee")
    return Outcome(case, "failure", f"total {cost.total} != {exact}")


def _component_mismatches(case: Mapping[str, Any], cost: Cost) -> str:
    """Each component the golden file lists must be priced at the same price by ratecard."""
    ours: dict[str, Decimal] = {c.name: c.price for c in cost.components}
    for name, quantity, key, price in case["components"]:
        if quantity in ("0", 0):
            continue
        if ours.get(name) != Decimal(price):
            return f"{name} priced {ours.get(name)} by ratecard, {price} ({key}) in the golden file"
    return ""


def replay() -> list[Outcome]:
    models, raw = snapshot()
    return [classify(case, models[case["model"]], raw[case["model"]]) for case in cases()]


def report(outcomes: list[Outcome]) -> str:
    by_kind = Counter(o.kind for o in outcomes)
    litellm_agrees = sum(1 for o in outcomes if o.case["agrees"])
    litellm_wrong_we_exact = sum(1 for o in outcomes if not o.case["agrees"] and o.kind == "exact")
    lines = [
        f"cases: {len(outcomes)}",
        f"LiteLLM's float total agrees with the exact rule: {litellm_agrees}",
        f"ratecard exact (total and every component price): {by_kind['exact']}"
        f" (of which {litellm_wrong_we_exact} where LiteLLM itself is off)",
        f"refused, a price the model lacks (LiteLLM substitutes one): {by_kind['refused']}",
        f"per-request fee added (LiteLLM never adds it): {by_kind['per_request_fee']}",
        f"failures: {by_kind['failure']}",
        "refused by price: "
        + ", ".join(
            f"{price} {n}"
            for price, n in Counter(o.detail for o in outcomes if o.kind == "refused").items()
        ),
    ]
    by_dimension: dict[str, Counter[str]] = {}
    for o in outcomes:
        by_dimension.setdefault(o.case["dimension"], Counter())[o.kind] += 1
    lines.append(f"{'dimension':<22} {'cases':>6} {'exact':>6} {'refused':>8} {'fee':>4}")
    for dimension, kinds in sorted(by_dimension.items()):
        lines.append(
            f"{dimension:<22} {sum(kinds.values()):>6} {kinds['exact']:>6}"
            f" {kinds['refused']:>8} {kinds['per_request_fee']:>4}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(replay()))

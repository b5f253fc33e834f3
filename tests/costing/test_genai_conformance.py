"""ratecard's costs with the genai-prices source agree with genai-prices' own `calc_price` on
the same data file: every case of tests/data/conformance/genai_prices_cases.jsonl.gz (made by
conformance/generate_genai.py with the pinned genai-prices, in its own venv) is priced by
ratecard's engine, exactly, from the model as the genai_prices feed reads it on the snapshot's
day: a case at another date is priced from the model's dated list, at the case's time.

The cases cover every model with a token price: flat and tiered prices (at and past the tier's
start), cache reads and writes, audio in and out, per-request fees, the dated price lists on
both sides of their start dates, and DeepSeek's daily window inside and outside."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from ratecard.catalog.model import ModelPrice, dated_in_force
from ratecard.costing.cost import price_usage
from ratecard.costing.usage import Usage
from ratecard.ingest.feeds import genai_prices
from ratecard.ingest.feeds.parsing import load_json
from tests.support.services import FEED_DATA

GOLDEN = FEED_DATA / "conformance" / "genai_prices_cases.jsonl.gz"
SNAPSHOT = FEED_DATA / "genai_prices_2026-07-25.json"
# The components genai-prices counts as input and as output; a per-request fee is neither (it
# is in the total only).
_INPUT = {"input_tokens", "cache_read_tokens", "cache_write_tokens", "audio_input_tokens"}
_OUTPUT = {"output_tokens", "audio_output_tokens"}


@cache
def catalog() -> dict[str, ModelPrice]:
    """The models as the feed reads them when a refresh runs on the snapshot's day."""
    document = load_json("genai_prices", SNAPSHOT.read_bytes())
    when = datetime.fromisoformat("2026-07-25T00:00:00+00:00")
    return genai_prices.parse("genai_prices", document, now=when).models


def cases() -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(GOLDEN.read_bytes()).splitlines()]


def test_every_case_prices_exactly_as_genai_prices_does() -> None:
    golden = cases()
    assert len(golden) > 10_000
    mismatches = []
    seen: Counter[str] = Counter()
    for case in golden:
        at = datetime.fromisoformat(case["at"])
        model = catalog()[case["model"]]
        cost = price_usage(model, Usage(**case["usage"]), at=at)
        ours_in = sum((c.cost for c in cost.components if c.name in _INPUT), start=Decimal(0))
        ours_out = sum((c.cost for c in cost.components if c.name in _OUTPUT), start=Decimal(0))
        theirs = case["genai"]
        if (cost.total, ours_in, ours_out) != (
            Decimal(theirs["total"]),
            Decimal(theirs["input"]),
            Decimal(theirs["output"]),
        ):
            mismatches.append((case["model"], case["at"], case["usage"], theirs, str(cost.total)))
        seen["tiered" if cost.tier_above_tokens else "flat"] += 1
        seen["window" if cost.window else "standard"] += 1
        # Priced from another entry of its dated list than the one the catalog serves.
        seen["dated"] += dated_in_force(model, at) is not model
    assert mismatches == [], f"{len(mismatches)} cases differ, first: {mismatches[:3]}"
    # The golden file holds each kind of case this feed reads.
    assert seen["tiered"] > 50 and seen["window"] > 0 and seen["dated"] > 20
    models = {c["model"] for c in golden}
    assert {"deepseek/deepseek-chat", "openai/o3", "perplexity/sonar-pro",
            "openai/gpt-audio", "anthropic/claude-opus-4-6"} <= models  # fmt: skip

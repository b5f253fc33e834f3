"""The batch path's fixed-text answers (cost_batch._Answers) against the general path.

A batch line of token quantities is written from its model's serialized fixed text and priced
by cost.token_plan's prices, not by answer_cost and price_usage; every such line must be the
very bytes the general path writes (answer_cost's answer, or the error object), for every
model of the bundled snapshot, every service tier and form, and counts of every kind.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from ratecard.catalog.identity import Resolution
from ratecard.catalog.money import EXACT, decimal_text
from ratecard.costing import cost_batch
from ratecard.costing.cost_batch import BatchPricer
from ratecard.costing.cost_requests import ModelAt
from ratecard.costing.usage import QUANTITIES
from ratecard.errors import NotFound
from ratecard.vocabulary import ServiceTier
from tests.support.conformance import snapshot

NOW = datetime(2026, 7, 24, 12, 30, tzinfo=UTC)
BAD_COUNTS: list[Any] = [-1, True, False, None, 1.5, 2.0, "7", 10**12 + 1, [], {}]
TOKENS = [q for q in QUANTITIES if q.endswith("_tokens")]


def resolver(models: dict[str, Any]) -> Any:
    """The snapshot's models now; at an instant before 2000, none; at one after, the same
    prices under an older version and time (a fresh ModelAt each call, as a resolver may)."""

    def resolve(model_id: str, source: str | None, at: datetime | None) -> ModelAt:
        price = models.get(model_id)
        if price is None or (at is not None and at.year < 2000):
            raise NotFound(f"no model {model_id!r}", field="model")
        if at is not None:
            return ModelAt(Resolution(price, model_id, "exact"), price, 3, "2025-01-01T00:00:00Z")
        return ModelAt(Resolution(price, model_id, "exact"), price, 7, "2026-07-24T00:00:00Z")

    return resolve


def random_request(rng: random.Random, model_ids: list[str]) -> dict[str, Any]:
    number = rng.randint(0, 999_999)
    model = rng.choice(model_ids) if rng.random() > 0.01 else "no-such-model"
    counts = {q: rng.choice([0, 1, 7, rng.randint(0, 300_000)]) for q in rng.sample(TOKENS, 3)}
    if rng.random() < 0.05:
        counts[rng.choice(QUANTITIES)] = rng.randint(1, 5)  # a unit quantity, or requests
    form = rng.random()
    tier = rng.choice([None, None, *ServiceTier])
    if form < 0.6:
        request: dict[str, Any] = {"model": model, **counts}
    elif form < 0.7:
        usage: dict[str, Any] = {
            "input_tokens": counts.get("input_tokens", 0),
            "cache_creation_input_tokens": counts.get("cache_write_tokens", 0),
            "cache_read_input_tokens": counts.get("cache_read_tokens", 0),
            "output_tokens": counts.get("output_tokens", 0),
        }
        if rng.random() < 0.2:  # a multiplier the body says it was billed with, or none
            usage["inference_geo"] = rng.choice(["us", "global"])
        request = {"model": model, "format": "anthropic", "usage": usage}
    elif form < 0.8:
        # Gemini: image input priced at the text price where the model has no image price.
        text, image = counts.get("input_tokens", 0), counts.get("image_input_tokens", 0)
        usage = {
            "promptTokenCount": text + image,
            "candidatesTokenCount": counts.get("output_tokens", 0),
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": text},
                {"modality": "IMAGE", "tokenCount": image},
            ],
        }
        request = {"model": model, "usage": usage}
    else:
        prompt = counts.get("input_tokens", 0) + counts.get("cache_read_tokens", 0)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": counts.get("output_tokens", 0),
            "total_tokens": prompt + counts.get("output_tokens", 0),
            "prompt_tokens_details": {"cached_tokens": counts.get("cache_read_tokens", 0)},
        }
        if rng.random() < 0.1:  # a stated total that is not the sum: priced with a note
            usage["total_tokens"] += 1
        billed = rng.choice(["default", "flex", "priority"])
        request = {"response": {"model": model, "usage": usage, "service_tier": billed}}
    if tier is not None:
        request["service_tier"] = str(tier)
    if rng.random() < 0.03:
        request["region"] = rng.choice(["us", "eu"])
    if rng.random() < 0.1:  # a line of its own instant (priced then, or no price then)
        year = rng.choice([1999, 2025, 2026])
        request["at"] = f"{year}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T12:00:00.{number}Z"
    if rng.random() < 0.04:
        # A bad count (or counts beside a usage: refused too).
        request[rng.choice(TOKENS)] = rng.choice(BAD_COUNTS)
    if rng.random() < 0.01:
        request["model"] = rng.choice(["", "m" * 513, 7, None])
    return request


def fixed_text(probe: BatchPricer, raw: bytes) -> bytes | None:
    """The line `probe` writes for `raw` if it wrote it from fixed text, else None (the
    general path answered): told by its count of lines written so (`written`), not by
    patching `_Answers.line`, which a compiled caller need not see on a native class. A
    pricer of its own, so that the pricer under test counts its errors alone."""
    written = probe.written
    answer = probe.line(1, raw)
    return answer if probe.written > written else None


def test_fixed_text_lines_are_the_general_paths_bytes() -> None:
    models, _raw = snapshot()
    model_ids = sorted(models)
    written = 0
    fast = BatchPricer(resolver(models), now=NOW)
    general = BatchPricer(resolver(models), now=NOW)
    probe = BatchPricer(resolver(models), now=NOW)
    rng = random.Random(12)
    for number in range(1, 40_001):
        raw = orjson.dumps(random_request(rng, model_ids))
        expected = orjson.dumps(general.result(number, orjson.loads(raw))) + b"\n"
        answer = fixed_text(probe, raw)
        if answer is not None:
            assert answer == expected, raw
            written += 1
        assert fast.line(number, raw) == expected, raw
    assert fast.failed == general.failed
    # Many lines took the fixed-text path (else this test would check nothing); a response
    # billed at flex or priority for a model without such prices is the general path's 422.
    assert written > 8_500


def test_prompts_at_each_long_context_threshold_are_the_general_paths_bytes() -> None:
    written: list[bytes] = []
    models, _raw = snapshot()
    fast = BatchPricer(resolver(models), now=NOW)
    general = BatchPricer(resolver(models), now=NOW)
    probe = BatchPricer(resolver(models), now=NOW)
    tiered = 0
    for model_id, price in sorted(models.items()):
        for tier in price.tiers:
            for prompt in (tier.above_tokens - 1, tier.above_tokens, tier.above_tokens + 1):
                for extra in ({}, {"service_tier": "batch"}, {"service_tier": "priority"}):
                    request = {"model": model_id, "input_tokens": prompt // 2, **extra}
                    request["cache_read_tokens"] = prompt - prompt // 2
                    request["output_tokens"] = 3
                    raw = orjson.dumps(request)
                    expected = orjson.dumps(general.result(1, orjson.loads(raw))) + b"\n"
                    answer = fixed_text(probe, raw)
                    if answer is not None:
                        assert answer == expected, raw
                        written.append(answer)
                    assert fast.line(1, raw) == expected, raw
                    tiered += b'"tier_above_tokens":null' not in expected
    assert tiered > 100  # the lines priced in a long-context tier
    # ... many of them written from fixed text (the others lack a price, or have windows).
    assert sum(b'"tier_above_tokens":null' not in answer for answer in written) > 100


def test_integer_amounts_are_written_as_decimal_text_writes_them() -> None:
    rng = random.Random(4)
    for _ in range(20_000):
        amount = rng.choice([0, 1, 10, rng.randint(0, 10**30), rng.randint(0, 999) * 10**20])
        scale = rng.randint(0, 40)
        expected = decimal_text(Decimal(amount).scaleb(-scale, context=EXACT))
        money = cost_batch._money(amount, scale).decode()
        assert money == expected, (amount, scale)


def test_a_percent_sign_in_a_model_name_is_written_as_itself() -> None:
    # The fixed text is a %-template: a name with %d, %s or %% in it must come out as typed.
    models, _raw = snapshot()
    name = "gpt-4o-50%-off%s%d%%"
    price = dataclasses.replace(models["gpt-4o"], model_id=name, source="lite%sllm")
    fast = BatchPricer(resolver({name: price}), now=NOW)
    general = BatchPricer(resolver({name: price}), now=NOW)
    for request in (
        {"model": name, "input_tokens": 1000, "output_tokens": 7},
        {"model": name, "format": "anthropic", "usage": {"input_tokens": 5, "output_tokens": 2}},
    ):
        raw = orjson.dumps(request)
        expected = orjson.dumps(general.result(1, orjson.loads(raw))) + b"\n"
        assert fast.line(1, raw) == expected
        assert b'"model":"gpt-4o-50%-off%s%d%%","source":"lite%sllm"' in expected
    # Both took the fixed-text path: the model's answers were built, not refused.
    assert fast._answers[name, None, "standard", None] is not None

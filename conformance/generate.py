"""Generate the LiteLLM conformance golden file from the pinned release and the bundled snapshot.

    python3.11 conformance/generate.py [--seed 20260724] [--out FILE.jsonl.gz]

Re-runs itself inside conformance/.venv (created from conformance/requirements.txt, hashes
required; see bootstrap.py), prices every case with LiteLLM's own functions against the SNAPSHOT's
prices (not LiteLLM's bundled map), and writes one JSON object a line:

    {"id", "model", "provider", "dimension", "usage": {ratecard-neutral counts, disjoint},
     "service_tier", "data_residency"?, "call": {the LiteLLM call, replayable},
     "litellm": {"prompt", "completion", "total"}   (repr of LiteLLM's floats),
     "exact": "decimal" | null, "components": [[name, quantity, price_key, price]],
     "agrees": bool, "note"?}

`exact` is the same rule evaluated in Decimal on the snapshot's own number text (the JSON is
parsed with parse_float=Decimal), so a float artefact in LiteLLM never becomes the expectation;
`agrees` says whether LiteLLM's float total rounds to it (relative 1e-12). Cases where they
differ are kept with a `note`: they are the documented differences, not noise.
Output is deterministic for a given seed (no clock, sorted models, seeded RNG per model).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SNAPSHOT = REPO / "tests" / "data" / "litellm_2026-07-24.json"  # the bundled snapshot
DEFAULT_OUT = REPO / "tests" / "data" / "conformance" / "litellm_cases.jsonl.gz"

if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    from bootstrap import reexec_in_venv

    reexec_in_venv(str(Path(__file__).resolve()))

# Below here we run inside conformance/.venv. LiteLLM reads this at import: without it, it
# fetches the live price map over the network and the golden file would depend on the day.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
# Ask LiteLLM to keep every feature on its Python code path (its Rust bridge is opt-in/opt-out
# per feature; the native module is still imported). The cost functions used here are Python.
os.environ["LITELLM_RUST"] = "false"

SERVICE_TIER_SUFFIXES = ("_flex", "_priority")
REL_TOLERANCE = Decimal("1e-12")
# Providers left out, with the reason printed in the run's summary.
SKIP_PROVIDERS = {
    # Its cost path reaches github_copilot's authenticator, which starts a device-code login over
    # the network: a generator that needs the network (or a login) is not reproducible.
    "github_copilot": "cost path starts a network device-code login",
}
ABS_TOLERANCE = Decimal("1e-18")


def dec_str(value: Decimal) -> str:
    """Plain decimal text without exponent and without trailing zeros ("0.000123", "12.5", "0")."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def load_snapshot() -> tuple[dict[str, Any], dict[str, Any]]:
    raw = SNAPSHOT.read_bytes()
    as_float = json.loads(raw)
    as_decimal = json.loads(raw, parse_float=Decimal, parse_int=Decimal)
    for doc in (as_float, as_decimal):
        doc.pop("last_updated", None)
        doc.pop("sample_spec", None)
    return as_float, as_decimal


# --- the Decimal mirror of LiteLLM's rules (see docs/cost-semantics.md for each) ---------------


def _num(entry: dict[str, Any], key: str) -> Decimal | None:
    value = entry.get(key)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return None
    return None


def threshold_of(key: str) -> int:
    text = key.split("_above_")[1].split("_tokens")[0]
    return int(Decimal(text.replace("k", "")) * (1000 if "k" in text else 1))


TIER_PREFIXES = (
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
)
INCLUSIVE_THRESHOLD_PROVIDERS = {"xai"}  # litellm_core_utils/llm_cost_calc/utils.py


def _threshold_keys(entry: dict[str, Any]) -> list[str]:
    return [
        k
        for k in entry
        if k.startswith(tuple(f"{p}_above_" for p in TIER_PREFIXES))
        and "_tokens" in k
        and not k.endswith((*SERVICE_TIER_SUFFIXES, "_batches"))
        and not k.startswith("cache_creation_input_token_cost_above_1hr")
        and entry.get(k) is not None
    ]


def tier_thresholds(entry: dict[str, Any]) -> list[int]:
    return sorted({threshold_of(k) for k in _threshold_keys(entry)})


def exceeded_tiers(entry: dict[str, Any], prompt_tokens: int, provider: str) -> list[str]:
    """Suffixes ("_above_200k_tokens") of every threshold the prompt crosses, lowest first.

    LiteLLM walks the thresholds in ascending order and lets each crossed one override the
    prices found so far, so the highest crossed tier wins and a key it lacks keeps the lower
    tier's price. Strictly greater, except for xAI, where reaching the threshold is enough.
    """
    inclusive = provider in INCLUSIVE_THRESHOLD_PROVIDERS
    out = []
    for key in sorted(_threshold_keys(entry), key=threshold_of):
        t = threshold_of(key)
        if prompt_tokens > t or (inclusive and prompt_tokens == t):
            text = key.rsplit("_above_", 1)[1].split("_tokens")[0]
            suffix = f"_above_{text}_tokens"
            if suffix not in out:
                out.append(suffix)
    return out


def unit_price(
    entry: dict[str, Any], key: str, default: Decimal | None
) -> tuple[Decimal | None, str]:
    """`get_cost_per_unit`: the key, else the key without its service-tier suffix, else default."""
    value = _num(entry, key)
    if value is not None:
        return value, key
    for suffix in SERVICE_TIER_SUFFIXES:
        if suffix in key:
            base = key.replace(suffix, "")
            value = _num(entry, base)
            if value is not None:
                return value, base
            break
    return default, "(default)"


def st_key(base: str, service_tier: str | None) -> str:
    return f"{base}_{service_tier}" if service_tier in {"flex", "priority"} else base


def token_prices(
    entry: dict[str, Any], prompt_tokens: int, service_tier: str | None, provider: str
) -> dict[str, tuple[Decimal, str]]:
    """Mirror of `_get_token_base_cost`: base prices, then each crossed tier's, then defaults.

    A missing cache-read or cache-write price is the resolved input price (LiteLLM: "a provider
    that publishes no cache price bills cached tokens as ordinary input"); a missing 1-hour
    write price is the resolved cache-write price.
    """
    zero = Decimal(0)
    found: dict[str, tuple[Decimal | None, str]] = {}
    for name, base in (
        ("input", "input_cost_per_token"),
        ("output", "output_cost_per_token"),
        ("cache_write", "cache_creation_input_token_cost"),
        ("cache_read", "cache_read_input_token_cost"),
    ):
        default = zero if name in {"input", "output"} else None
        found[name] = unit_price(entry, st_key(base, service_tier), default)
    if (found["output"][0] or zero) == 0:
        image_out = _num(entry, "output_cost_per_image_token")
        if image_out is not None:
            found["output"] = (image_out, "output_cost_per_image_token")
    one_hour = "cache_creation_input_token_cost_above_1hr"
    found["cache_write_1h"] = unit_price(entry, st_key(one_hour, service_tier), None)
    for tier in exceeded_tiers(entry, prompt_tokens, provider):
        for name, base in (
            ("input", "input_cost_per_token"),
            ("output", "output_cost_per_token"),
            ("cache_write", "cache_creation_input_token_cost"),
            ("cache_read", "cache_read_input_token_cost"),
            ("cache_write_1h", one_hour),
        ):
            value, used = unit_price(entry, st_key(f"{base}{tier}", service_tier), None)
            if value is not None:
                found[name] = (value, used)
    prices: dict[str, tuple[Decimal, str]] = {
        "input": (found["input"][0] or zero, found["input"][1]),
        "output": (found["output"][0] or zero, found["output"][1]),
    }
    for name in ("cache_read", "cache_write"):
        value, used = found[name]
        prices[name] = (
            (value, used)
            if value is not None
            else (prices["input"][0], f"{prices['input'][1]} (no {name} price)")
        )
    value, used = found["cache_write_1h"]
    prices["cache_write_1h"] = (
        (value, used)
        if value is not None
        else (prices["cache_write"][0], f"{prices['cache_write'][1]} (no 1h price)")
    )
    return prices


def graduated(tokens: int, tiers: list[dict[str, Any]], key: str, fallback: str | None) -> Decimal:
    """Mirror of tiered_pricing.calculate_tiered_cost (income-tax slices, each part from 0)."""
    if tokens <= 0:
        return Decimal(0)
    total = Decimal(0)
    done = 0
    ordered = sorted(tiers, key=lambda t: t["range"][0])
    for tier in ordered:
        start, end = (int(x) for x in tier["range"])
        if done >= tokens:
            break
        if tokens <= start:
            continue
        lo, hi = max(start, done), min(end, tokens)
        if hi > lo:
            rate = tier.get(key) or (tier.get(fallback, 0) if fallback else 0)
            total += (hi - lo) * Decimal(rate)
            done = hi
    if done < tokens:
        last = ordered[-1]
        rate = last.get(key) or (last.get(fallback, 0) if fallback else 0)
        total += (tokens - done) * Decimal(rate)
    return total


# The disjoint token counts a case may carry, in the order token_counts() returns them.
TOKEN_KINDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "audio_input_tokens",
    "image_input_tokens",
    "reasoning_tokens",
    "audio_output_tokens",
    "image_output_tokens",
)


def token_counts(usage: dict[str, int]) -> tuple[int, ...]:
    """Return a case's token counts in TOKEN_KINDS order (0 where a kind is absent)."""
    return tuple(int(usage.get(kind, 0)) for kind in TOKEN_KINDS)


def exact_tokens(
    entry: dict[str, Any],
    provider: str,
    usage: dict[str, int],
    service_tier: str | None,
    residency: str | None,
) -> tuple[Decimal, list[list[str]]]:
    """The Decimal cost of a token case under LiteLLM's rules for this provider."""
    inp, out, cr, cw, cw1h, ai, ii, reasoning, ao, io = token_counts(usage)
    prompt_tokens = inp + cr + cw + cw1h + ai + ii
    comps: list[list[str]] = []
    total = Decimal(0)

    def add(name: str, qty: int, price: Decimal, key: str) -> None:
        nonlocal total
        if qty:
            comps.append([name, str(qty), key, dec_str(price)])
            total += qty * price

    tiers = entry.get("tiered_pricing")
    if provider == "dashscope" and tiers:
        # All-or-nothing: the request's total input picks ONE tier (start < total <= end; past
        # the last range, the last tier) and every token is billed at that tier's rates.
        ordered = sorted(
            (t for t in tiers if len(t.get("range", [])) == 2), key=lambda t: t["range"][0]
        )
        chosen = next(
            (t for t in ordered if t["range"][0] < prompt_tokens <= t["range"][1]), ordered[-1]
        )
        label = f"tiered_pricing[{chosen['range'][0]}-{chosen['range'][1]}]"
        for name, qty, key, fb in (
            ("input_tokens", inp, "input_cost_per_token", None),
            ("cache_read_tokens", cr, "cache_read_input_token_cost", "input_cost_per_token"),
            ("output_tokens", out, "output_cost_per_token", None),
            (
                "reasoning_tokens",
                reasoning,
                "output_cost_per_reasoning_token",
                "output_cost_per_token",
            ),
        ):
            raw = chosen.get(key)
            if raw is None and fb:
                raw, key = chosen.get(fb), fb
            add(name, qty, Decimal(raw or 0), f"{label}.{key}")
        return total, comps
    if provider == "xai":
        # xai_cost_per_token folds reasoning into completion tokens at the output price.
        out, reasoning = out + reasoning, 0

    p = token_prices(entry, prompt_tokens, service_tier, provider)
    add("input_tokens", inp, *p["input"])
    add("cache_read_tokens", cr, *p["cache_read"])
    if ai:
        price, key = unit_price(
            entry, st_key("input_cost_per_audio_token", service_tier), Decimal(0)
        )
        add("audio_input_tokens", ai, price or Decimal(0), key)
    if ii:
        key = (
            "input_cost_per_image_token"
            if _num(entry, "input_cost_per_image_token") is not None
            else "input_cost_per_token"
        )
        add("image_input_tokens", ii, _num(entry, key) or Decimal(0), key)
    add("cache_write_tokens", cw, *p["cache_write"])
    add("cache_write_1h_tokens", cw1h, *p["cache_write_1h"])
    add("output_tokens", out, *p["output"])
    for name, qty, key in (
        ("audio_output_tokens", ao, "output_cost_per_audio_token"),
        ("reasoning_tokens", reasoning, "output_cost_per_reasoning_token"),
        ("image_output_tokens", io, "output_cost_per_image_token"),
    ):
        if qty:
            own = _num(entry, key)
            add(name, qty, *((own, key) if own is not None else p["output"]))
    if residency:
        mult = _num(entry, f"regional_processing_uplift_multiplier_{residency}")
        if mult is not None and mult != 1:
            comps.append(
                [
                    "regional_uplift",
                    "1",
                    f"regional_processing_uplift_multiplier_{residency}",
                    dec_str(mult),
                ]
            )
            total *= mult
    return total, comps


# --- case generation ----------------------------------------------------------------------------


def provider_for_call(key: str, entry: dict[str, Any]) -> str:
    provider = str(entry.get("litellm_provider") or "")
    if provider.startswith("vertex_ai"):
        return "vertex_ai"
    if provider == "bedrock_converse":
        return "bedrock"
    return provider


def rand_tokens(rng: random.Random, low: int, high: int) -> int:
    """Log-uniform in [low, high]: small and large requests both appear."""
    import math

    return round(math.exp(rng.uniform(math.log(low), math.log(high))))


def token_cases(
    key: str, e: dict[str, Any], rng: random.Random
) -> list[tuple[str, dict[str, int], str | None, str | None]]:
    """(dimension, neutral usage, service_tier, data_residency) for every priced token dimension."""
    has = lambda k: e.get(k) is not None  # noqa: E731
    thresholds = tier_thresholds(e)
    ceiling = max(2, min(thresholds) - 1) if thresholds else 120_000
    if e.get("tiered_pricing"):
        ceiling = 200_000
    cases: list[tuple[str, dict[str, int], str | None, str | None]] = []

    def small() -> int:
        return rand_tokens(rng, 1, max(1, ceiling // 4))

    cases.append(("text", {"input_tokens": 1_000_000, "output_tokens": 1_000_000}, None, None))
    for _ in range(2):
        cases.append(("text", {"input_tokens": small(), "output_tokens": small()}, None, None))
    if has("cache_read_input_token_cost"):
        for _ in range(2):
            cases.append(
                (
                    "cache_read",
                    {
                        "input_tokens": small(),
                        "cache_read_tokens": small(),
                        "output_tokens": small(),
                    },
                    None,
                    None,
                )
            )
    if has("cache_creation_input_token_cost"):
        cases.append(
            (
                "cache_write_5m",
                {"input_tokens": small(), "cache_write_tokens": small(), "output_tokens": small()},
                None,
                None,
            )
        )
    if has("cache_creation_input_token_cost_above_1hr"):
        for _ in range(2):
            cases.append(
                (
                    "cache_write_1h",
                    {
                        "input_tokens": small(),
                        "cache_write_tokens": small(),
                        "cache_write_1h_tokens": small(),
                        "cache_read_tokens": small(),
                        "output_tokens": small(),
                    },
                    None,
                    None,
                )
            )
    if has("output_cost_per_reasoning_token") or e.get("supports_reasoning"):
        for _ in range(2):
            cases.append(
                (
                    "reasoning",
                    {
                        "input_tokens": small(),
                        "output_tokens": small(),
                        "reasoning_tokens": small(),
                    },
                    None,
                    None,
                )
            )
    if has("input_cost_per_audio_token") or has("output_cost_per_audio_token"):
        for _ in range(2):
            usage = {"input_tokens": small(), "output_tokens": small()}
            if has("input_cost_per_audio_token"):
                usage["audio_input_tokens"] = small()
            if has("output_cost_per_audio_token"):
                usage["audio_output_tokens"] = small()
            cases.append(("audio_tokens", usage, None, None))
    if has("input_cost_per_image_token") or has("output_cost_per_image_token"):
        usage = {"input_tokens": small(), "output_tokens": small()}
        if has("input_cost_per_image_token"):
            usage["image_input_tokens"] = small()
        if has("output_cost_per_image_token"):
            usage["image_output_tokens"] = small()
        cases.append(("image_tokens", usage, None, None))
    for t in thresholds:
        # The boundary itself decides inclusive vs exclusive; one case each side and one far above.
        for total in (t - 1, t, t + 1, 2 * t):
            cases.append(
                ("long_context_tier", {"input_tokens": total, "output_tokens": 1000}, None, None)
            )
        cached = t // 4
        for total in (t, t + 1):
            usage = {
                "input_tokens": total - cached,
                "cache_read_tokens": cached,
                "output_tokens": 1000,
            }
            cases.append(("long_context_tier", usage, None, None))
        if has(f"cache_creation_input_token_cost_above_1hr_above_{t // 1000}k_tokens"):
            usage = {
                "input_tokens": t - 2 * cached,
                "cache_write_1h_tokens": cached,
                "cache_write_tokens": cached + 1,
                "output_tokens": 10,
            }
            cases.append(("long_context_tier", usage, None, None))
    if e.get("tiered_pricing"):
        for total in (32_000, 128_000, 128_001, 256_000, 256_001, 1_000_000, 1_500_000):
            cases.append(
                (
                    "long_context_tier",
                    {"input_tokens": total, "output_tokens": 2000, "reasoning_tokens": 100},
                    None,
                    None,
                )
            )
    for tier in ("flex", "priority"):
        if has(f"input_cost_per_token_{tier}") or has(f"output_cost_per_token_{tier}"):
            cases.append(
                (
                    "service_tier",
                    {"input_tokens": 1_000_000, "output_tokens": 1_000_000},
                    tier,
                    None,
                )
            )
            cases.append(
                (
                    "service_tier",
                    {
                        "input_tokens": small(),
                        "cache_read_tokens": small(),
                        "output_tokens": small(),
                    },
                    tier,
                    None,
                )
            )
            for t in thresholds:
                cases.append(
                    ("service_tier", {"input_tokens": t + 1, "output_tokens": 500}, tier, None)
                )
    for region in ("eu", "us"):
        if has(f"regional_processing_uplift_multiplier_{region}"):
            cases.append(
                (
                    "regional_uplift",
                    {
                        "input_tokens": small(),
                        "cache_read_tokens": small(),
                        "output_tokens": small(),
                    },
                    None,
                    region,
                )
            )
    return cases


def litellm_usage(usage: dict[str, int]) -> dict[str, Any]:
    """Neutral disjoint counts -> the OpenAI-shaped usage dict LiteLLM's Usage(**...) takes."""
    inp, out, cr, cw, cw1h, ai, ii, reasoning, ao, io = token_counts(usage)
    prompt = inp + cr + cw + cw1h + ai + ii
    completion = out + reasoning + ao + io
    body: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cr or cw or cw1h or ai or ii:
        details: dict[str, Any] = {"text_tokens": inp}
        if cr:
            details["cached_tokens"] = cr
        if ai:
            details["audio_tokens"] = ai
        if ii:
            details["image_tokens"] = ii
        if cw or cw1h:
            details["cache_creation_tokens"] = cw + cw1h
            if cw1h:
                details["cache_creation_token_details"] = {
                    "ephemeral_5m_input_tokens": cw,
                    "ephemeral_1h_input_tokens": cw1h,
                }
        body["prompt_tokens_details"] = details
    if reasoning or ao or io:
        cdetails: dict[str, Any] = {"text_tokens": out}
        if reasoning:
            cdetails["reasoning_tokens"] = reasoning
        if ao:
            cdetails["audio_tokens"] = ao
        if io:
            cdetails["image_tokens"] = io
        body["completion_tokens_details"] = cdetails
    return body


class Runner:
    def __init__(self, snap_f: dict[str, Any], snap_d: dict[str, Any]) -> None:
        import litellm
        from litellm.types.utils import Usage

        litellm.suppress_debug_info = True
        litellm.set_verbose = False
        # The point of the exercise: LiteLLM's functions, the SNAPSHOT's prices.
        litellm.model_cost = snap_f
        self.litellm = litellm
        self.Usage = Usage
        self.snap_f = snap_f
        self.snap_d = snap_d
        self.errors: Counter[str] = Counter()

    def call(self, call: dict[str, Any]) -> tuple[float, float]:
        """Replay one recorded call (the same code the bench anchor and README use)."""
        return replay(self.litellm, self.Usage, call)


def replay(litellm: Any, usage_cls: Any, call: dict[str, Any]) -> tuple[float, float]:
    fn = call["function"]
    kwargs = dict(call["kwargs"])
    if fn == "cost_per_token":
        if "usage_object" in kwargs:
            kwargs["usage_object"] = usage_cls(**kwargs["usage_object"])
        result = litellm.cost_per_token(**kwargs)
        return float(result[0]), float(result[1])
    if fn == "ocr_cost":
        from litellm.llms.base_llm.ocr.transformation import OCRResponse, OCRUsageInfo

        response = OCRResponse(
            pages=[],
            model=kwargs["model"],
            usage_info=OCRUsageInfo(pages_processed=kwargs.pop("pages_processed")),
        )
        result = litellm.cost_calculator.ocr_cost(response=response, **kwargs)
        return float(result[0]), float(result[1])
    if fn == "default_image_cost_calculator":
        return float(litellm.cost_calculator.default_image_cost_calculator(**kwargs)), 0.0
    if fn == "get_cost_for_anthropic_web_search":
        from litellm.llms.anthropic.cost_calculation import get_cost_for_anthropic_web_search

        info = litellm.get_model_info(
            model=kwargs["model"], custom_llm_provider=kwargs["custom_llm_provider"]
        )
        usage = usage_cls(**kwargs["usage_object"])
        return float(get_cost_for_anthropic_web_search(model_info=info, usage=usage)), 0.0
    if fn == "gemini_cost_per_web_search_request":
        from litellm.llms.gemini.cost_calculator import cost_per_web_search_request
        from litellm.types.utils import PromptTokensDetailsWrapper

        info = litellm.get_model_info(
            model=kwargs["model"], custom_llm_provider=kwargs["custom_llm_provider"]
        )
        usage = usage_cls(prompt_tokens=0, completion_tokens=0, total_tokens=0)
        usage.prompt_tokens_details = PromptTokensDetailsWrapper(
            web_search_requests=kwargs["web_search_requests"]
        )
        return float(cost_per_web_search_request(usage=usage, model_info=info)), 0.0
    raise ValueError(f"unknown function {fn}")


def unit_cases(
    key: str, e: dict[str, Any], ed: dict[str, Any], provider: str, rng: random.Random
) -> list[dict[str, Any]]:
    """Cases priced per second, character, query, page, image or web search: call + Decimal."""
    out: list[dict[str, Any]] = []
    mode = e.get("mode")

    def case(
        dimension: str,
        usage: dict[str, int],
        call: dict[str, Any],
        exact: Decimal | None,
        comps: list[list[str]],
    ) -> None:
        out.append(
            {
                "dimension": dimension,
                "usage": usage,
                "call": call,
                "exact_value": exact,
                "components": comps,
            }
        )

    if mode == "audio_transcription" and (
        e.get("input_cost_per_second") is not None or e.get("output_cost_per_second") is not None
    ):
        for seconds in (1, 60, rng.randint(2, 3600)):
            # openai cost_per_second: a positive output_cost_per_second wins, else the input one.
            pkey = (
                "output_cost_per_second"
                if (e.get("output_cost_per_second") or 0) > 0
                else "input_cost_per_second"
            )
            price = _num(ed, pkey) or Decimal(0)
            call = {
                "function": "cost_per_token",
                "kwargs": {
                    "model": key,
                    "custom_llm_provider": provider,
                    "call_type": "transcription",
                    "audio_transcription_file_duration": seconds,
                },
            }
            case(
                "per_second",
                {"seconds": seconds},
                call,
                seconds * price,
                [["seconds", str(seconds), pkey, dec_str(price)]],
            )
    if mode == "audio_speech" and e.get("input_cost_per_character") is not None:
        for chars in (1, 1000, rng.randint(2, 100_000)):
            price = _num(ed, "input_cost_per_character") or Decimal(0)
            call = {
                "function": "cost_per_token",
                "kwargs": {
                    "model": key,
                    "custom_llm_provider": provider,
                    "call_type": "speech",
                    "prompt_characters": chars,
                },
            }
            case(
                "per_character",
                {"characters": chars},
                call,
                chars * price,
                [["characters", str(chars), "input_cost_per_character", dec_str(price)]],
            )
    if (
        e.get("input_cost_per_query") is not None
        and mode == "search"
        and not e.get("tiered_pricing")
    ):
        for n in (1, rng.randint(2, 500)):
            price = _num(ed, "input_cost_per_query") or Decimal(0)
            call = {
                "function": "cost_per_token",
                "kwargs": {
                    "model": key,
                    "custom_llm_provider": provider,
                    "call_type": "search",
                    "number_of_queries": n,
                },
            }
            case(
                "per_query",
                {"queries": n},
                call,
                n * price,
                [["queries", str(n), "input_cost_per_query", dec_str(price)]],
            )
    if e.get("input_cost_per_query") is not None and mode == "rerank":
        for n in (1, rng.randint(2, 200)):
            # Rerank bills search units (one query over up to 100 documents is one unit).
            price = _num(ed, "input_cost_per_query") or Decimal(0)
            call = {
                "function": "cost_per_token",
                "kwargs": {
                    "model": key,
                    "custom_llm_provider": provider,
                    "call_type": "rerank",
                    "rerank_billed_units": {"search_units": n},
                },
            }
            case(
                "per_query",
                {"queries": n},
                call,
                n * price,
                [["queries", str(n), "input_cost_per_query", dec_str(price)]],
            )
    if e.get("ocr_cost_per_page") is not None and mode == "ocr":
        for n in (1, rng.randint(2, 1000)):
            price = _num(ed, "ocr_cost_per_page") or Decimal(0)
            call = {
                "function": "ocr_cost",
                "kwargs": {"model": key, "custom_llm_provider": provider, "pages_processed": n},
            }
            case(
                "per_page",
                {"pages": n},
                call,
                n * price,
                [["pages", str(n), "ocr_cost_per_page", dec_str(price)]],
            )
    if mode in {"image_generation", "image_edit"} and e.get("input_cost_per_image") is not None:
        for n in (1, rng.randint(2, 10)):
            # default_image_cost_calculator bills input_cost_per_image per GENERATED image.
            price = _num(ed, "input_cost_per_image") or Decimal(0)
            call = {
                "function": "default_image_cost_calculator",
                "kwargs": {"model": key, "custom_llm_provider": provider, "n": n},
            }
            case(
                "per_image",
                {"images_out": n},
                call,
                n * price,
                [["images_out", str(n), "input_cost_per_image", dec_str(price)]],
            )
    size = re.match(r"^(?:[a-z]+/)?(\d+)-x-(\d+)/", key)
    if (
        mode in {"image_generation", "image_edit"}
        and e.get("input_cost_per_image") is None
        and e.get("input_cost_per_pixel") is not None
        and size is not None
    ):
        # No per-image price: LiteLLM bills height x width x n pixels at input_cost_per_pixel.
        height, width = int(size.group(1)), int(size.group(2))
        for n in (1, rng.randint(2, 10)):
            price = _num(ed, "input_cost_per_pixel") or Decimal(0)
            pixels = height * width * n
            call = {
                "function": "default_image_cost_calculator",
                "kwargs": {
                    "model": key,
                    "custom_llm_provider": provider,
                    "n": n,
                    "size": f"{height}-x-{width}",
                },
            }
            case(
                "per_pixel",
                {"images_out": n, "pixels": pixels},
                call,
                pixels * price,
                [["pixels", str(pixels), "input_cost_per_pixel", dec_str(price)]],
            )
    if (
        mode == "chat"
        and e.get("input_cost_per_image") is not None
        and e.get("input_cost_per_token") is not None
    ):
        for n in (1, rng.randint(2, 20)):
            inp = rand_tokens(rng, 1, 20_000)
            outp = rand_tokens(rng, 1, 5_000)
            usage_obj = {
                "prompt_tokens": inp,
                "completion_tokens": outp,
                "total_tokens": inp + outp,
                "prompt_tokens_details": {"text_tokens": inp, "image_count": n},
            }
            call = {
                "function": "cost_per_token",
                "kwargs": {
                    "model": key,
                    "custom_llm_provider": provider,
                    "usage_object": usage_obj,
                },
            }
            base, comps = exact_tokens(
                ed, provider, {"input_tokens": inp, "output_tokens": outp}, None, None
            )
            price = _num(ed, "input_cost_per_image") or Decimal(0)
            comps.append(["images_in", str(n), "input_cost_per_image", dec_str(price)])
            case(
                "per_image",
                {"input_tokens": inp, "output_tokens": outp, "images_in": n},
                call,
                base + n * price,
                comps,
            )
    medium = None
    sc = ed.get("search_context_cost_per_query")
    if isinstance(sc, dict):
        medium = sc.get("search_context_size_medium")
    if (
        mode == "chat"
        and provider in {"anthropic", "bedrock", "vertex_ai"}
        and "claude" in key
        and medium is not None
    ):
        for n in (1, rng.randint(2, 20)):
            usage_obj = {
                "prompt_tokens": 10,
                "completion_tokens": 10,
                "total_tokens": 20,
                "server_tool_use": {"web_search_requests": n},
            }
            call = {
                "function": "get_cost_for_anthropic_web_search",
                "kwargs": {
                    "model": key,
                    "custom_llm_provider": provider,
                    "usage_object": usage_obj,
                },
            }
            price = Decimal(medium)
            case(
                "web_search",
                {"web_search_calls": n},
                call,
                n * price,
                [
                    [
                        "web_search_calls",
                        str(n),
                        "search_context_cost_per_query.search_context_size_medium",
                        dec_str(price),
                    ]
                ],
            )
    if mode == "chat" and provider in {"gemini", "vertex_ai"} and "gemini" in key:
        billing = e.get("web_search_billing_unit") or "per_prompt"
        price = Decimal(medium) if medium is not None else Decimal("0.035")
        for n in (1, rng.randint(2, 20)):
            billed = n if billing == "per_query" else min(n, 1)
            call = {
                "function": "gemini_cost_per_web_search_request",
                "kwargs": {"model": key, "custom_llm_provider": provider, "web_search_requests": n},
            }
            case(
                "web_search",
                {"web_search_calls": n},
                call,
                billed * price,
                [
                    [
                        "web_search_calls",
                        str(billed),
                        f"search_context_cost_per_query.search_context_size_medium ({billing})",
                        dec_str(price),
                    ]
                ],
            )
    return out


def batch_case(
    key: str, e: dict[str, Any], ed: dict[str, Any], provider: str, rng: random.Random
) -> list[dict[str, Any]]:
    """service_tier=batch: LiteLLM prices it in batch_cost_calculator (call_type retrieve_batch)."""
    if e.get("mode") not in {"chat", "responses", "completion", "embedding"}:
        return []
    if e.get("input_cost_per_token") is None and e.get("input_cost_per_token_batches") is None:
        return []
    out = []
    for usage in (
        {"input_tokens": 1_000_000, "output_tokens": 1_000_000},
        {
            "input_tokens": rand_tokens(rng, 1, 100_000),
            "cache_read_tokens": rand_tokens(rng, 1, 100_000),
            "output_tokens": rand_tokens(rng, 1, 50_000),
        },
    ):
        if "cache_read_tokens" in usage and e.get("cache_read_input_token_cost") is None:
            continue
        inp, cr, outp = (
            usage["input_tokens"],
            usage.get("cache_read_tokens", 0),
            usage["output_tokens"],
        )
        comps: list[list[str]] = []
        ib, ob = _num(ed, "input_cost_per_token_batches"), _num(ed, "output_cost_per_token_batches")
        ic, oc = _num(ed, "input_cost_per_token"), _num(ed, "output_cost_per_token")
        total = Decimal(0)
        if ib:
            total += inp * ib
            comps.append(["input_tokens", str(inp), "input_cost_per_token_batches", dec_str(ib)])
            if cr:
                # Cached tokens: the batch cache-read price, else the standard cache-read price,
                # else (no cache price at all) they are ordinary input at the batch input price.
                crb = _num(ed, "cache_read_input_token_cost_batches")
                crs = _num(ed, "cache_read_input_token_cost")
                rate, rkey = (
                    (crb, "cache_read_input_token_cost_batches")
                    if crb is not None
                    else (
                        (crs, "cache_read_input_token_cost")
                        if crs is not None
                        else (ib, "input_cost_per_token_batches")
                    )
                )
                total += cr * rate
                comps.append(["cache_read_tokens", str(cr), rkey, dec_str(rate)])
        elif ic:
            total += inp * ic / 2
            comps.append(["input_tokens", str(inp), "input_cost_per_token/2", dec_str(ic / 2)])
            if cr:
                crp = _num(ed, "cache_read_input_token_cost") or Decimal(0)
                total += cr * crp / 2
                comps.append(
                    [
                        "cache_read_tokens",
                        str(cr),
                        "cache_read_input_token_cost/2",
                        dec_str(crp / 2),
                    ]
                )
        if ob:
            total += outp * ob
            comps.append(["output_tokens", str(outp), "output_cost_per_token_batches", dec_str(ob)])
        elif oc:
            total += outp * oc / 2
            comps.append(["output_tokens", str(outp), "output_cost_per_token/2", dec_str(oc / 2)])
        call = {
            "function": "cost_per_token",
            "kwargs": {
                "model": key,
                "custom_llm_provider": provider,
                "call_type": "retrieve_batch",
                "usage_object": litellm_usage(usage),
            },
        }
        out.append(
            {
                "dimension": "service_tier_batch",
                "usage": usage,
                "service_tier": "batch",
                "call": call,
                "exact_value": total,
                "components": comps,
            }
        )
    return out


def agree(litellm_total: float, exact: Decimal | None) -> bool:
    if exact is None:
        return False
    got = Decimal(repr(litellm_total))
    return abs(got - exact) <= max(ABS_TOLERANCE, abs(exact) * REL_TOLERANCE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seed", type=int, default=20260724, help="RNG seed (default: the snapshot date)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="golden file (.jsonl.gz)")
    args = parser.parse_args()

    snap_f, snap_d = load_snapshot()
    runner = Runner(snap_f, snap_d)
    lines: list[str] = []
    per_dimension: Counter[str] = Counter()
    agreements: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for key in sorted(snap_f):
        e, ed = snap_f[key], snap_d[key]
        if not isinstance(e, dict):
            continue
        provider = provider_for_call(key, e)
        if provider in SKIP_PROVIDERS:
            failures[f"skipped provider {provider}: {SKIP_PROVIDERS[provider]} (models)"] += 1
            continue
        # Seed per model, not one stream: a model added to the snapshot leaves others' cases alone.
        rng = random.Random(
            int.from_bytes(hashlib.sha256(f"{args.seed}:{key}".encode()).digest()[:8], "big")
        )
        pending: list[dict[str, Any]] = []
        # Token prices are priced the same way whatever the mode (embeddings, realtime, image
        # models with token prices); modes billed per query/page/store have their own cases.
        priced_tokens = e.get("mode") not in {"rerank", "search", "ocr", "vector_store"} and (
            e.get("input_cost_per_token") is not None or e.get("output_cost_per_token") is not None
        )
        if priced_tokens:
            for dimension, usage, tier, residency in token_cases(key, e, rng):
                kwargs: dict[str, Any] = {
                    "model": key,
                    "custom_llm_provider": provider,
                    "usage_object": litellm_usage(usage),
                }
                if tier:
                    kwargs["service_tier"] = tier
                if residency:
                    kwargs["data_residency"] = residency
                exact, comps = exact_tokens(ed, provider, usage, tier, residency)
                pending.append(
                    {
                        "dimension": dimension,
                        "usage": usage,
                        "service_tier": tier or "standard",
                        "data_residency": residency,
                        "call": {"function": "cost_per_token", "kwargs": kwargs},
                        "exact_value": exact,
                        "components": comps,
                    }
                )
            pending.extend(batch_case(key, e, ed, provider, rng))
        pending.extend(unit_cases(key, e, ed, provider, rng))
        for item in pending:
            try:
                prompt, completion = runner.call(item["call"])
            except Exception as exc:  # LiteLLM refuses some entries; counted, not golden.
                failures[f"{item['dimension']}: {type(exc).__name__}"] += 1
                continue
            total = prompt + completion
            exact = item["exact_value"]
            ok = agree(total, exact)
            record: dict[str, Any] = {
                "id": len(lines) + 1,
                "model": key,
                "provider": str(e.get("litellm_provider")),
                "dimension": item["dimension"],
                "usage": item["usage"],
                "service_tier": item.get("service_tier") or "standard",
            }
            if item.get("data_residency"):
                record["data_residency"] = item["data_residency"]
            record["call"] = item["call"]
            record["litellm"] = {
                "prompt": repr(prompt),
                "completion": repr(completion),
                "total": repr(total),
            }
            record["exact"] = dec_str(exact) if exact is not None else None
            record["components"] = item["components"]
            record["agrees"] = ok
            if not ok:
                record["note"] = (
                    "LiteLLM's float total differs from the Decimal rule beyond 1e-12 relative;"
                    " see conformance/README.md"
                )
            lines.append(json.dumps(record, sort_keys=False, separators=(",", ":")))
            per_dimension[item["dimension"]] += 1
            agreements[item["dimension"]] += ok
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = ("\n".join(lines) + "\n").encode()
    # mtime=0: the same cases give the same bytes, so a regenerate without changes shows no diff.
    with gzip.GzipFile(
        filename="", mode="wb", fileobj=args.out.open("wb"), mtime=0, compresslevel=9
    ) as fh:
        fh.write(payload)
    from importlib.metadata import version

    print(f"litellm {version('litellm')}, seed {args.seed}: {len(lines)} cases -> {args.out}")
    print(f"{'dimension':<22} {'cases':>6} {'agree':>6}")
    for dimension in sorted(per_dimension):
        print(f"{dimension:<22} {per_dimension[dimension]:>6} {agreements[dimension]:>6}")
    print(f"{'total':<22} {sum(per_dimension.values()):>6} {sum(agreements.values()):>6}")
    if failures:
        print("LiteLLM raised (not in the golden file):")
        for what, n in sorted(failures.items()):
            print(f"  {n:>5}  {what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

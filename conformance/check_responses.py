"""Cross-check tests/data/responses against LiteLLM's own usage parsers (and their arithmetic).

    python3.11 conformance/check_responses.py

For every `<name>.json` beside a `<name>.expected.json`: first the expected partition's own
sums are checked against the body (the provider's totals must be reproduced exactly), then the
body is passed through the parser LiteLLM uses for that format and the partition LiteLLM's cost
code would price is compared with ours. A sum error is a bug in the data (exit 1); a LiteLLM
difference is printed as such: it is something docs/cost-semantics.md must explain, because
ratecard follows the provider's documentation, not LiteLLM's parser, where the two disagree.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESPONSES = HERE.parent / "tests" / "data" / "responses"

if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    from bootstrap import reexec_in_venv

    reexec_in_venv(str(Path(__file__).resolve()))

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_RUST"] = "false"  # Python code paths only, as in generate.py

PARTS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
    "image_input_tokens",
    "image_output_tokens",
    "web_search_calls",
    "seconds",
    "pages",
    "annotation_pages",
    "queries",
)
# Formats LiteLLM 1.110.2 has a usage parser for that yields the Usage its cost code prices (the
# others are only checked against their own sums): DeepSeek, xAI and Groq bodies go through
# LiteLLM's OpenAI-compatible Usage.
LITELLM_PARSED = frozenset(
    {"openai.chat", "openai.responses", "anthropic", "gemini", "bedrock", "deepseek", "xai", "groq"}
)


def sums(fmt: str, body: dict[str, Any], p: dict[str, int], unpriced: dict[str, int]) -> list[str]:
    """The provider's own totals, rebuilt from the partition: each must hold exactly.

    `unpriced` holds counts the body reports but no price applies to (Gemini's grounding-search
    context tokens): they still have to add up.
    """
    inputs = sum(unpriced.values()) + (
        p["input_tokens"]
        + p["cache_read_tokens"]
        + p["cache_write_tokens"]
        + p["cache_write_1h_tokens"]
        + p["audio_input_tokens"]
        + p["image_input_tokens"]
    )
    outputs = (
        p["output_tokens"]
        + p["reasoning_tokens"]
        + p["audio_output_tokens"]
        + p["image_output_tokens"]
    )
    checks: list[tuple[str, int, int]] = []
    if fmt in ("openai.chat", "deepseek", "groq"):
        u = body["usage"]
        checks += [("prompt_tokens", u["prompt_tokens"], inputs)]
        checks += [("completion_tokens", u["completion_tokens"], outputs)]
        checks += [("total_tokens", u["total_tokens"], inputs + outputs)]
        if fmt == "deepseek":
            checks += [
                ("prompt_cache_hit_tokens", u["prompt_cache_hit_tokens"], p["cache_read_tokens"])
            ]
            checks += [
                ("prompt_cache_miss_tokens", u["prompt_cache_miss_tokens"], p["input_tokens"])
            ]
    elif fmt == "xai":  # reasoning counted apart from the completion
        u = body["usage"]
        reasoning = u["completion_tokens_details"]["reasoning_tokens"]
        checks += [("prompt_tokens", u["prompt_tokens"], inputs)]
        checks += [("completion_tokens", u["completion_tokens"], outputs - reasoning)]
        checks += [("total_tokens", u["total_tokens"], inputs + outputs)]
        checks += [("num_sources_used", u["num_sources_used"], p["web_search_calls"])]
    elif fmt == "openai.embeddings":
        u = body["usage"]
        checks += [("prompt_tokens", u["prompt_tokens"], inputs)]
        checks += [("total_tokens", u["total_tokens"], inputs + outputs)]
    elif fmt in ("openai.images", "openai.speech") or (
        fmt == "openai.transcription" and body["usage"]["type"] == "tokens"
    ):
        u = body["usage"]
        checks += [("input_tokens", u["input_tokens"], inputs)]
        checks += [("output_tokens", u["output_tokens"], outputs)]
        checks += [("total_tokens", u["total_tokens"], inputs + outputs)]
    elif fmt == "openai.transcription":
        checks += [("seconds", body["usage"]["seconds"], p["seconds"])]
    elif fmt == "cohere":
        billed = body["usage"]["billed_units"]
        checks += [("billed_units.input_tokens", billed["input_tokens"], inputs)]
        checks += [("billed_units.output_tokens", billed["output_tokens"], outputs)]
    elif fmt == "mistral.ocr":
        u = body["usage_info"]
        checks += [("pages_processed", u["pages_processed"], p["pages"])]
        annotated = u.get("pages_processed_annotation", 0)
        checks += [("pages_processed_annotation", annotated, p["annotation_pages"])]
    elif fmt == "openai.responses":
        u = body["usage"]
        checks += [("input_tokens", u["input_tokens"], inputs)]
        checks += [("output_tokens", u["output_tokens"], outputs)]
        checks += [("total_tokens", u["total_tokens"], inputs + outputs)]
    elif fmt == "anthropic":
        # Compaction iterations are billed beside the top-level counts (added to them).
        u = dict(body["usage"])
        for it in u.get("iterations", []):
            if it["type"] == "compaction":
                for key in ("input_tokens", "output_tokens", "cache_read_input_tokens",
                            "cache_creation_input_tokens"):  # fmt: skip
                    u[key] = u.get(key, 0) + it.get(key, 0)
        writes = p["cache_write_tokens"] + p["cache_write_1h_tokens"]
        checks += [("input_tokens", u["input_tokens"], p["input_tokens"])]
        checks += [("cache_creation_input_tokens", u["cache_creation_input_tokens"], writes)]
        checks += [
            ("cache_read_input_tokens", u["cache_read_input_tokens"], p["cache_read_tokens"])
        ]
        checks += [("output_tokens", u["output_tokens"], outputs)]
    elif fmt == "gemini":
        u = body["usageMetadata"]
        tool = u.get("toolUsePromptTokenCount", 0)
        checks += [
            ("promptTokenCount+toolUsePromptTokenCount", u["promptTokenCount"] + tool, inputs)
        ]
        checks += [
            ("cachedContentTokenCount", u.get("cachedContentTokenCount", 0), p["cache_read_tokens"])
        ]
        # candidatesTokensDetails may split AUDIO/IMAGE output out of the candidates.
        candidates = p["output_tokens"] + p["audio_output_tokens"] + p["image_output_tokens"]
        checks += [("candidatesTokenCount", u["candidatesTokenCount"], candidates)]
        checks += [("thoughtsTokenCount", u.get("thoughtsTokenCount", 0), p["reasoning_tokens"])]
        checks += [("totalTokenCount", u["totalTokenCount"], inputs + outputs)]
    elif fmt == "bedrock":
        u = body["usage"]
        writes = p["cache_write_tokens"] + p["cache_write_1h_tokens"]
        checks += [("inputTokens", u["inputTokens"], p["input_tokens"])]
        checks += [("cacheWriteInputTokens", u.get("cacheWriteInputTokens", 0), writes)]
        checks += [
            ("cacheReadInputTokens", u.get("cacheReadInputTokens", 0), p["cache_read_tokens"])
        ]
        checks += [("totalTokens", u["totalTokens"], inputs + outputs)]
    return [f"{name}: body {got} != partition {want}" for name, got, want in checks if got != want]


def litellm_usage(fmt: str, body: dict[str, Any]) -> Any:
    """The Usage object LiteLLM builds from this body (the code path its cost functions see)."""
    from litellm.types.utils import Usage

    if fmt in ("openai.chat", "deepseek", "groq"):
        return Usage(**body["usage"])
    if fmt == "xai":
        from litellm.llms.xai.chat.transformation import XAIChatConfig
        from litellm.types.utils import ModelResponse

        # XAIChatConfig.transform_response maps num_sources_used to web_search_requests.
        response = ModelResponse(usage=Usage(**body["usage"]))
        XAIChatConfig()._enhance_usage_with_xai_web_search_fields(response, body)
        return response.usage
    if fmt == "openai.responses":
        from litellm.responses.utils import ResponseAPILoggingUtils

        return ResponseAPILoggingUtils._transform_response_api_usage_to_chat_usage(body["usage"])
    if fmt == "anthropic":
        from litellm.llms.anthropic.chat.transformation import AnthropicConfig

        return AnthropicConfig().calculate_usage(body["usage"], None, completion_response=body)
    if fmt == "gemini":
        from litellm.llms.vertex_ai.gemini.vertex_and_google_ai_studio_gemini import (
            VertexGeminiConfig,
        )

        return VertexGeminiConfig._calculate_usage(completion_response=body)
    if fmt == "bedrock":
        from litellm.llms.bedrock.chat.converse_transformation import AmazonConverseConfig

        return AmazonConverseConfig().transform_usage(body["usage"])
    raise ValueError(fmt)


def litellm_partition(usage: Any) -> dict[str, int]:
    """What generic_cost_per_token would price, in the neutral names (same rules, no prices)."""
    from litellm.litellm_core_utils.llm_cost_calc.utils import (
        parse_completion_tokens_details,
        parse_prompt_tokens_details,
    )

    p = dict.fromkeys(PARTS, 0)
    prompt = usage.prompt_tokens or 0
    if usage.prompt_tokens_details:
        d = parse_prompt_tokens_details(usage)
        p["cache_read_tokens"] = d["cache_hit_tokens"]
        p["audio_input_tokens"] = d["audio_tokens"]
        p["image_input_tokens"] = d["image_tokens"]
        details = d["cache_creation_token_details"]
        if details is not None:
            p["cache_write_tokens"] = details.ephemeral_5m_input_tokens or 0
            p["cache_write_1h_tokens"] = details.ephemeral_1h_input_tokens or 0
        else:
            p["cache_write_tokens"] = d["cache_creation_tokens"]
        text = d["text_tokens"]
        others = (
            d["cache_hit_tokens"]
            + d["audio_tokens"]
            + d["cache_creation_tokens"]
            + d["image_tokens"]
            + d["video_tokens"]
        )
        if text == 0 or (d["cache_hit_tokens"] > 0 and text + others > prompt):
            text = max(0, prompt - others)
        p["input_tokens"] = text
    else:
        p["input_tokens"] = prompt
    completion = usage.completion_tokens or 0
    if usage.completion_tokens_details is not None:
        c = parse_completion_tokens_details(usage)
        p["reasoning_tokens"] = c["reasoning_tokens"]
        p["audio_output_tokens"] = c["audio_tokens"]
        p["image_output_tokens"] = c["image_tokens"]
        text = c["text_tokens"]
        if text == 0:
            text = max(
                0, completion - c["reasoning_tokens"] - c["audio_tokens"] - c["image_tokens"]
            )
        p["output_tokens"] = text
    else:
        p["output_tokens"] = completion
    stu = getattr(usage, "server_tool_use", None)
    web = getattr(stu, "web_search_requests", None) if stu is not None else None
    if web is None and usage.prompt_tokens_details is not None:
        web = getattr(usage.prompt_tokens_details, "web_search_requests", None)
    p["web_search_calls"] = int(web or 0)
    return p


def litellm_tier(fmt: str, body: dict[str, Any], usage: Any) -> str:
    """The tier LiteLLM would bill: `_served_service_tier` (response, then usage), or Gemini's
    `usageMetadata.trafficType` through `_map_traffic_type_to_service_tier`, in our names."""
    from litellm.cost_calculator import _map_traffic_type_to_service_tier, _served_service_tier

    raw = _served_service_tier(body, usage)
    if raw is None and fmt == "anthropic":
        raw = body.get("usage", {}).get("service_tier")
    if raw is None and fmt == "gemini":
        traffic = body.get("usageMetadata", {}).get("trafficType")
        raw = _map_traffic_type_to_service_tier(traffic) if traffic else None
    if raw is None or str(raw).lower() in {"default", "standard", "auto", "scale"}:
        return "standard"
    return str(raw).lower()


def main() -> int:
    bad = 0
    differ = 0
    files = sorted(RESPONSES.glob("*/*.expected.json"))
    for expected_path in files:
        body_path = expected_path.with_name(expected_path.name.replace(".expected.json", ".json"))
        body = json.loads(body_path.read_text())
        expected = json.loads(expected_path.read_text())
        name = body_path.relative_to(RESPONSES)
        problems = sums(
            expected["format"], body, expected["partition"], expected.get("unpriced", {})
        )
        if problems:
            bad += 1
            print(f"DATA ERROR {name}: " + "; ".join(problems))
            continue
        if expected["format"] not in LITELLM_PARSED:
            print(f"sums hold        {name} (no LiteLLM usage parser to compare with)")
            continue
        usage = litellm_usage(expected["format"], body)
        got = litellm_partition(usage)
        diffs: dict[str, tuple[object, object]] = {
            k: (got[k], v) for k, v in expected["partition"].items() if got[k] != v
        }
        tier = litellm_tier(expected["format"], body, usage)
        if tier != expected["service_tier"]:
            diffs["service_tier"] = (tier, expected["service_tier"])
        if diffs:
            differ += 1
            shown = ", ".join(f"{k}: litellm {a} vs {b}" for k, (a, b) in diffs.items())
            print(f"litellm differs  {name}: {shown}")
        else:
            print(f"agrees           {name}")
    print(
        f"{len(files)} responses: {len(files) - bad - differ} agree with LiteLLM's parsers, ",
        end="",
    )
    print(f"{differ} differ (documented), {bad} data errors")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

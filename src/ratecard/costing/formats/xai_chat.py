"""xAI chat completions: OpenAI's `usage`, but reasoning counted apart from the completion.

xAI's accounting (its API reference, "reasoning tokens": completion and reasoning are separate
output counts, both billed at the output price; genai-prices' x_ai extractor and the Vercel AI
SDK's xAI provider add them): `completion_tokens` EXCLUDES
`completion_tokens_details.reasoning_tokens`, and `total_tokens = prompt_tokens +
completion_tokens + reasoning_tokens`. Bodies relayed through OpenAI-compatible proxies are
sometimes re-counted the OpenAI way (reasoning inside the completion): a `total_tokens` of
prompt + completion says so, and is followed (with a note). The prompt is OpenAI's:
`prompt_tokens` includes `prompt_tokens_details.cached_tokens`, `.audio_tokens` and
`.image_tokens` (`.text_tokens` includes the cached ones, so is not read).

xAI bills "prompt text, audio and image tokens" at the prompt price (TEXT_PRICED: where the
model lists no price of their own). `num_sources_used` counts Live Search sources, billed per
source: web_search_calls (priced by the model's web-search price, or refused without one).
`cost_in_usd_ticks`, what xAI says it charged, is not read: ratecard prices from its catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ratecard.costing.formats.counts import (
    count,
    field_path,
    model_name,
    new_read,
    optional_count,
    usage_block,
)
from ratecard.costing.formats.openai_chat import completion_parts, prompt_parts
from ratecard.costing.usage import ReadUsage, Usage
from ratecard.vocabulary import UsageFormat

FORMAT = UsageFormat.XAI
USAGE_KEY = "usage"
MARKERS = frozenset({"num_sources_used"})
KINDS: tuple[tuple[str, str], ...] = ()  # `"object": "chat.completion"`, as OpenAI's: markers tell
TEXT_PRICED = frozenset({"image_input_tokens", "audio_input_tokens"})


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read an xAI chat `usage` object given at `path`."""
    partition, notes = _partition(usage, path)
    return new_read(usage=partition, format=FORMAT, notes=notes)


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole xAI chat completion body given at `path`."""
    usage = usage_block(body, USAGE_KEY, path)
    partition, notes = _partition(usage, field_path(path, USAGE_KEY))
    return new_read(
        usage=partition, format=FORMAT, model=model_name(body, "model", path), notes=notes
    )


def _partition(usage: Mapping[str, Any], path: str) -> tuple[Usage, tuple[str, ...]]:
    prompt = count(usage, "prompt_tokens", path)
    text_in, cached, audio_in, image_in = prompt_parts(usage, prompt, path)
    partition, notes = completion_parts(
        usage, prompt, path, text_in, cached, audio_in, image_in, True
    )
    if partition.reasoning_tokens and usage.get("total_tokens") is None:
        notes = (
            *notes,
            f"{field_path(path, 'total_tokens')} not given: reasoning_tokens taken to be "
            "outside completion_tokens, as xAI counts them",
        )
    sources = optional_count(usage, "num_sources_used", path)
    if sources:
        partition = partition._replace(web_search_calls=sources)
    return partition, notes

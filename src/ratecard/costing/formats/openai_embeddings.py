"""OpenAI Embeddings (and the APIs that answer in its shape): `usage` counts input only.

`usage` is `{"prompt_tokens", "total_tokens"}` (openai-python's CreateEmbeddingResponse.Usage):
an embedding has no output, so `total_tokens = prompt_tokens`, and `prompt_tokens` is what is
billed (at the input price). Azure OpenAI, Mistral and other compatible APIs send the same body
(`"object": "list"`, `data[]` of embeddings, `model`); some add `completion_tokens: 0`, read as
output tokens (none). A body whose `usage` states only `total_tokens` (Voyage AI's) is billed
by that total: it is the input, with a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ratecard.costing.formats.counts import (
    count,
    field_path,
    model_name,
    new_read,
    new_usage,
    optional_count,
    parts_overflow,
    total_note,
    usage_block,
)
from ratecard.costing.usage import ReadUsage, Usage
from ratecard.vocabulary import UsageFormat

FORMAT = UsageFormat.OPENAI_EMBEDDINGS
USAGE_KEY = "usage"
# Its keys are Chat Completions' too: `prompt_tokens` without `completion_tokens` is this format
# (formats/__init__.py, the defaults), as is a body that says it is a list.
MARKERS: frozenset[str] = frozenset()
KINDS = (("object", "list"),)
TEXT_PRICED: frozenset[str] = frozenset()


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read an embeddings `usage` object given at `path`."""
    partition, notes = _partition(usage, path)
    return new_read(usage=partition, format=FORMAT, notes=notes)


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole embeddings response body given at `path`."""
    usage = usage_block(body, USAGE_KEY, path)
    partition, notes = _partition(usage, field_path(path, USAGE_KEY))
    return new_read(
        usage=partition, format=FORMAT, model=model_name(body, "model", path), notes=notes
    )


def _partition(usage: Mapping[str, Any], path: str) -> tuple[Usage, tuple[str, ...]]:
    output = optional_count(usage, "completion_tokens", path)
    if usage.get("prompt_tokens") is None and usage.get("total_tokens") is not None:
        # Only a total: an embedding's tokens are all input.
        total = count(usage, "total_tokens", path)
        if output > total:
            raise parts_overflow({"completion_tokens": output}, "total_tokens", total, path)
        only_total = (
            f"{field_path(path, 'total_tokens')} priced as input tokens: the usage states no "
            "prompt_tokens, and an embedding has no output"
        )
        return new_usage(input_tokens=total - output, output_tokens=output), (only_total,)
    prompt = count(usage, "prompt_tokens", path)
    note = total_note(usage, "total_tokens", prompt + output, _TOTAL, path)
    partition = new_usage(input_tokens=prompt, output_tokens=output)
    return partition, () if note is None else (note,)


_TOTAL = "prompt_tokens (+ completion_tokens, when given)"

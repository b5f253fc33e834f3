"""OpenAI Images (generations and edits, GPT Image models): `usage` by modality.

openai-python's ImagesResponse.Usage: `input_tokens` ("images and text") is split by
`input_tokens_details.text_tokens` and `.image_tokens` (input images of an edit), and
`output_tokens` by `output_tokens_details.image_tokens` and `.text_tokens` when given; without
output details every output token is an image token (gpt-image-1's bodies: "the number of image
tokens in the output image"). `total_tokens = input_tokens + output_tokens`. Text input, image
input and image output have their own prices (gpt-image-1: $5, $10 and $40 per million).

Details that add up to more than their total are refused; ones that add up to less leave the
rest as text input (output: image), with a note. The body names no model (`created`, `data`,
`background`, `output_format`, `quality`, `size`, `usage`): give `model`. Images priced per
image (DALL-E) have no usage block: give `images_out` as flat counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ratecard.costing.formats.counts import (
    count,
    count_or_none,
    field_path,
    new_read,
    new_usage,
    object_at,
    optional_count,
    parts_overflow,
    total_note,
    usage_block,
)
from ratecard.costing.usage import ReadUsage, Usage
from ratecard.vocabulary import UsageFormat

FORMAT = UsageFormat.OPENAI_IMAGES
USAGE_KEY = "usage"
# `input_tokens_details` and `output_tokens_details` are the Responses API's keys too: these
# counters inside them are this format's alone.
MARKERS = frozenset(
    {
        "input_tokens_details.image_tokens",
        "input_tokens_details.text_tokens",
        "output_tokens_details.image_tokens",
        "output_tokens_details.text_tokens",
    }
)
KINDS: tuple[tuple[str, str], ...] = ()  # the body names no kind: its markers tell
TEXT_PRICED: frozenset[str] = frozenset()


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read an Images `usage` object given at `path`."""
    partition, notes = _partition(usage, path)
    return new_read(usage=partition, format=FORMAT, notes=notes)


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole Images response body given at `path` (its model is None: not in it)."""
    usage = usage_block(body, USAGE_KEY, path)
    partition, notes = _partition(usage, field_path(path, USAGE_KEY))
    return new_read(usage=partition, format=FORMAT, notes=notes)


def _partition(usage: Mapping[str, Any], path: str) -> tuple[Usage, tuple[str, ...]]:
    notes: list[str] = []
    inputs = count(usage, "input_tokens", path)
    outputs = count(usage, "output_tokens", path)
    text_in, image_in = _split(usage, "input_tokens", inputs, path, "text_tokens", notes)
    image_out, text_out = _split(usage, "output_tokens", outputs, path, "image_tokens", notes)
    note = total_note(usage, "total_tokens", inputs + outputs, "input_tokens + output_tokens", path)
    if note is not None:
        notes.append(note)
    partition = new_usage(
        input_tokens=text_in,
        image_input_tokens=image_in,
        output_tokens=text_out,
        image_output_tokens=image_out,
    )
    return partition, tuple(notes)


def _split(
    usage: Mapping[str, Any], key: str, total: int, path: str, rest: str, notes: list[str]
) -> tuple[int, int]:
    """(`rest` tokens, the other modality's) of `key`: what its details say, the remainder
    counted as `rest` (text for input, image for output)."""
    where = (path, f"{key}_details")
    details = object_at(usage, f"{key}_details", path)
    other = "image_tokens" if rest == "text_tokens" else "text_tokens"
    stated_rest = count_or_none(details, rest, *where)
    stated_other = optional_count(details, other, *where)
    if stated_rest is None:
        if stated_other > total:
            raise parts_overflow({other: stated_other}, key, total, *where)
        return total - stated_other, stated_other
    if stated_rest + stated_other > total:
        raise parts_overflow({rest: stated_rest, other: stated_other}, key, total, *where)
    if stated_rest + stated_other < total:
        notes.append(
            f"{field_path(*where)} lists {stated_rest + stated_other} of {key} ({total}): the "
            f"rest priced as {rest.removesuffix('_tokens')} tokens"
        )
    return total - stated_other, stated_other

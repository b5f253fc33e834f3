"""Mistral OCR (Document AI): `usage_info` counts pages, priced per page.

Mistral's OCRResponse: `pages[]`, `model`, `document_annotation`, and `usage_info` with
`pages_processed` (billed at the OCR page price) and `doc_size_bytes` (not billed); with an
annotation format in the request, `pages_processed_annotation` counts the pages annotated,
billed at the annotation page price beside the OCR price (LiteLLM's `ocr_cost` and its batch
OCR cost tracking read both). Azure AI Foundry's deployments answer in the same shape.
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
    usage_block,
)
from ratecard.costing.usage import ReadUsage, Usage
from ratecard.vocabulary import UsageFormat

FORMAT = UsageFormat.MISTRAL_OCR
USAGE_KEY = "usage_info"
MARKERS = frozenset({"pages_processed", "pages_processed_annotation"})
KINDS: tuple[tuple[str, str], ...] = ()  # a body with `usage_info` is this format's
TEXT_PRICED: frozenset[str] = frozenset()


def read_usage(usage: Mapping[str, Any], path: str) -> ReadUsage:
    """Read an OCR `usage_info` object given at `path`."""
    return new_read(usage=_partition(usage, path), format=FORMAT)


def read_response(body: Mapping[str, Any], path: str) -> ReadUsage:
    """Read a whole OCR response body given at `path`."""
    usage = usage_block(body, USAGE_KEY, path)
    return new_read(
        usage=_partition(usage, field_path(path, USAGE_KEY)),
        format=FORMAT,
        model=model_name(body, "model", path),
    )


def _partition(usage: Mapping[str, Any], path: str) -> Usage:
    return new_usage(
        pages=count(usage, "pages_processed", path),
        annotation_pages=optional_count(usage, "pages_processed_annotation", path),
    )

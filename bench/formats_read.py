"""Reads per second of each provider usage format (the batch path's budget).

    .venv/bin/python bench/formats_read.py [--seconds 0.5] [--repeat 5]

For each format, one recorded body of tests/data/responses (the richest: cache, reasoning or
modality details) is read in a tight loop three ways: its usage block with the format named,
the same block detected from its keys (format=None), and the whole response detected. Prints
the best of `--repeat` runs (the machine is shared: the best run is the least disturbed) as
`<format> <way>: N reads/s`, after the floor: how many `Usage` objects a second can be built at
all. Target: ~100,000 usage reads a second per core.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ratecard.costing.formats import FORMATS, read_response, read_usage
from ratecard.costing.usage import Usage

RESPONSES = Path(__file__).resolve().parents[1] / "tests" / "data" / "responses"
BODIES = {
    "openai.chat": "openai_chat/o4-mini_reasoning_cached.json",
    "openai.responses": "openai_responses/gpt-4.1_web_search.json",
    "anthropic": "anthropic/claude-sonnet-4_cache_5m_1h.json",
    "gemini": "gemini/gemini-2.5-flash_implicit_cache_audio.json",
    "bedrock": "bedrock/converse_cache_1h.json",
    "openai.embeddings": "openai_embeddings/text-embedding-3-small.json",
    "openai.images": "openai_images/gpt-image-1.5_edit.json",
    "openai.transcription": "openai_transcription/gpt-4o-transcribe_tokens.json",
    "openai.speech": "openai_speech/gpt-4o-mini-tts_speech_audio_done.json",
    "deepseek": "deepseek/deepseek-chat_cache_hit.json",
    "xai": "xai/grok-4-0709_reasoning_cached.json",
    "groq": "groq/gpt-oss-120b_flex_cached.json",
    "cohere": "cohere/command-r-plus_tool_call_cached.json",
    "mistral.ocr": "mistral_ocr/mistral-ocr-latest_annotation.json",
}
assert tuple(BODIES) == tuple(FORMATS), "one body per format, in the registry's order"


def rate(read: Callable[[], Any], seconds: float, repeat: int) -> float:
    """Calls a second, best of `repeat` timed runs of about `seconds` each."""
    batch, best = 1000, 0.0
    for _ in range(repeat):
        calls, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            for _ in range(batch):
                read()
            calls += batch
        best = max(best, calls / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    # The floor every reader pays: building the frozen Usage it returns (19 fields).
    floor = partial(Usage, input_tokens=1, output_tokens=1, cache_read_tokens=1)
    print(f"Usage(...) construction alone: {rate(floor, args.seconds, args.repeat):,.0f} /s")
    for name, relative in BODIES.items():
        body = json.loads((RESPONSES / relative).read_text())
        usage = body[FORMATS[name].usage_key]
        ways: dict[str, Callable[[], Any]] = {
            "usage (named)": partial(read_usage, usage, name),
            "usage (detected)": partial(read_usage, usage),
            "response (detected)": partial(read_response, body),
        }
        if name == "openai.speech":
            del ways["usage (detected)"]  # its keys are other formats' too: only the body tells
        for way, read in ways.items():
            print(f"{name} {way}: {rate(read, args.seconds, args.repeat):,.0f} reads/s")


if __name__ == "__main__":
    main()

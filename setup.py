"""Build step beyond pyproject.toml (which keeps all the metadata): the batch pricing hot path,
compiled to C extension modules by mypyc at install (`make install`, the image's wheel).

Why mypyc and not hand-written C: it compiles the very Python source, already type-checked, so
there is one implementation and nothing to keep in step; it is part of mypy, which the project
already pins and runs (`make types`), and it is well kept: mypy and black ship compiled by it.
RATECARD_PURE_PYTHON=1 skips it: the same modules, plain Python, the same behaviour (slower).
tests/test_compiled.py checks that the installed build is the compiled one and not stale.
"""

import os
import sys

# The compiled modules (paths from the repository root). The Makefile and tests/test_compiled.py
# read this list: `make install` rebuilds when one of them, or this file, changes.
COMPILED = [
    "src/ratecard/costing/cost_batch.py",
    "src/ratecard/costing/cost_requests.py",
    "src/ratecard/costing/formats/__init__.py",
    "src/ratecard/costing/formats/anthropic_messages.py",
    "src/ratecard/costing/formats/bedrock_converse.py",
    "src/ratecard/costing/formats/cohere_chat.py",
    "src/ratecard/costing/formats/counts.py",
    "src/ratecard/costing/formats/deepseek_chat.py",
    "src/ratecard/costing/formats/gemini_generate.py",
    "src/ratecard/costing/formats/groq_chat.py",
    "src/ratecard/costing/formats/mistral_ocr.py",
    "src/ratecard/costing/formats/openai_chat.py",
    "src/ratecard/costing/formats/openai_embeddings.py",
    "src/ratecard/costing/formats/openai_images.py",
    "src/ratecard/costing/formats/openai_responses.py",
    "src/ratecard/costing/formats/openai_speech.py",
    "src/ratecard/costing/formats/openai_transcription.py",
    "src/ratecard/costing/formats/xai_chat.py",
]


def pure_python() -> bool:
    return os.environ.get("RATECARD_PURE_PYTHON", "") not in ("", "0")


if __name__ == "__main__":  # setuptools' build backend runs this file as __main__
    from setuptools import setup

    # pip's first call only writes metadata (dist_info): no extension is built there, so mypyc's
    # ~15 s of type-checking and C generation would be thrown away.
    if pure_python() or sys.argv[1:2] in (["dist_info"], ["egg_info"]):
        setup()
    else:
        from mypyc.build import mypycify

        setup(ext_modules=mypycify(COMPILED, opt_level="3"))

"""numbered_batches: NDJSON split across arbitrary chunk boundaries, numbered as an editor
numbers lines, blank lines skipped, an overlong line reported without being kept."""

from __future__ import annotations

import random

import pytest

from ratecard.costing import cost_batch
from ratecard.costing.cost_batch import numbered_batches

LIMIT = 50


def expected(data: bytes) -> list[tuple[int, bytes | None]]:
    """What the splitter must give, from the whole body at once."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the newline ending the last line opens no new one
    return [
        (number, None if len(raw) > LIMIT else raw)
        for number, raw in enumerate(lines, start=1)
        if len(raw) > LIMIT or raw.strip()
    ]


def test_any_chunking_gives_the_lines_of_the_whole_body(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cost_batch, "MAX_LINE", LIMIT)
    rng = random.Random(3)
    pieces = [b"", b" ", b"abc", b"x" * LIMIT, b"y" * (LIMIT + 1), b"z" * 4 * LIMIT, b"{}"]
    for _ in range(3000):
        lines = [rng.choice(pieces) for _ in range(rng.randint(0, 12))]
        data = b"\n".join(lines) + rng.choice([b"", b"\n"])
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randint(0, 6))))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert numbered(chunks) == expected(data), (data, chunks)


def test_a_body_that_is_one_huge_line_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cost_batch, "MAX_LINE", LIMIT)
    chunks = [b"a" * 40] * 1000 + [b"\n{}\n"]
    assert numbered(chunks) == [(1, None), (2, b"{}")]


def numbered(chunks: list[bytes]) -> list[tuple[int, bytes | None]]:
    """The pairs of every batch, in order (no batch is empty)."""
    batches = list(numbered_batches(chunks))
    assert all(batches)
    return [pair for batch in batches for pair in batch]

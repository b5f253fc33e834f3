"""ndjson_on_two_cores: the same bytes as one BatchPricer, whatever the child does.

Real forks, real pipes: a body of many groups (good lines, errors, `at` lines the child leaves
to the parent, overlong and blank lines) must come back exactly as the lone pricer writes it;
a child that dies, hangs or is left by a client that disconnects is killed and reaped.
"""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from ratecard.catalog.identity import Resolution
from ratecard.catalog.model import PriceSet, TimeWindow
from ratecard.costing import cost_batch, cost_batch_child
from ratecard.costing.cost_batch import BatchPricer
from ratecard.costing.cost_batch_child import ndjson_on_two_cores
from ratecard.costing.cost_requests import ModelAt
from ratecard.errors import NotFound
from tests.support.conformance import snapshot

NOW = datetime(2026, 7, 24, 12, 30, tzinfo=UTC)
GROUP = 64


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    return snapshot()[0]


def resolver(models: dict[str, Any], parent: int) -> Any:
    """Resolve from the snapshot; a request with `at` only in the parent process (the child
    must leave it to the parent: it stands for the database)."""

    def resolve(model_id: str, source: str | None, at: datetime | None) -> ModelAt:
        if at is not None and os.getpid() != parent:
            os._exit(3)  # the child resolved an `at`: its part is then priced by the parent
        price = models.get(model_id)
        if price is None:
            raise NotFound(f"no model {model_id!r}", field="model")
        version = 8 if at is not None else 7
        return ModelAt(Resolution(price, model_id, "exact"), price, version, "2026-07-24")

    return resolve


def body(models: dict[str, Any], lines: int, seed: int) -> bytes:
    rng = random.Random(seed)
    ids = sorted(models)
    out = []
    for _ in range(lines):
        kind = rng.random()
        request: dict[str, Any] = {"model": rng.choice(ids), "input_tokens": rng.randint(0, 9999)}
        if kind < 0.05:
            request["at"] = "2026-07-01T10:00:00Z"
        elif kind < 0.1:
            request["output_tokens"] = -1
        elif kind < 0.12:
            out.append(b"   ")  # blank: no result, but counted
            continue
        elif kind < 0.13:
            out.append(b"x" * 300)  # longer than the test's MAX_LINE: a 413 object
            continue
        elif kind < 0.15:
            out.append(b"{not json")
            continue
        out.append(orjson.dumps(request))
    return b"\n".join(out) + b"\n"


def chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def settled(before: set[int]) -> set[int]:
    """This process's children once those beyond `before` are gone (a stopped child is
    reaped by a thread, within moments), or as they are after 10 s."""
    deadline = time.monotonic() + 10
    while (found := children()) != before and time.monotonic() < deadline:
        time.sleep(0.01)
    return found


def children() -> set[int]:
    """This process's child processes (zombies included), from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            found.add(int(stat.parent.name))
    return found


@pytest.fixture(autouse=True)
def small_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cost_batch_child, "GROUP", GROUP)
    monkeypatch.setattr(cost_batch, "MAX_LINE", 200)


def alone_and_on_two(
    models: dict[str, Any], data: bytes, size: int = 1000
) -> tuple[bytes, int, bytes, int]:
    alone = BatchPricer(resolver(models, os.getpid()), now=NOW)
    expected = b"".join(alone.ndjson(chunks(data)))
    two = BatchPricer(resolver(models, os.getpid()), now=NOW)
    got = b"".join(ndjson_on_two_cores(two, chunks(data, size)))
    return expected, alone.failed, got, two.failed


# Chunks of a few lines each, and chunks of many groups' lines (a chunk's lines are cut
# across groups).
@pytest.mark.parametrize("size", [1000, 1 << 20])
def test_two_cores_write_the_lone_pricers_bytes(models: dict[str, Any], size: int) -> None:
    before = children()
    for seed, lines in ((1, 10), (2, GROUP - 1), (3, GROUP), (4, 20 * GROUP + 7)):
        data = body(models, lines, seed)
        expected, failed, got, two_failed = alone_and_on_two(models, data, size)
        assert got == expected
        assert two_failed == failed
    assert settled(before) == before


def test_groups_stop_at_their_byte_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cost_batch_child, "GROUP_BYTES", 1000)
    data = b"\n".join([b"x" * 99] * 100) + b"\n"  # 100 lines of 99 bytes
    groups = cost_batch_child._Groups(chunks(data, 500))  # 5 lines a chunk
    sizes = []
    more = True
    while more:
        group, more = groups.next()
        sizes.append(len(group))
        # Up to the limit, plus at most one chunk's lines.
        assert sum(len(raw or b"") for _n, raw in group) < 1000 + 500
    assert sum(sizes) == 100
    assert max(sizes) < GROUP
    assert next(groups.batches, None) is None  # every chunk was read


def test_an_at_line_in_the_childs_part_is_priced_by_the_parent(models: dict[str, Any]) -> None:
    # The resolver kills a child that resolves an `at` line: with `at` on every line, any
    # line the child failed to leave would take its whole part down (the parent then prices
    # it, so the bytes match either way; the child's exit is what tells them apart).
    line = orjson.dumps({"model": "gpt-4o", "input_tokens": 5, "at": "2026-07-01T10:00:00Z"})
    data = b"\n".join([line] * (3 * GROUP)) + b"\n"
    exits: list[int] = []
    stop = cost_batch_child._Child.stop

    def recorded(self: Any) -> None:
        os.close(self.jobs)  # EOF: a healthy child exits 0 on its own
        assert self.gone.wait(10)  # reaped by its thread
        exits.append(self.exit_code)
        stop(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cost_batch_child._Child, "stop", recorded)
        expected, _failed, got, _two_failed = alone_and_on_two(models, data)
    assert got == expected
    assert b'"price_version":8' in got
    assert exits == [0]


class RecordedHistory:
    """A history the child reads itself: its resolvers answer `at` lines as the parent's
    resolver does, writing to `log` which process resolved one (or failed to, as a database
    that is down does) and which closed the connection."""

    def __init__(self, models: dict[str, Any], log: Path, fail: bool = False) -> None:
        self.models, self.log, self.fail = models, log, fail

    def resolver(self) -> Any:
        def resolve(model_id: str, source: str | None, at: datetime | None) -> ModelAt:
            self.write("failed" if self.fail else "resolved")
            if self.fail:
                raise OSError("connection refused")
            price = self.models[model_id]
            return ModelAt(Resolution(price, model_id, "exact"), price, 8, "2026-07-24")

        return resolve

    def close(self) -> None:
        self.write("closed")

    def write(self, what: str) -> None:
        with self.log.open("a") as log:
            log.write(f"{os.getpid()} {what}\n")

    def events(self) -> list[tuple[bool, str]]:
        """(by the child, what) in order."""
        lines = self.log.read_text().split() if self.log.exists() else []
        return [
            (int(pid) != os.getpid(), what)
            for pid, what in zip(lines[::2], lines[1::2], strict=True)
        ]


@pytest.mark.parametrize("fail", [False, True])
def test_the_child_reads_the_history_of_its_at_lines_on_its_own_connection(
    models: dict[str, Any], tmp_path: Path, fail: bool
) -> None:
    # The parent's resolver kills a child that resolves an `at` line with it: the child must
    # use the history given for it, and, when that read fails, leave the lines to the parent
    # after one try (no line waits on a database already found down).
    line = orjson.dumps({"model": "gpt-4o", "input_tokens": 5, "at": "2026-07-01T10:00:00Z"})
    data = b"\n".join([line] * (3 * GROUP)) + b"\n"
    history = RecordedHistory(models, tmp_path / "log", fail)
    exits: list[int | None] = []
    stop = cost_batch_child._Child.stop

    def recorded(self: Any) -> None:
        os.close(self.jobs)  # EOF: a healthy child exits 0 on its own, closing the history
        assert self.gone.wait(10)
        exits.append(self.exit_code)
        stop(self)

    alone = BatchPricer(resolver(models, os.getpid()), now=NOW)
    expected = b"".join(alone.ndjson(chunks(data)))
    two = BatchPricer(resolver(models, os.getpid()), now=NOW)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cost_batch_child._Child, "stop", recorded)
        got = b"".join(ndjson_on_two_cores(two, chunks(data), history=history))
    assert got == expected and b'"price_version":8' in got
    assert exits == [0]
    events = history.events()
    by_child = [what for child, what in events if child]
    if fail:
        assert by_child == ["failed", "closed"]
    else:
        # Every line of the child's part resolved there (a few, rebalanced, at least one
        # group's share), none by the parent through the history.
        assert by_child.count("resolved") >= 1 and by_child[-1] == "closed"
        assert all(child for child, _what in events)


@pytest.mark.parametrize("fault", ["dies", "hangs", "garbles", "cuts", "blank"])
def test_a_failing_child_is_killed_and_the_parent_prices_alone(
    models: dict[str, Any], monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    def serve(_pricer: Any, jobs: int, results: int, buffers: Any) -> None:
        os.read(jobs, 1)
        if fault == "dies":
            os._exit(9)
        if fault == "garbles":  # one line for a job of many
            cost_batch_child._pwrite(buffers.results[0], b"{}\n")
            cost_batch_child._write(results, cost_batch_child._DONE.pack(0, 3, 0, 0, 0.1))
        if fault == "cuts":  # shorter than a result's head
            cost_batch_child._write(results, b"\x00" * 8)
        if fault == "blank":  # the job's count of lines, one of them empty but not said so
            lines = b"{}\n" * (GROUP // 2 - 1) + b"\n"
            cost_batch_child._pwrite(buffers.results[0], lines)
            head = cost_batch_child._DONE.pack(0, len(lines), 0, 0, 0.1)
            cost_batch_child._write(results, head)
        time.sleep(60)

    monkeypatch.setattr(cost_batch_child, "_serve", serve)
    monkeypatch.setattr(cost_batch_child, "CHILD_TIMEOUT", 0.5)
    before = children()
    data = body(models, 5 * GROUP, 5)
    expected, failed, got, two_failed = alone_and_on_two(models, data)
    assert got == expected
    assert two_failed == failed
    assert settled(before) == before


def test_a_client_gone_mid_body_leaves_no_child(models: dict[str, Any]) -> None:
    data = body(models, 10 * GROUP, 6)

    def disconnecting() -> Iterator[bytes]:
        sent = 0
        for chunk in chunks(data):
            yield chunk
            sent += len(chunk)
            if sent > len(data) // 2:
                raise OSError("client disconnected")

    before = children()
    pricer = BatchPricer(resolver(models, os.getpid()), now=NOW)
    results = ndjson_on_two_cores(pricer, disconnecting())
    with pytest.raises(OSError, match="disconnected"):
        for _piece in results:
            assert children() - before  # the child prices while the body comes
    assert settled(before) == before
    # And a reader that stops early (closes the generator) stops the child too.
    results = ndjson_on_two_cores(pricer, chunks(data))
    next(results)
    results.close()
    assert settled(before) == before


def test_a_child_forked_from_a_request_thread_prices_and_exits_cleanly(
    models: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # gunicorn's gthread worker answers in a thread, not the main one: the child (then its
    # process's only thread) must reset its signals and price its parts, and exit 0 at EOF.
    exits: list[int] = []
    stop = cost_batch_child._Child.stop

    def recorded(self: Any) -> None:
        os.close(self.jobs)
        assert self.gone.wait(10)
        exits.append(self.exit_code)
        stop(self)

    monkeypatch.setattr(cost_batch_child._Child, "stop", recorded)
    data = body(models, 6 * GROUP, 7)
    expected = b"".join(BatchPricer(resolver(models, os.getpid()), now=NOW).ndjson(chunks(data)))
    prepared: list[bool] = []
    got: list[bytes] = []
    pricer = BatchPricer(resolver(models, os.getpid()), now=NOW)

    def request_thread() -> None:
        pieces = ndjson_on_two_cores(pricer, chunks(data), prepare=lambda: prepared.append(True))
        got.append(b"".join(pieces))

    thread = threading.Thread(target=request_thread)
    thread.start()
    thread.join(timeout=60)
    assert got == [expected]
    assert prepared == [True]
    assert exits == [0]


@pytest.mark.timeout(60)
def test_jobs_and_results_larger_than_a_pipe_buffer_do_not_deadlock(
    models: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two jobs in flight, each far larger than a pipe's 64 KiB buffer both ways (job k+1 is
    # written while the child prices job k, whose results it then writes): through pipes the
    # two processes would wait on each other for ever; through the memory files they do not.
    monkeypatch.setattr(cost_batch_child, "GROUP", 512)
    monkeypatch.setattr(cost_batch, "MAX_LINE", 1024 * 1024)
    rng = random.Random(8)
    ids = sorted(models)
    lines = []
    for _ in range(6 * 512):
        usage = {"prompt_tokens": rng.randint(0, 9999), "completion_tokens": rng.randint(0, 99)}
        response = {"id": "x" * 3000, "object": "chat.completion", "usage": usage}
        lines.append(orjson.dumps({"model": rng.choice(ids), "response": response}))
    data = b"\n".join(lines) + b"\n"
    before = children()
    expected, failed, got, two_failed = alone_and_on_two(models, data)
    assert got == expected
    assert two_failed == failed
    assert len(got) > 6 * 512 * 300  # results of ~700 bytes a line: ~180 KiB per child part
    assert settled(before) == before


# --- the child kept between batches (catalog given) -------------------------------------------


def two_batches(models: dict[str, Any], first: object, second: object) -> tuple[int, int]:
    """Price two bodies, each with its catalog object; check each against a lone pricer;
    return the pid of the child kept after each."""
    kept = []
    for seed, catalog in ((11, first), (12, second)):
        data = body(models, 6 * GROUP, seed)
        expected = b"".join(
            BatchPricer(resolver(models, os.getpid()), now=NOW).ndjson(chunks(data))
        )
        pricer = BatchPricer(resolver(models, os.getpid()), now=NOW)
        assert b"".join(ndjson_on_two_cores(pricer, chunks(data), catalog=catalog)) == expected
        [(child, its_catalog)] = cost_batch_child._kept
        assert its_catalog is catalog
        kept.append(child.pid)
    return kept[0], kept[1]


def discard_kept() -> None:
    """Stop the kept child (another test, or the API's tests, may have left one), and wait
    until it is reaped: no test here counts it among its own."""
    kept = list(cost_batch_child._kept)
    cost_batch_child.discard_kept()
    for child, _catalog in kept:
        assert child.gone.wait(10)


@pytest.fixture(autouse=True)
def no_kept_child() -> Iterator[None]:
    discard_kept()
    yield
    discard_kept()


def test_a_kept_child_prices_the_next_batch_of_the_same_catalog(
    models: dict[str, Any], no_kept_child: None
) -> None:
    before = children()
    catalog = object()
    first, second = two_batches(models, catalog, catalog)
    assert first == second  # no second fork
    assert children() - before == {first}  # alive, waiting for the next batch
    discard_kept()
    assert settled(before) == before


def test_another_catalog_replaces_the_kept_child(
    models: dict[str, Any], no_kept_child: None
) -> None:
    before = children()
    first, second = two_batches(models, object(), object())
    assert first != second
    assert settled(before | {second}) == before | {second}  # the first one stopped, reaped


def test_a_kept_child_prices_at_each_batchs_own_instant(
    models: dict[str, Any], no_kept_child: None
) -> None:
    # A model whose prices change with the time of day: the kept child must price each batch
    # at that batch's instant, not the one it was forked in.
    night = PriceSet(input_per_token=Decimal("0.001"))
    windowed = dataclasses.replace(
        models["gpt-4o"], model_id="windowed", windows=(TimeWindow(0, 600, night),)
    )
    catalog = {**models, "windowed": windowed}
    data = b"".join(b'{"model":"windowed","input_tokens":1000}\n' for _ in range(3 * GROUP))
    for now in (NOW, NOW.replace(hour=3), NOW):
        alone = b"".join(BatchPricer(resolver(catalog, os.getpid()), now=now).ndjson(chunks(data)))
        pricer = BatchPricer(resolver(catalog, os.getpid()), now=now)
        got = b"".join(ndjson_on_two_cores(pricer, chunks(data), catalog=catalog))
        assert got == alone
        assert got.count(b'"window":"0000-0600"') == (3 * GROUP if now.hour == 3 else 0)
    assert len(cost_batch_child._kept) == 1


def test_a_batch_cut_short_does_not_keep_its_child(
    models: dict[str, Any], no_kept_child: None
) -> None:
    before = children()
    pricer = BatchPricer(resolver(models, os.getpid()), now=NOW)
    results = ndjson_on_two_cores(pricer, chunks(body(models, 10 * GROUP, 13)), catalog=models)
    next(results)
    results.close()
    assert cost_batch_child._kept == []
    assert settled(before) == before


def test_a_kept_child_left_idle_exits_and_the_next_batch_forks(
    models: dict[str, Any], monkeypatch: pytest.MonkeyPatch, no_kept_child: None
) -> None:
    monkeypatch.setattr(cost_batch_child, "STANDBY_IDLE", 0.3)
    before = children()
    data = body(models, 4 * GROUP, 14)
    expected = b"".join(BatchPricer(resolver(models, os.getpid()), now=NOW).ndjson(chunks(data)))
    pricer = BatchPricer(resolver(models, os.getpid()), now=NOW)
    assert b"".join(ndjson_on_two_cores(pricer, chunks(data), catalog=models)) == expected
    [(idle, _catalog)] = cost_batch_child._kept
    assert idle.gone.wait(10)  # it left by itself, and was reaped
    assert idle.exit_code == 0
    assert settled(before) == before
    pricer = BatchPricer(resolver(models, os.getpid()), now=NOW)
    assert b"".join(ndjson_on_two_cores(pricer, chunks(data), catalog=models)) == expected
    [(fresh, _catalog)] = cost_batch_child._kept
    assert fresh.pid != idle.pid

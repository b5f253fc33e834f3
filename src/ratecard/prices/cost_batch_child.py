"""Price a large NDJSON batch on two cores: a forked child prices part of each group of lines.

A batch line is pure CPU (parse, price, write) and one process prices on one core; the
service's second core sits idle while one client sends a big batch. So a body of more than
one group (GROUP lines) forks one child per request, which prices the first part of each
group while the request's own process prices the rest; the parts are joined in order.
The answers are the very bytes the lone BatchPricer writes (tests/prices/test_cost_batch_child
.py), and every failure of the child falls back to pricing in the request's process.

Why these choices, each against the failure it prevents:
- Forked per request, after the request resolved its catalog: the child prices with the very
  snapshot (same version, same `now`) the request holds, copied by the fork; no pool that
  could price with a catalog it loaded earlier.
- The child never does I/O beyond its two pipes: a line with `at` (a price-history lookup in
  the database) comes back unpriced (None) and the parent prices it on its own connection.
  A connection or socket shared across fork would interleave two processes' bytes on one
  stream. Every other descriptor is closed in the child at once (so it cannot hold the
  client's socket, nor another request's child pipes open: the EOF below depends on it).
- The child's signal handlers are gunicorn's worker's: reset to the defaults, with the
  wakeup fd, so a signal to the group kills the child instead of running the worker's exit
  path (or writing to the worker's pipe) in a copy of it. It leaves by os._exit only: no
  atexit handler, no buffer flush, no finalizer of the parent's objects runs twice.
- Its garbage collector is off: a collection walks (and so copies) every tracked object
  the parent had, and the child's few cycles live only as long as one batch.
- The child exits when its job pipe reaches EOF: the parent closed it, or died (SIGKILL by
  gunicorn's timeout included); then nothing is left behind to price for nobody. The parent
  stops it with SIGKILL and reaps it (waitpid) in a `finally`: on the end of the body, on an
  error, on a client that disconnects mid-body (the read raises through the generator), and
  on the generator being closed unfinished. No zombie, no orphan.
- Write-then-read, one job at a time: the parent writes a whole job before reading any
  result, and the child reads a whole job before writing; a full pipe in one direction
  never waits on a full pipe in the other (no deadlock). A child that answers nothing within
  CHILD_TIMEOUT (a few hundred times what a group takes) is killed, and the parent prices on
  alone: a slow or stuck child costs time, never a hang or a wrong answer.
- Jobs and results are framed bytes (a length, then newline-separated lines), not pickles:
  nothing is ever unpickled, even from a copy of ourselves.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import struct
import time
from array import array
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import datetime

from ratecard.prices.cost_batch import BatchPricer, numbered_lines
from ratecard.prices.cost_requests import ModelAt

__all__ = ["CHILD_TIMEOUT", "GROUP", "GROUP_BYTES", "ndjson_on_two_cores"]

# Lines per group: a body with fewer is priced in one process (a fork costs ~ms, a group of
# lines ~100 ms). The child gets the first part of each group (see _rebalanced).
GROUP = 8192
# Seconds the parent waits for the child's part of a group before pricing it itself.
CHILD_TIMEOUT = 20.0
# Bytes of lines per group at most (plus one line): memory stays flat for long lines.
GROUP_BYTES = 4 * 1024 * 1024
_SIZE = struct.Struct("!Q")
# A result's head: the errors among its lines, the seconds the child took to price them.
_DONE = struct.Struct("!Qd")
_RESET_SIGNALS = ("SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH")


class _Deferred(Exception):
    """A line the child leaves to the parent (it needs the database)."""


def ndjson_on_two_cores(
    pricer: BatchPricer, chunks: Iterable[bytes], prepare: Callable[[], object] | None = None
) -> Generator[bytes, None, None]:
    """The result lines of an NDJSON body (as `pricer.ndjson(chunks)`), priced on two cores
    when the body holds more than one group of lines.

    `prepare` is called here before the fork: it builds what the child would otherwise build
    on first use under a lock (the catalog's model index is a cached_property, which holds a
    lock while it builds): another thread holding that lock at the fork would leave the
    child's copy locked for ever (then it is CHILD_TIMEOUT lost, not a wrong answer).
    """
    lines = numbered_lines(chunks)
    group, more = _group(lines)
    if not more:
        yield b"".join(pricer.line(number, raw) for number, raw in group)
        return
    if prepare is not None:
        prepare()
    child = _Child.start(pricer)
    share = 0.5  # of each group, the child's part (rebalanced after each group)
    try:
        while group:
            began = time.perf_counter()
            half = round(len(group) * share) if child is not None else 0
            theirs, ours = group[:half], group[half:]
            if theirs and child is not None and not child.send(theirs):
                child.stop()
                child = None
            own = [pricer.line(number, raw) for number, raw in ours]
            theirs_done = b""
            if theirs:
                waiting = time.perf_counter()
                answered = child.receive(len(theirs)) if child is not None else None
                busy = waiting - began
                if answered is None and child is not None:  # it failed: price on alone
                    child.stop()
                    child = None
                results, failed, seconds = answered or ([None] * len(theirs), 0, 0.0)
                pricer.failed += failed
                theirs_done = b"".join(
                    result if result is not None else pricer.line(number, raw)
                    for result, (number, raw) in zip(results, theirs, strict=True)
                )
                if seconds > 0 and busy > 0 and ours:
                    share = _rebalanced(share, busy / len(ours), seconds / len(theirs))
            yield theirs_done
            yield b"".join(own)
            group, more = _group(lines)
    finally:
        if child is not None:
            child.stop()


def _rebalanced(share: float, ours: float, theirs: float) -> float:
    """The child's next share, from the seconds a line took here and in the child.

    Even parts leave one process waiting when the two cores are not equally free (another
    process on one of them, the parent's own work of splitting and joining): the parts are
    set so both finish together, halfway from the last share, within 1/8 and 7/8.
    """
    balanced = ours / (ours + theirs)
    return min(0.875, max(0.125, (share + balanced) / 2))


def _group(
    lines: Iterator[tuple[int, bytes | None]],
) -> tuple[list[tuple[int, bytes | None]], bool]:
    """The next group of lines (at most GROUP lines, or GROUP_BYTES and one line), and whether
    it was cut by a limit (the body may go on)."""
    group: list[tuple[int, bytes | None]] = []
    size = 0
    for item in lines:
        group.append(item)
        size += len(item[1] or b"")
        if len(group) >= GROUP or size >= GROUP_BYTES:
            return group, True
    return group, False


class _Child:
    """One forked pricer and its two pipes (jobs in, results out), seen from the parent."""

    def __init__(self, pid: int, jobs: int, results: int) -> None:
        self.pid, self.jobs, self.results = pid, jobs, results

    @classmethod
    def start(cls, pricer: BatchPricer) -> _Child | None:
        """Fork the child, or None if the system refuses (then one process prices all)."""
        try:
            jobs_read, jobs_write = os.pipe()
        except OSError:
            return None
        try:
            results_read, results_write = os.pipe()
        except OSError:
            _close(jobs_read, jobs_write)
            return None
        try:
            pid = os.fork()
        except OSError:
            _close(jobs_read, jobs_write, results_read, results_write)
            return None
        if pid == 0:  # the child: never returns
            code = 1
            try:
                _child_setup(jobs_read, results_write)
                _serve(pricer, jobs_read, results_write)
                code = 0
            finally:
                os._exit(code)
        _close(jobs_read, results_write)
        return cls(pid, jobs_write, results_read)

    def send(self, lines: list[tuple[int, bytes | None]]) -> bool:
        """Write one job; False if the child is gone."""
        # Line numbers (negated for a line too long to send, None), then the lines: none
        # holds a newline (they were split on it).
        numbers = array("q", [number if raw is not None else -number for number, raw in lines])
        body = b"\n".join(raw or b"" for _number, raw in lines)
        try:
            _write(self.jobs, _SIZE.pack(len(lines)) + numbers.tobytes() + body)
        except OSError:
            return False
        return True

    def receive(self, lines: int) -> tuple[list[bytes | None], int, float] | None:
        """The job's `lines` result lines (None: left to the parent), how many are errors and
        the seconds the child took, or None if the child failed (gone, silent for
        CHILD_TIMEOUT, or not `lines` lines)."""
        try:
            payload = _read(self.results, CHILD_TIMEOUT)
        except OSError:
            return None
        if payload is None or len(payload) < _DONE.size:
            return None
        # An error count, then each result line; an empty line is one left to the parent (a
        # result is never empty, nor holds a newline: orjson escapes them in strings).
        failed, seconds = _DONE.unpack_from(payload)
        results = [line + b"\n" if line else None for line in payload[_DONE.size :].split(b"\n")]
        if results.pop() is not None or len(results) != lines:  # the last newline ends them
            return None
        return results, failed, seconds

    def stop(self) -> None:
        """Kill and reap the child (whatever it is doing), close the pipes."""
        _close(self.jobs, self.results)
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def _child_setup(jobs: int, results: int) -> None:
    gc.disable()
    signal.set_wakeup_fd(-1)
    for name in _RESET_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    low, high = sorted((jobs, results))
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, os.sysconf("SC_OPEN_MAX"))


def _serve(pricer: BatchPricer, jobs: int, results: int) -> None:
    """The child's loop: price each job's lines until the job pipe ends."""
    resolve = pricer._resolve

    def resolve_here(model_id: str, source: str | None, at: datetime | None) -> ModelAt:
        if at is not None:
            raise _Deferred  # the price history is in the database: the parent's to read
        return resolve(model_id, source, at)

    pricer._resolve = resolve_here
    while (payload := _read(jobs, None)) is not None:
        began = time.perf_counter()
        failed = pricer.failed
        count = _SIZE.unpack_from(payload)[0]
        numbers = array("q")
        numbers.frombytes(payload[_SIZE.size : _SIZE.size + 8 * count])
        raws = payload[_SIZE.size + 8 * count :].split(b"\n")
        answered: list[bytes] = []
        for number, raw in zip(numbers, raws, strict=True):
            try:
                answered.append(
                    pricer.line(number, raw) if number > 0 else pricer.line(-number, None)
                )
            except _Deferred:
                answered.append(b"\n")
        done = _DONE.pack(pricer.failed - failed, time.perf_counter() - began)
        _write(results, done + b"".join(answered))


def _write(fd: int, payload: bytes) -> None:
    view = memoryview(_SIZE.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def _read(fd: int, timeout: float | None) -> bytes | None:
    """One framed payload, or None at EOF (or when nothing came within `timeout` seconds)."""
    head = _read_exactly(fd, _SIZE.size, timeout)
    if head is None:
        return None
    return _read_exactly(fd, _SIZE.unpack(head)[0], timeout)


def _read_exactly(fd: int, size: int, timeout: float | None) -> bytes | None:
    parts: list[bytes] = []
    while size:
        if timeout is not None:
            # poll, not select: select cannot watch a descriptor numbered 1024 or more.
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if not poller.poll(timeout * 1000):
                return None
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            return None
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)

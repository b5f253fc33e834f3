"""Price a large NDJSON batch on two cores: a forked child prices part of each group of lines.

A batch line is pure CPU (parse, price, write) and one process prices on one core; the
service's second core sits idle while one client sends a big batch. So a body of more than
one group (GROUP lines) gets a child process (forked from the worker, or the one kept from the
worker's last batch of the same catalog), which prices the first part of each group while the
request's own process prices the rest; the parts are joined in order.
The answers are the very bytes the lone BatchPricer writes (tests/costing/test_cost_batch_child
.py), and every failure of the child falls back to pricing in the request's process.

The child is kept one job ahead: the parent hands it its part of the NEXT group before it
prices its own part of this one, so the child goes straight from one part to the next while
the parent joins results, writes them out and reads the body on (those were the child's idle
time, about a quarter of it, when each group was sent only once the last was collected).

Why these choices, each against the failure it prevents:
- Forked after the request resolved its catalog: the child prices with the very snapshot
  the request holds, copied by the fork, each batch at the instant the batch's job headers
  carry. It is kept for the next batch only if that batch holds the same snapshot object
  (_take): no pool that could price with a catalog it loaded earlier. Kept, it saves the
  fork and the copy-on-write faults (both processes copying every page they touch, ~30 ms
  each per batch) that a fresh child costs.
- The child shares no descriptor with the parent beyond its pipes and its four buffers: a
  connection or socket shared across fork would interleave two processes' bytes on one
  stream. Every other descriptor is closed in the child at once (so it cannot hold the
  client's socket, nor another request's child pipes open: the EOF below depends on it). A
  line with `at` (a price-history lookup in the database) is priced by the child over a
  connection it opens itself (`history`, made on first use there: one per kept child), or,
  without one, comes back unpriced (an empty line) for the parent to price on its own. When
  the child's read fails (the database down or refusing), that line and every later line
  with `at` of the batch come back unpriced: the parent, reading the same history, answers
  them as it would alone, and no line waits out a connect timeout the child already met.
- The child's signal handlers are gunicorn's worker's: reset to the defaults, with the
  wakeup fd, so a signal to the group kills the child instead of running the worker's exit
  path (or writing to the worker's pipe) in a copy of it. It leaves by os._exit only: no
  atexit handler, no buffer flush, no finalizer of the parent's objects runs twice.
- Its garbage collector is off: a collection walks (and so copies) every tracked object
  the parent had. Only the youngest generation is collected, when a batch begins: what the
  batches before made, nothing of the parent's.
- The child exits when its job pipe reaches EOF: the parent closed it, or died (SIGKILL by
  gunicorn's timeout included); then nothing is left behind to price for nobody. Kept, it
  also exits after STANDBY_IDLE seconds without a job. The parent stops it with SIGKILL in a
  `finally` unless the batch ended well: on an error, on a client that disconnects mid-body
  (the read raises through the generator), and on the generator being closed unfinished (it
  may be mid-job: never kept). A thread started with it reaps it whenever it exits: no
  zombie, no orphan, and no answer waits out the kernel's teardown of a copy of the worker.
- No write ever waits on the other process, so two jobs in flight cannot deadlock. Through
  pipes a job and its results are megabytes against a 64 KiB pipe buffer: the parent, writing
  job k+1 while the child prices job k, would block until the child reads it; the child,
  writing result k, would block until the parent reads it: each waiting on the other for
  ever. So jobs and results are written to memory files (memfd) made before the fork, and the
  pipes carry only a header of a few dozen bytes per job (two in flight at most: far below
  the pipe buffer), whose read is what waits.
- Two slots per direction, used in turn (job k in slot k % 2): the parent writes job k+2 into
  slot k % 2 only after it has collected result k (so the child has finished reading job k),
  and the child writes result k+2 into slot k % 2 only after it got job k+2, which the parent
  sends only after it has read result k whole. A slot is never written while it is read.
- A child that answers nothing within CHILD_TIMEOUT (a few hundred times what a group takes)
  is killed, and the parent prices on alone, both parts in flight included: a slow or stuck
  child costs time, never a hang or a wrong answer. So does a result that is not exactly the
  job's count of lines (a garbled or cut answer is never passed on).
- Jobs and results are framed bytes (line numbers, then newline-separated lines), not
  pickles: nothing is ever unpickled, even from a copy of ourselves.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import struct
import threading
import time
from array import array
from collections.abc import Callable, Generator, Iterable
from datetime import UTC, datetime, timedelta
from typing import NoReturn, Protocol

from ratecard.costing.cost_batch import BatchPricer, numbered_batches
from ratecard.costing.cost_requests import ModelAt, Resolver
from ratecard.errors import RatecardError

__all__ = ["CHILD_TIMEOUT", "GROUP", "GROUP_BYTES", "ndjson_on_two_cores"]

# Lines per group: a body with fewer is priced in one process (a fork costs ~ms, a group of
# lines ~50 ms). The child gets the first part of each group (see _rebalanced).
GROUP = 8192
# Seconds the parent waits for the child's part of a group before pricing it itself.
CHILD_TIMEOUT = 20.0
# Bytes of lines per group at most (plus one chunk's lines): memory stays flat for long lines.
GROUP_BYTES = 4 * 1024 * 1024
# A job's header: its slot, its size in bytes (the job itself is in the slot's buffer), the
# batch it belongs to and that batch's instant (microseconds since the epoch, UTC).
_JOB = struct.Struct("!BQQq")
# Seconds a kept child waits for the next batch before it exits (see _park).
STANDBY_IDLE = 60.0
# A result's header: its slot, its size, the errors among its lines, the lines left to the
# parent (empty lines), the seconds the child took to price them.
_DONE = struct.Struct("!BQQQd")
_COUNT = struct.Struct("!Q")
_RESET_SIGNALS = ("SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH")

Lines = list[tuple[int, bytes | None]]


class _Deferred(Exception):
    """A line the child leaves to the parent (it needs a database the child cannot read)."""


class History(Protocol):
    """Resolvers that read the price history on a connection of the child's own
    (serving.prices_at.ForkedHistory); built in the parent, connected in the child."""

    def resolver(self) -> Resolver:
        """A resolver for one batch, with `at` read from the history."""
        ...

    def close(self) -> None:
        """Close the connection, if one was opened."""
        ...


def ndjson_on_two_cores(
    pricer: BatchPricer,
    chunks: Iterable[bytes],
    prepare: Callable[[], object] | None = None,
    catalog: object | None = None,
    history: History | None = None,
) -> Generator[bytes, None, None]:
    """The result lines of an NDJSON body (as `pricer.ndjson(chunks)`), priced on two cores
    when the body holds more than one group of lines.

    `prepare` is called here before the fork: it builds what the child would otherwise build
    on first use under a lock (the catalog's model index is a cached_property, which holds a
    lock while it builds): another thread holding that lock at the fork would leave the
    child's copy locked for ever (then it is CHILD_TIMEOUT lost, not a wrong answer).

    `catalog`, the catalog object `pricer` resolves with, lets the child outlive the batch:
    kept after a batch that ended well, it prices the next batch of the very same catalog
    object without a fork (see _take and _park). `history`, given with it, lets the child
    price lines with `at` itself (see the docstring); a kept child keeps the one it was
    forked with, which reads for that same catalog.
    """
    groups = _Groups(chunks)
    group, more = groups.next()
    if not more:
        yield pricer.lines(group)[0]
        return
    if prepare is not None:
        prepare()
    child = _take(pricer, catalog, history)
    finished = False
    share = 0.5  # of each group, the child's part (rebalanced after each group)
    ours_seconds = 0.0  # the parent's seconds for its last part, all its work counted
    try:
        theirs, ours = _split(group, share if child is not None else 0.0)
        if theirs and child is not None and not child.send(theirs):
            child.stop()
            child = None
        while ours or theirs:
            began = time.perf_counter()
            # The next group's part goes to the child before this group's own part is priced:
            # the child starts it the moment it is done with this one (see the docstring).
            next_theirs: Lines = []
            next_ours: Lines = []
            if more:
                group, more = groups.next()
                next_theirs, next_ours = _split(group, share if child is not None else 0.0)
                if next_theirs and child is not None and not child.send(next_theirs):
                    child.stop()
                    child = None
            own = pricer.lines(ours)[0]
            waiting = time.perf_counter()
            theirs_done = b""
            if theirs:
                answered = child.receive(len(theirs)) if child is not None else None
                if answered is None and child is not None:  # it failed: price on alone
                    child.stop()
                    child = None
                theirs_done, seconds = _joined(pricer, theirs, answered)
                # The parent's work: reading on and sending, its own part, then taking in the
                # child's (not the wait for it).
                ours_seconds += waiting - began
                if child is not None:
                    ours_seconds += time.perf_counter() - child.arrived
                if seconds > 0 and ours_seconds > 0 and ours:
                    share = _rebalanced(share, ours_seconds / len(ours), seconds / len(theirs))
            handed = time.perf_counter()
            yield theirs_done
            yield own
            # What the consumer did with the results (spooled them) is the parent's work too.
            ours_seconds = time.perf_counter() - handed
            theirs, ours = next_theirs, next_ours
        finished = True
    finally:
        if child is not None:
            _park(child, catalog) if finished else child.stop()


# The child kept between batches (at most one per worker process) and the catalog object it
# prices with; taken by one batch at a time.
_kept: list[tuple[_Child, object]] = []
_kept_lock = threading.Lock()


def _take(
    pricer: BatchPricer, catalog: object | None, history: History | None = None
) -> _Child | None:
    """The kept child if it prices with `catalog` (that very object), else a new fork.

    Failure timelines this prevents:
    - A new catalog is served: a child forked before holds the old one, and would price this
      batch with yesterday's prices. It is kept with the catalog object it was forked with,
      and taken only by a batch of that same object (`is`, and the reference kept: an id
      cannot be reused while the child lives); any other batch stops it and forks.
    - Two batches at once in one worker (gthread): the first takes the kept child (popped
      under the lock), the second finds none and forks its own; neither shares a child.
    - The kept child died or left (idle for STANDBY_IDLE, killed): the batch's first send
      fails and it prices alone; the next batch forks anew (never a wrong answer).
    """
    if catalog is not None:
        with _kept_lock:
            kept = _kept.pop() if _kept else None
        if kept is not None:
            child, its_catalog = kept
            if its_catalog is catalog and not child.gone.is_set():
                child.begin(pricer)
                return child
            child.stop()
    forked = _Child.start(pricer, history)
    if forked is not None:
        forked.begin(pricer)
    return forked


def _park(child: _Child, catalog: object | None) -> None:
    """Keep a child whose batch ended well for the next batch of `catalog`; else stop it.

    Only after a batch that ended normally: every job it was sent was collected, so it waits
    for the next header with nothing in flight (a batch cut short, by a client that left or
    an error, may leave a job half done: that child is stopped, never kept). Memory: the
    kept child is a copy of the worker that diverges as the worker changes, so it leaves by
    itself after STANDBY_IDLE seconds without a batch, and is replaced with the catalog.
    """
    if catalog is not None and child.sent == child.received:
        with _kept_lock:
            if not _kept:
                _kept.append((child, catalog))
                return
    child.stop()


def discard_kept() -> None:
    """Stop the kept child, if any (tests; a worker that wants its memory back)."""
    with _kept_lock:
        kept = _kept.pop() if _kept else None
    if kept is not None:
        kept[0].stop()


def _split(group: Lines, share: float) -> tuple[Lines, Lines]:
    """(the child's part, the parent's part) of a group."""
    half = round(len(group) * share)
    return group[:half], group[half:]


def _joined(
    pricer: BatchPricer, theirs: Lines, answered: tuple[bytes, int, int, float] | None
) -> tuple[bytes, float]:
    """The result lines of the child's part (its own, the parent pricing what it left or, if
    it failed, all of it), and the seconds it took."""
    if answered is None:
        return pricer.lines(theirs)[0], 0.0
    results, failed, deferred, seconds = answered
    pricer.failed += failed
    if not deferred:
        return results, seconds
    # An empty line is one left to the parent (a result is never empty, nor holds a newline:
    # orjson escapes them in strings).
    lines = results.split(b"\n")
    lines.pop()  # after the last newline
    return b"".join(
        line + b"\n" if line else pricer.line(number, raw)
        for line, (number, raw) in zip(lines, theirs, strict=True)
    ), seconds


def _rebalanced(share: float, ours: float, theirs: float) -> float:
    """The child's next share, from the seconds a line took here and in the child.

    Even parts leave one process waiting when the two cores are not equally free (another
    process on one of them, the parent's own work of splitting and joining): the parts are
    set so both finish together, halfway from the last share, within 1/8 and 7/8.
    """
    balanced = ours / (ours + theirs)
    return min(0.875, max(0.125, (share + balanced) / 2))


class _Groups:
    """The body's lines, group by group: GROUP lines, or fewer where they reach GROUP_BYTES
    first (then a group holds at most GROUP_BYTES plus one chunk's lines: memory stays flat
    for long lines). Taken from numbered_batches a chunk's lines at a time."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.batches = numbered_batches(chunks)
        self.held: Lines = []  # what the last group left of a chunk's lines

    def next(self) -> tuple[Lines, bool]:
        """The next group, and whether it was cut by a limit (the body may go on)."""
        group: Lines = []
        size = 0
        while True:
            if not self.held:
                batch = next(self.batches, None)
                if batch is None:
                    return group, False
                self.held = batch
            room = GROUP - len(group)
            taken, self.held = self.held[:room], self.held[room:]
            group += taken
            size += sum([len(raw) for _number, raw in taken if raw is not None])
            if len(group) >= GROUP or size >= GROUP_BYTES:
                return group, True


class _Child:
    """One forked pricer, its two pipes (job headers in, result headers out) and its four
    buffers (two slots each way), seen from the parent."""

    def __init__(self, pid: int, jobs: int, results: int, buffers: _Buffers) -> None:
        self.pid, self.jobs, self.results, self.buffers = pid, jobs, results, buffers
        self.reap = False  # no reaper thread: stop() waits for it
        self.gone = threading.Event()  # set once it is reaped
        self.exit_code: int | None = None  # then: its exit code (-9: killed)
        self.sent = 0  # jobs sent: job k goes to slot k % 2
        self.received = 0  # results collected, in the order the jobs were sent
        self.arrived = 0.0  # when the last result's header came (perf_counter)
        self.batch = 0  # the batch its jobs belong to (a kept child prices several)
        self.now = 0  # that batch's instant, in microseconds since the epoch

    @classmethod
    def start(cls, pricer: BatchPricer, history: History | None = None) -> _Child | None:
        """Fork the child, or None if the system refuses (then one process prices all)."""
        opened: list[int] = []
        try:
            buffers = _Buffers.open(opened)
            jobs_read, jobs_write = os.pipe()
            opened += (jobs_read, jobs_write)
            results_read, results_write = os.pipe()
            opened += (results_read, results_write)
            pid = os.fork()
        except OSError:
            _close(*opened)
            return None
        if pid == 0:  # the child: never returns
            code = 1
            try:
                _child_setup(jobs_read, results_write, *buffers.fds())
                _serve(pricer, jobs_read, results_write, buffers, history)
                code = 0
            finally:
                os._exit(code)
        _close(jobs_read, results_write)
        child = cls(pid, jobs_write, results_read, buffers)
        # Reaped by a thread whenever it exits (stopped, or left by itself when kept idle): no
        # zombie, and the batch never waits out the kernel's teardown of a copy of the worker
        # (~8 ms). A daemon: it must not hold the worker's exit (the child, then orphaned, is
        # reaped by the process that adopts orphans).
        try:
            threading.Thread(target=child._wait, name="batch-reaper", daemon=True).start()
        except RuntimeError:  # no thread to be had: stop() reaps it
            child.reap = True
        return child

    def begin(self, pricer: BatchPricer) -> None:
        """The next jobs belong to a new batch, priced at `pricer`'s instant."""
        self.batch += 1
        self.now = (pricer.now - _EPOCH) // _MICROSECOND

    def send(self, lines: Lines) -> bool:
        """Write one job to its slot, then its header; False if the child is gone."""
        # The count, the line numbers, then the lines: none holds a newline (they were split
        # on it), and none is empty but a line too long to send (None), sent as empty
        # (BatchPricer.lines reads an empty line as one).
        numbers = array("q", [number for number, _raw in lines])
        body = b"\n".join([raw or b"" for _number, raw in lines])
        job = _COUNT.pack(len(lines)) + numbers.tobytes() + body
        slot = self.sent % 2
        try:
            _pwrite(self.buffers.jobs[slot], job)
            _write(self.jobs, _JOB.pack(slot, len(job), self.batch, self.now))
        except OSError:
            return False
        self.sent += 1
        return True

    def receive(self, lines: int) -> tuple[bytes, int, int, float] | None:
        """The oldest job's result: its `lines` result lines (empty ones are left to the
        parent), how many are errors, how many were left, the seconds the child took; or None
        if the child failed (gone, silent for CHILD_TIMEOUT, or an answer that is not one
        line for each of the job's lines)."""
        try:
            head = _read_exactly(self.results, _DONE.size, CHILD_TIMEOUT)
            if head is None:
                return None
            self.arrived = time.perf_counter()  # what the parent does from here is its work
            slot, size, failed, deferred, seconds = _DONE.unpack(head)
            if slot != self.received % 2:
                return None
            results = os.pread(self.buffers.results[slot], size, 0)
        except OSError:
            return None
        self.received += 1
        # One line per job line, each ended by its newline; only a left line is empty, and
        # the child says how many there are (checked in C, over the whole answer at once).
        if len(results) != size or results.count(b"\n") != lines or not results.endswith(b"\n"):
            return None
        if not deferred and (results.startswith(b"\n") or b"\n\n" in results):
            return None
        return results, failed, deferred, seconds

    def stop(self) -> None:
        """Kill the child (whatever it is doing), close the pipes and buffers (its reaper
        thread reaps it)."""
        _close(self.jobs, self.results, *self.buffers.fds())
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        if self.reap:
            self._wait()

    def _wait(self) -> None:
        """Reap the child (wait for it to exit), keep its exit code."""
        with contextlib.suppress(ChildProcessError):
            _pid, status = os.waitpid(self.pid, 0)
            self.exit_code = os.waitstatus_to_exitcode(status)
        self.gone.set()


class _Buffers:
    """The four memory files a job and its result are written to (see the docstring)."""

    def __init__(self, jobs: tuple[int, int], results: tuple[int, int]) -> None:
        self.jobs, self.results = jobs, results

    @classmethod
    def open(cls, opened: list[int]) -> _Buffers:
        """Four anonymous memory files (memfd; an unlinked temporary file where there is
        none), each descriptor added to `opened` as it is made (closed there on failure)."""
        for _ in range(4):
            opened.append(_memory_file())
        return cls((opened[-4], opened[-3]), (opened[-2], opened[-1]))

    def fds(self) -> tuple[int, ...]:
        return (*self.jobs, *self.results)


def _memory_file() -> int:
    create = getattr(os, "memfd_create", None)
    if create is not None:
        with contextlib.suppress(OSError):
            return int(create("ratecard-batch", os.MFD_CLOEXEC))
    import tempfile

    fd, path = tempfile.mkstemp(prefix="ratecard-batch-")
    os.unlink(path)  # nothing left on disk, whatever happens next
    return fd


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _child_setup(*keep: int) -> None:
    gc.disable()
    signal.set_wakeup_fd(-1)
    for name in _RESET_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _defer(*_: object) -> NoReturn:
    """A line with a price book is the parent's: the books are read on its connections, with
    its request's credentials (the child has neither), as it reads the history for `at`."""
    raise _Deferred


def _serve(
    pricer: BatchPricer, jobs: int, results: int, buffers: _Buffers, history: History | None
) -> None:
    """The child's loop: price each job's lines until the job pipe ends."""
    resolve = pricer._resolve
    # The batch's resolver of lines with `at` (None: none, or its read failed this batch).
    then: list[Resolver | None] = [None]

    def resolve_here(model_id: str, source: str | None, at: datetime | None) -> ModelAt:
        if at is None:
            return resolve(model_id, source, at)
        read = then[0]
        if read is None:
            raise _Deferred  # the parent reads the history (see the docstring)
        try:
            return read(model_id, source, at)
        except RatecardError:
            raise  # a model unknown, or not priced then: the line's own answer
        except Exception:
            then[0] = None  # the database failed here: the parent answers the rest
            raise _Deferred from None

    batch = 0
    # A kept child waits STANDBY_IDLE for the next batch's first job, then leaves.
    while (head := _read_exactly(jobs, _JOB.size, STANDBY_IDLE)) is not None:
        began = time.perf_counter()
        slot, size, job_batch, now = _JOB.unpack(head)
        if job_batch != batch:
            # A new batch: a pricer of its own (its instant; caches that live one batch, as
            # the parent's do), resolving with the catalog this child was forked with; the
            # last batches' garbage cycles, if any, collected (see the docstring).
            if batch:
                gc.collect(0)
            batch = job_batch
            then[0] = None if history is None else history.resolver()
            pricer = BatchPricer(resolve_here, _EPOCH + timedelta(microseconds=now), _defer)
        job = os.pread(buffers.jobs[slot], size, 0)
        failed = pricer.failed
        count = _COUNT.unpack_from(job)[0]
        numbers = array("q")
        numbers.frombytes(job[_COUNT.size : _COUNT.size + 8 * count])
        raws = job[_COUNT.size + 8 * count :].split(b"\n")
        result, deferred = pricer.lines(zip(numbers, raws, strict=True), _Deferred)
        _pwrite(buffers.results[slot], result)
        seconds = time.perf_counter() - began
        _write(results, _DONE.pack(slot, len(result), pricer.failed - failed, deferred, seconds))
    if history is not None:
        history.close()  # left idle or by the parent: its connection closed, not dropped


def _pwrite(fd: int, payload: bytes) -> None:
    """Write `payload` at the start of the memory file `fd` (what is after it is never read)."""
    view = memoryview(payload)
    offset = 0
    while offset < len(payload):
        offset += os.pwrite(fd, view[offset:], offset)


def _write(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int, timeout: float | None) -> bytes | None:
    """`size` bytes, or None at EOF (or when nothing came within `timeout` seconds)."""
    parts: list[bytes] = []
    while size:
        if timeout is not None:
            # poll, not select: select cannot watch a descriptor numbered 1024 or more.
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if not poller.poll(timeout * 1000):
                return None
        part = os.read(fd, size)
        if not part:
            return None
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)

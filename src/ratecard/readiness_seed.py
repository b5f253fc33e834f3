"""The first readiness checks, run beside gunicorn's master start-up and handed to its workers.

Why: a fresh worker's first ready answer waited for the driver's import (psycopg, ~65 ms),
a new database connection and two queries, after the master had imported everything else,
one after the other on the path from exec to the first 200. Instead, gunicorn's
master forks a helper first thing (`start`: `ratecard serve` calls it before it even imports
gunicorn, gunicorn's on_starting otherwise, before preloading anything), which imports only
the driver and runs the very checks readiness gates on (`health.instance_checks.gating_checks`:
database and schema, same code, same connect timeout) while the master imports Flask and the
app on the other core. The master collects the observations before forking its workers
(`collect`), and each worker takes them as its check registry's cached results (`apply`).

Same guarantees as a worker's own checks:
- readiness still gates on the database and the schema, as observed less than the cache
  period ago (RATECARD_HEALTH_CACHE): a seeded result expires `cache_seconds` after
  it was observed (time.monotonic is one system-wide clock on Linux), exactly like a result
  the worker cached itself; then the worker checks for itself. A worker forked later (a
  restart) finds it expired.
- the helper is time-boxed like a check (RATECARD_HEALTH_TIMEOUT, counted from its
  start): past that, it is killed and the checks it did not answer are seeded as failed,
  "timed out", which is what the registry answers for a check that times out. The master
  waits for it at most that long before forking its workers.
- anything going wrong here (fork refused, garbled output) seeds nothing: the workers then
  check for themselves, as they did before this existed.

The helper also reads the published catalog from Redis (version and blob, one MGET), beside
its checks, and the master decodes it once (`collect`, as soon as the catalog has come, while
the checks may still run), before forking: each worker starts with the snapshot and
its name index in memory, inherited, instead of reading and building its own after fork —
so a worker is warm when it first answers ready. Timeline this keeps right: the helper reads
version 41; run 42 publishes before the workers fork; a worker starts on 41 and its cache's
first re-check (within RATECARD's redis recheck period, 0.5 s) moves it to 42, exactly as if
it had loaded 41 itself a moment earlier. Without Redis, or when the read fails, workers load
the catalog themselves in their warm-up.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ratecard.catalog.snapshot import CatalogSnapshot
from ratecard.health.check_registry import Observation, timed_out
from ratecard.health.instance_checks import GATING_CHECKS, gating_checks, probe_database
from ratecard.logs import secrets_of
from ratecard.redis_keys import RedisKeys
from ratecard.services import make_redis_client
from ratecard.serving.publish import decode_catalog, read_published
from ratecard.timetext import check_time

if TYPE_CHECKING:
    from ratecard.health.check_registry import HealthRegistry
    from ratecard.settings import Settings


@dataclass(frozen=True)
class SeededResult:
    """One check's observation, made in the helper: what it saw, when (ISO text and clock)."""

    name: str
    observation: dict[str, Any]  # an Observation's fields
    time: str
    at: float  # time.monotonic() when observed


@dataclass
class Helper:
    """The forked helper: its pid, the read end of its pipe, when the master stops waiting."""

    pid: int
    fd: int
    timeout: float
    deadline: float
    spool: int | None  # the file the catalog comes through, if there is one


_helper: Helper | None = None
_collected: list[SeededResult] = []
_catalog: CatalogSnapshot | None = None  # decoded by `collect` from what the helper read


def start(settings: Settings) -> None:
    """Master, first thing: fork the helper that runs the gating checks (no-op if it fails,
    or if one was started already: `ratecard serve` starts it before importing gunicorn)."""
    global _helper
    if _helper is not None:
        return
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return
    spool = _spool_file()
    try:
        pid = os.fork()
    except OSError:
        for fd in (read_fd, write_fd, spool):
            if fd is not None:
                os.close(fd)
        return
    if pid == 0:  # the helper
        code = 1
        try:
            os.close(read_fd)
            _run_helper(settings, write_fd, spool, time.monotonic() + settings.health_check_timeout)
            code = 0
        finally:
            # No atexit handlers, no flushing of buffers inherited from the master.
            os._exit(code)
    os.close(write_fd)
    timeout = settings.health_check_timeout
    _helper = Helper(pid, read_fd, timeout, time.monotonic() + timeout, spool)


def _run_helper(settings: Settings, out: int, spool: int | None, deadline: float) -> None:
    """Helper: read the catalog in a thread while this one runs the checks; each sends one
    line to the master as soon as it is done (`catalog VERSION LENGTH`, `checks JSON`).

    Why two at once: the master decodes the catalog (~50 ms) once its own imports are done,
    while the checks are still running here (psycopg's import alone is ~100 ms), instead of
    after them. And neither waits for the other's dependency: a Redis that hangs does not
    hold back the database's observations (readiness gates on those), and a database that
    hangs does not cost the workers their catalog. The thread starts after redis-py is
    imported here, so the two threads never import at once (a concurrent import can hand one
    of them a module still being initialized); what is left in the thread is I/O.
    """
    lock = threading.Lock()

    def send(line: bytes) -> None:
        with lock:  # whole lines: the other thread writes to the same pipe
            view = memoryview(line)
            while view:
                view = view[os.write(out, view) :]

    reader = None
    if settings.redis_url and spool is not None:
        import redis  # noqa: F401  (here, before the thread: see above)

        reader = threading.Thread(
            target=_send_catalog, args=(settings, spool, send), name="catalog", daemon=True
        )
        reader.start()
    send(b"checks " + json.dumps([asdict(r) for r in observe(settings)]).encode() + b"\n")
    if reader is not None:
        reader.join(max(0.0, deadline - time.monotonic()))


def _send_catalog(settings: Settings, spool: int, send: Callable[[bytes], None]) -> None:
    """Helper thread: the published catalog into the spool, then its line to the master."""
    published = read_catalog(settings)
    if published is None:
        return
    version, blob = published
    view = memoryview(blob)
    while view:
        view = view[os.pwrite(spool, view, len(blob) - len(view)) :]
    send(b"catalog %d %d\n" % (version, len(blob)))


def _spool_file() -> int | None:
    """A file for the catalog: in memory (Linux), else an unlinked temporary file, else None
    (nothing is handed over; each worker loads the catalog itself).

    Why not the pipe: a pipe holds 64 KB, so the helper would wait for the master's reads 64 KB
    at a time, and the master spent ~15 ms of the start on that hand-over. The helper writes
    the file whole; the master reads it in one call. The memfd touches no file system (a
    read-only root is fine)."""
    try:
        return os.memfd_create("ratecard-catalog", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        pass
    import tempfile  # only where there is no memfd

    try:
        with tempfile.TemporaryFile() as spooled:
            return os.dup(spooled.fileno())
    except OSError:
        return None


def observe(settings: Settings) -> list[SeededResult]:
    """Helper: run the gating checks once on a connection of its own; their results."""
    # Deferred, as everything here: the helper forks before the master imports anything.

    db = probe_database(settings)
    if db.backend == "postgresql":
        import psycopg  # noqa: F401  (now: the first check's observed time is the database's)
    results = []
    try:
        for name, run in gating_checks(db, secrets_of(settings)).items():
            observation = run()  # a check turns every error into an Observation
            results.append(SeededResult(name, asdict(observation), check_time(), time.monotonic()))
    finally:
        db.close()
    return results


def read_catalog(settings: Settings) -> tuple[int, bytes] | None:
    """Helper: the published catalog's version and blob from Redis, or None (no Redis, none
    published, or Redis failing: the workers then load it themselves)."""
    if not settings.redis_url:
        return None
    client = make_redis_client(settings.redis_url, settings.health_check_timeout)
    try:
        version, blob = read_published(client, RedisKeys(prefix=settings.redis_key_prefix))
    except Exception:  # any Redis or network error: nothing preloaded, nothing lost
        return None
    finally:
        client.close()
    return None if version is None or blob is None else (version, blob)


def catalog() -> CatalogSnapshot | None:
    """Master, after `collect`: the snapshot of the catalog the helper read (decoded by
    `collect`, once, with its name index), or None. Handed over once."""
    global _catalog
    snapshot, _catalog = _catalog, None
    return snapshot


def _decoded(version: int, blob: bytes) -> CatalogSnapshot | None:
    try:
        data = decode_catalog(blob)
        data["version"] = version
        snapshot = CatalogSnapshot.from_data(data)
        snapshot.identity  # noqa: B018  (built now: inherited by every worker)
    except Exception:  # a blob this code cannot read: each worker's cache will say why
        return None
    return snapshot


def collect() -> None:
    """Master, before forking workers: read the helper's lines (waiting until its deadline),
    decoding the catalog as soon as its line has come, while the checks may still run."""
    global _helper, _collected, _catalog
    helper, _helper = _helper, None
    if helper is None:
        return
    lines = _Lines(helper.fd)
    results: list[SeededResult] | None = None
    complete = garbled = False
    try:
        while True:
            # Past the deadline this still takes the lines already sent, without waiting:
            # the checks may have come in while this process was decoding the catalog, and
            # failing them as timed out would leave every worker unready until it checks.
            line = lines.next(max(0.0, helper.deadline - time.monotonic()))
            if line is None:  # the helper exited (or its deadline passed)
                complete = lines.ended
                break
            kind, _, rest = line.partition(b" ")
            if kind == b"checks":
                results = _read_results(rest)
                garbled = results is None
            elif kind == b"catalog" and helper.spool is not None:
                _catalog = _read_catalog(helper.spool, rest)
    finally:
        os.close(helper.fd)
        if helper.spool is not None:
            os.close(helper.spool)
        if not complete:
            with contextlib.suppress(OSError):
                os.kill(helper.pid, signal.SIGKILL)
        # gunicorn's SIGCHLD handler may have reaped it already.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(helper.pid, 0)
    if garbled or (results is None and complete):
        # A checks' line this code cannot read, or none from a helper that failed before it:
        # nothing is seeded, and each worker checks for itself.
        return
    results = results or []
    if not complete:
        results += _timed_out(helper, {r.name for r in results})
    _collected = results


class _Lines:
    """The helper's pipe, line by line, waiting at most the time given for each."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.ended = False

    def next(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            # A timeout of 0 polls: what is in the pipe already is read, nothing is waited for.
            if self.ended or not select.select([self.fd], [], [], max(0.0, remaining))[0]:
                return None
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                self.ended = True
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line


def _read_results(payload: bytes) -> list[SeededResult] | None:
    try:
        return [SeededResult(**item) for item in json.loads(payload)]
    except (ValueError, TypeError):
        return None


def _read_catalog(spool: int, header: bytes) -> CatalogSnapshot | None:
    version, _, length = header.partition(b" ")
    if not (version.isdigit() and length.isdigit()):
        return None
    blob = os.pread(spool, int(length), 0)
    return _decoded(int(version), blob) if len(blob) == int(length) else None


def _timed_out(helper: Helper, answered: set[str]) -> list[SeededResult]:
    """The checks the helper did not answer in time, failed as the registry fails them."""
    observation = asdict(timed_out(helper.timeout))
    at = time.monotonic()
    return [
        SeededResult(name, observation, check_time(), at)
        for name in GATING_CHECKS
        if name not in answered
    ]


def apply(registry: HealthRegistry) -> int:
    """Worker, after fork: seed its check registry with the results; return how many."""
    return sum(
        registry.seed(r.name, Observation(**r.observation), r.time, r.at) for r in _collected
    )

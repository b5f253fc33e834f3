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
  period ago (RATECARD_HEALTH_CACHE_SECONDS): a seeded result expires `cache_seconds` after
  it was observed (time.monotonic is one system-wide clock on Linux), exactly like a result
  the worker cached itself; then the worker checks for itself. A worker forked later (a
  restart) finds it expired.
- the helper is time-boxed like a check (RATECARD_HEALTH_CHECK_TIMEOUT, counted from its
  start): past that, it is killed and the checks it did not answer are seeded as failed,
  "timed out", which is what the registry answers for a check that times out. The master
  waits for it at most that long before forking its workers.
- anything going wrong here (fork refused, garbled output) seeds nothing: the workers then
  check for themselves, as they did before this existed.

The helper also reads the published catalog from Redis (version and blob, one MGET), and the
master decodes it once (`catalog`), before forking: each worker starts with the snapshot and
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
import time
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
    spool: int | None  # the in-memory file the catalog comes through, if there is one


_helper: Helper | None = None
_collected: list[SeededResult] = []
_catalog: tuple[int, bytes] | None = None  # (version, blob) the helper read from Redis


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
    spool = _memory_file()
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
            payload = json.dumps([asdict(r) for r in observe(settings)]).encode()
            published = read_catalog(settings)
            if published is not None and spool is not None:
                with os.fdopen(spool, "wb") as out:
                    out.write(b"%d\n" % published[0] + published[1])
                published = None
            with os.fdopen(write_fd, "wb") as out:
                # One JSON line (json.dumps escapes newlines), then the version and the blob,
                # unless they went to the spool.
                out.write(payload + b"\n")
                if published is not None:
                    out.write(b"%d\n" % published[0] + published[1])
            code = 0
        finally:
            # No atexit handlers, no flushing of buffers inherited from the master.
            os._exit(code)
    os.close(write_fd)
    timeout = settings.health_check_timeout
    _helper = Helper(pid, read_fd, timeout, time.monotonic() + timeout, spool)


def _memory_file() -> int | None:
    """A file in memory for the catalog (Linux), or None: it then goes through the pipe.

    Why not the pipe: a pipe holds 64 KB, so the helper, done with a 1.6 MB catalog before the
    master is, waited for the master's reads 64 KB at a time, and the master spent ~15 ms of
    the start on that hand-over. The helper writes the file whole and exits; the master reads
    it in one call. No file system is touched (a read-only root is fine)."""
    try:
        return os.memfd_create("ratecard-catalog", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
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
    """Master, after `collect`: the snapshot of the catalog the helper read (decoded here,
    once, with its name index), or None."""
    global _catalog
    published, _catalog = _catalog, None
    if published is None:
        return None
    try:
        data = decode_catalog(published[1])
        data["version"] = published[0]
        snapshot = CatalogSnapshot.from_data(data)
        snapshot.identity  # noqa: B018  (built now: inherited by every worker)
    except Exception:  # a blob this code cannot read: each worker's cache will say why
        return None
    return snapshot


def collect() -> None:
    """Master, before forking workers: read the helper's results (waiting until its deadline)."""
    global _helper, _collected, _catalog
    helper, _helper = _helper, None
    if helper is None:
        return
    chunks: list[bytes] = []
    complete = False
    try:
        while (remaining := helper.deadline - time.monotonic()) > 0:
            if not select.select([helper.fd], [], [], remaining)[0]:
                break
            chunk = os.read(helper.fd, 1 << 20)
            if not chunk:
                complete = True
                break
            chunks.append(chunk)
    finally:
        os.close(helper.fd)
        if not complete:
            with contextlib.suppress(OSError):
                os.kill(helper.pid, signal.SIGKILL)
        # gunicorn's SIGCHLD handler may have reaped it already.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(helper.pid, 0)
    if helper.spool is not None:
        with os.fdopen(helper.spool, "rb") as spooled:  # closed here, read if complete
            if complete:
                spooled.seek(0)
                chunks.append(spooled.read())
    head, _, rest = b"".join(chunks).partition(b"\n")
    try:
        results = [SeededResult(**item) for item in json.loads(head)] if head else []
    except (ValueError, TypeError):
        return
    version, _, blob = rest.partition(b"\n")
    if complete and version.isdigit() and blob:
        _catalog = (int(version), blob)
    if not complete:
        results += _timed_out(helper, {r.name for r in results})
    _collected = results


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

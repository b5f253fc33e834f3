"""Real `ratecard` processes for tests: one harness for `serve` and `worker` alike.

    proc = serve(tmp_path / "serve.log", workers=2, DATABASE_URL=url).start()
    proc.wait_ready("/health/startup")      # the port accepts, then that path answers 200
    with serve(...).running() as proc: ...  # the same, stopped when the block ends
    ...
    proc.stop()                             # SIGTERM, SIGKILL after the grace; returns the code
    proc.output()                           # what it printed (stdout and stderr)

Every process starts from `clean_env()` plus the settings given (nothing of the developer's
shell leaks in), in the repository folder, in a session of its own, with its output in a file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx

from tests.support.services import REPO, clean_env, free_port, wait_for_port

RATECARD = str(Path(sys.executable).parent / "ratecard")


@dataclass
class RatecardProcess:
    """One `ratecard <args>` process; start() launches it, stop() ends it (idempotent)."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    # Where stderr goes when it must be read apart from stdout (None: into log_path).
    stderr_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def start(self) -> Self:
        """Launch the process (appending to its log file if it ran before)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            stderr = self.stderr_path.open("ab") if self.stderr_path else None
            try:
                self.process = subprocess.Popen(
                    [RATECARD, *self.args],
                    cwd=REPO,
                    env=clean_env(**self.env),
                    stdout=log,
                    stderr=stderr if stderr is not None else subprocess.STDOUT,
                    # Its own session: kill() takes gunicorn's workers along with the master,
                    # so a "crashed" instance leaves no orphan holding its port or a lease.
                    start_new_session=True,
                )
            finally:
                if stderr is not None:
                    stderr.close()
        return self

    def signal(self, signum: int) -> None:
        """Send `signum` to the process (its main process only)."""
        assert self.process is not None, "not started"
        self.process.send_signal(signum)

    def terminate(self) -> None:
        """Ask it to stop: SIGCONT (a SIGSTOPped process cannot act on SIGTERM), then SIGTERM."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int | None:
        """Its exit code once it exits within `timeout` seconds, else None."""
        assert self.process is not None, "not started"
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace: float = 25.0) -> int | None:
        """SIGTERM (a ratecard process releases its lease), SIGKILL after `grace`; the code."""
        if self.process is None:
            return None
        self.terminate()
        return self.finish(grace)

    def finish(self, grace: float) -> int | None:
        """Wait up to `grace` seconds for it to exit, then SIGKILL it; its exit code."""
        if self.process is None:
            return None
        code = self.wait(grace)
        if code is None:
            self.kill()
            code = self.process.returncode
        return code

    def kill(self) -> None:
        """SIGKILL the whole session at once, as a crash or an OOM kill would."""
        if self.process is None:
            return
        if self.process.poll() is None:
            # It may exit between the poll and the kill.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def output(self) -> str:
        """What the process printed so far (stdout, and stderr unless kept apart)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def errors(self) -> str:
        """stderr when kept apart (stderr_path), else the whole output."""
        if self.stderr_path is None:
            return self.output()
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""


@dataclass
class ServedProcess(RatecardProcess):
    """`ratecard serve` on 127.0.0.1:port; wait_ready() before talking to it."""

    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client on this instance (with a bearer token if given)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=15)

    @contextlib.contextmanager
    def running(self, path: str | None = "/health/startup") -> Iterator[Self]:
        """start(), wait_ready(path), and stop() when the block ends, however it ends."""
        self.start().wait_ready(path)
        try:
            yield self
        finally:
            self.stop()

    def wait_ready(self, path: str | None = None, timeout: float = 30.0) -> Self:
        """Wait until the port accepts connections and, if given, `path` answers 200.

        Fails at once, with the output, if the process exits first; stops it on any failure.
        """
        deadline = time.monotonic() + timeout
        try:
            while True:
                code = self.returncode
                assert code is None, f"exited with {code} before ready:\n{self.output()[-3000:]}"
                if self._ready(path):
                    return self
                assert time.monotonic() < deadline, (
                    f"not ready after {timeout} s:\n{self.output()[-3000:]}"
                )
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def _ready(self, path: str | None) -> bool:
        try:
            wait_for_port(self.port, timeout=0.2)
        except TimeoutError:
            return False
        if path is None:
            return True
        try:
            return httpx.get(self.base_url + path, timeout=5).status_code == 200
        except httpx.TransportError:
            return False


def serve(
    log_path: Path,
    *,
    workers: int = 1,
    port: int | None = None,
    stderr_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    **settings: str,
) -> ServedProcess:
    """`ratecard serve` on 127.0.0.1 and a free port (or `port`), with `env` and `settings`."""
    port = port if port is not None else free_port()
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return ServedProcess(args, {**(env or {}), **settings}, log_path, stderr_path, port=port)


def worker(
    log_path: Path, *args: str, env: Mapping[str, str] | None = None, **settings: str
) -> RatecardProcess:
    """`ratecard worker <args>` (`run` by default), with `env` and `settings`."""
    return RatecardProcess(["worker", *(args or ("run",))], {**(env or {}), **settings}, log_path)


def stop_all(processes: Iterable[RatecardProcess], grace: float = 25.0) -> list[int | None]:
    """SIGTERM every process at once, then wait: a fleet stops in parallel, as in production
    (one at a time, each survivor would take over the lease of the one just stopped)."""
    processes = list(processes)
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + grace
    return [p.finish(max(0.0, deadline - time.monotonic())) for p in processes]

"""`ratecard fleet`: N local `ratecard serve` instances, who holds the lease, and a clean stop.

A development and demonstration tool: every instance is a real `ratecard serve` process (its
own gunicorn master and workers, its own coordinator), sharing the configured DATABASE_URL and
REDIS_URL exactly as a deployed fleet does. It never migrates.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from ratecard.cli.common import load_settings
from ratecard.settings import DEFAULT_BIND, MAX_WORKERS, Settings, redact_url, split_bind
from ratecard.web.state import get_state

if TYPE_CHECKING:
    from ratecard.coordination.coordinator import Coordinator
    from ratecard.web.security import RatecardFlask

STATUS_POLL = 1.5  # seconds between lease-holder reads
START_TIMEOUT = 30.0  # seconds an instance gets to accept connections
STOP_GRACE = 25.0  # > gunicorn's graceful_timeout (20 s): a run releases its lease first
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Per-process settings a child must not inherit: a shared Prometheus directory would be wiped
# by every master at start, and each instance names itself.
PER_PROCESS_ENV = ("RATECARD_INSTANCE_ID", "PROMETHEUS_MULTIPROC_DIR", "RATECARD_METRICS_DIR_OWNED")


class FleetError(click.ClickException):
    """The fleet cannot start; the message says why and what to do."""


@dataclass
class Instance:
    """One `ratecard serve` child: its id, where it listens, its process."""

    instance_id: str
    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


# The first instance listens where a lone `ratecard serve` would by default.
_BIND_HOST, _BIND_PORT = split_bind(DEFAULT_BIND)


@click.command()
@click.option(
    "--instances", "count", default=3, show_default=True, type=click.IntRange(1, 32),
    help="How many instances to start.",
)  # fmt: skip
@click.option(
    "--base-port", default=_BIND_PORT, show_default=True, type=click.IntRange(1, 65535),
    help="Port of the first instance; the others follow consecutively.",
)  # fmt: skip
@click.option("--host", default=_BIND_HOST, show_default=True, help="Address every instance binds.")
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, MAX_WORKERS),
    help="gunicorn worker processes per instance.",
)  # fmt: skip
def fleet(count: int, base_port: int, host: str, workers: int) -> None:
    """Run a local fleet: N `ratecard serve` instances on consecutive ports, until Ctrl-C.

    Every instance uses the configured DATABASE_URL and REDIS_URL and its own
    RATECARD_INSTANCE_ID (fleet-1, fleet-2, ...). Prints where each listens, then which
    instance holds the refresh lease whenever that changes. Ctrl-C or SIGTERM stops them all
    (SIGTERM, then SIGKILL after a grace period). Does not migrate: run `ratecard migrate`.
    """
    settings = load_settings(start_coordinator=False)
    ports = [base_port + i for i in range(count)]
    if ports[-1] > 65535:
        raise click.UsageError(f"--base-port {base_port} + {count} instances passes port 65535")
    busy = [port for port in ports if port_in_use(host, port)]
    if busy:
        raise FleetError(f"port(s) already in use on {host}: {', '.join(map(str, busy))}")
    check_schema(settings.database_url)

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stopping.set())

    redis = redact_url(settings.redis_url) if settings.redis_url else "none (database leases)"
    click.echo(
        f"fleet: {count} instance(s), database {redact_url(settings.database_url)}, "
        f"redis {redis}; refresh every {settings.refresh_interval:g} s. "
        "This command does not migrate (`ratecard migrate` does)."
    )
    instances: list[Instance] = []
    reader: RatecardFlask | None = None
    code = 0
    try:
        for index, port in enumerate(ports, start=1):
            instance_id = f"fleet-{index}"
            env = instance_env(os.environ, instance_id)
            process = start_instance(host, port, workers, env)
            instances.append(Instance(instance_id, host, port, process))
        for instance in instances:
            wait_listening(instance, START_TIMEOUT, stopping)
            click.echo(
                f"{instance.instance_id} listening on {instance.url} (pid {instance.process.pid})"
            )
        click.echo("Ctrl-C stops the fleet.")
        reader = status_reader(settings)
        coordinator = get_state(reader).need_coordinator()
        watch(instances, lambda: describe_holder(coordinator), stopping, click.echo)
    except FleetError as exc:
        click.echo(f"error: {exc.message}", err=True)
        code = 1
    finally:
        running = [i.process for i in instances if i.process.poll() is None]
        click.echo(f"stopping {len(running)} instance(s)")
        codes = stop_instances(running, STOP_GRACE)
        if reader is not None:
            get_state(reader).shutdown()  # closes the status reader's connections
        killed = sum(1 for c in codes if c == -signal.SIGKILL)
        click.echo(
            "fleet stopped" + (f" ({killed} killed after {STOP_GRACE:g} s)" if killed else "")
        )
    sys.exit(code)


def port_in_use(host: str, port: int) -> bool:
    """Return whether something accepts connections on host:port already."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.settimeout(0.3)
        target = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - compared only
        return sock.connect_ex((target, port)) == 0


def check_schema(database_url: str) -> None:
    """Refuse to start a fleet on a database that is unreachable or behind the code."""
    from sqlalchemy.exc import SQLAlchemyError

    from ratecard.migrations.upgrade import Migrator, database_error_text

    try:
        status = Migrator(database_url, echo=lambda _line: None).status()
    except SQLAlchemyError as exc:
        raise FleetError(
            f"database {redact_url(database_url)} unreachable: "
            f"{database_error_text(exc, database_url)}"
        ) from None
    if status.state == "behind":
        raise FleetError(
            f"the database schema is behind the code ({len(status.pending)} revision(s) "
            "pending); this command does not migrate: run `ratecard migrate` first"
        )


def instance_env(base: Mapping[str, str], instance_id: str) -> dict[str, str]:
    """Return a child's environment: the parent's, minus per-process settings, plus its id."""
    env = {k: v for k, v in base.items() if k not in PER_PROCESS_ENV}
    env["RATECARD_INSTANCE_ID"] = instance_id
    return env


def ratecard_executable() -> str:
    """Return the `ratecard` console script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("ratecard")
    if beside.exists():
        return str(beside)
    return shutil.which("ratecard") or "ratecard"


def serve_argv(host: str, port: int, workers: int) -> list[str]:
    """Return the command line of one instance."""
    return [
        ratecard_executable(), "serve", "--host", host, "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip


def start_instance(
    host: str, port: int, workers: int, env: Mapping[str, str], log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """Start one `ratecard serve` in its own session; it dies with us if we are SIGKILLed.

    Its output goes to `log` (stdout and stderr together), or to ours when None.
    """
    # Own session: a terminal's Ctrl-C reaches only this command, which then stops each
    # instance gracefully (SIGTERM: the lease holder releases its lease on the way out)
    # instead of every gunicorn taking SIGINT's quick exit at once.
    return subprocess.Popen(
        serve_argv(host, port, workers),
        env=dict(env),
        stdout=log,
        stderr=None if log is None else subprocess.STDOUT,
        start_new_session=True,
        # preexec_fn is unsafe only with threads running; instances start before any exists.
        preexec_fn=_die_with_parent,
    )


def _die_with_parent() -> None:
    # If this command is SIGKILLed it cannot stop its children: the kernel sends them SIGTERM
    # instead (Linux prctl), so a killed fleet leaves no orphan instances holding ports.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_listening(instance: Instance, timeout: float, stopping: threading.Event) -> None:
    """Wait until the instance accepts connections; FleetError if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while not port_in_use(instance.host, instance.port):
        code = instance.process.poll()
        if code is not None:
            raise FleetError(f"{instance.instance_id} exited with code {code} before listening")
        if stopping.is_set():
            raise FleetError("interrupted while starting")
        if time.monotonic() > deadline:
            raise FleetError(f"{instance.instance_id} not listening after {timeout:g} s")
        time.sleep(0.05)


def status_reader(settings: Settings) -> RatecardFlask:
    """Return an app whose coordinator only reads status (no loop), as `worker --status` does."""
    from ratecard.app import create_app

    return create_app(settings.with_overrides(instance_id="fleet-cli", start_coordinator=False))


def describe_holder(coordinator: Coordinator) -> str:
    """Return one line naming the refresh lease's holder, as the coordination layer reports it."""
    from ratecard.coordination.lease import Holding
    from ratecard.vocabulary import JobName

    store, holding = coordinator.backends.holder(JobName.REFRESH)
    if store is None:
        return f"lease: unknown ({holding})"
    if isinstance(holding, Holding):
        return f"lease: {JobName.REFRESH} held by {holding.holder} ({store}, fence {holding.fence})"
    return f"lease: {JobName.REFRESH} free ({store})"


def watch(
    instances: Iterable[Instance],
    holder: Callable[[], str],
    stopping: threading.Event,
    echo: Callable[[str], None],
    poll: float = STATUS_POLL,
) -> None:
    """Print the lease holder when it changes and each instance that exits, until stopped."""
    last = None
    reported: set[str] = set()
    while not stopping.is_set():
        line = holder()
        if line != last:
            echo(line)
            last = line
        for instance in instances:
            code = instance.process.poll()
            if code is not None and instance.instance_id not in reported:
                reported.add(instance.instance_id)
                echo(f"{instance.instance_id} exited with code {code} (not restarted)")
        stopping.wait(poll)


def stop_instances(processes: list[subprocess.Popen[bytes]], grace: float) -> list[int]:
    """SIGTERM every live instance, wait up to `grace` s, SIGKILL what is left; return codes."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            kill_session(process)
            process.wait()
    return [process.returncode for process in processes]


def kill_session(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL an instance and its workers at once, as a node or container dies."""
    # The instance leads its own session (start_new_session): killing the group takes its
    # gunicorn workers with it, which would otherwise linger as orphans.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)

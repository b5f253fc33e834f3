"""`ratecard worker`: the coordinator's status, one run now, or the coordinator alone."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from ratecard.cli.common import load_settings
from ratecard.vocabulary import FRESH_OUTCOMES, JobName, RunOutcome

if TYPE_CHECKING:
    from ratecard.web.security import RatecardFlask

# Outcomes after which `--run-once` exits 0: the catalog is current (fenced: someone else's
# run committed while ours ran, so ours rolled back).
OK_OUTCOMES = (*FRESH_OUTCOMES, RunOutcome.QUARANTINED, RunOutcome.FENCED)


F = TypeVar("F", bound=Callable[..., Any])


def run_once_options(for_alias: bool) -> Callable[[F], F]:
    """Add --json, --job and --wait: to `worker run-once`, and to the group for its aliases."""

    def say(text: str, applies_to: str = "--run-once") -> str:
        return f"With {applies_to}: {text}" if for_alias else text[0].upper() + text[1:]

    options = (
        click.option(
            "--json",
            "as_json",
            is_flag=True,
            help=say("print JSON, not text.", "--status/--run-once"),
        ),
        click.option(
            "--job", default=JobName.REFRESH.value, show_default=True, help=say("which job to run.")
        ),
        click.option(
            "--wait",
            default=600.0,
            show_default=True,
            type=click.FloatRange(min=0),
            metavar="SECONDS",
            help=say("how long to wait for a run in progress elsewhere."),
        ),
    )

    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


@click.group(invoke_without_command=True)
@click.option(
    "--status",
    "show_status",
    is_flag=True,
    help="Alias of `worker status` (the spelling deploy scripts use).",
)
@click.option(
    "--run-once", is_flag=True, help="Alias of `worker run-once` (the spelling deploy scripts use)."
)
@run_once_options(for_alias=True)
@click.pass_context
def worker(
    ctx: click.Context, show_status: bool, run_once: bool, as_json: bool, job: str, wait: float
) -> None:
    """The singleton background worker: one refresh per period across the whole fleet.

    \b
    ratecard worker status [--json]     lease holder, fence, backend, slots, runs, instances
    ratecard worker run-once [--json]   one refresh now, under the lease; exit 1 if it fails
    ratecard worker run                 the coordinator alone, without the web server
    The `--status` and `--run-once` flags that deploy scripts use stay as aliases of the
    first two.
    """
    if ctx.invoked_subcommand is not None:
        # The group's options belong to the aliases: `worker --json status` would otherwise
        # print text while the operator asked for JSON. Subcommands take their own options.
        given = [
            f"--{name.replace('_', '-')}"
            for name in ("run_once", "job", "wait")
            if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
        ]
        given += ["--status"] if show_status else []
        given += ["--json"] if as_json else []
        if given:
            raise click.UsageError(
                f"{', '.join(sorted(given))}: give options after the subcommand "
                f"(`ratecard worker {ctx.invoked_subcommand} --help`)"
            )
        return
    if show_status and run_once:
        raise click.UsageError("choose one of --status and --run-once")
    if show_status:
        sys.exit(show_worker_status(as_json))
    if run_once:
        sys.exit(run_job_once(job, wait, as_json))
    click.echo(ctx.get_help())


@worker.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, not text.")
def status(as_json: bool) -> None:
    """Show the lease store and holder, fence, slots, recent runs and live instances.

    Exits 1 when no coordination backend (Redis or the database) answers.
    """
    sys.exit(show_worker_status(as_json))


@worker.command("run-once")
@run_once_options(for_alias=False)
def run_once_command(as_json: bool, job: str, wait: float) -> None:
    """Run a job now under the lease; exit 1 if it fails.

    A run in progress elsewhere is waited for instead of run twice.
    """
    sys.exit(run_job_once(job, wait, as_json))


def show_worker_status(as_json: bool) -> int:
    """Print the coordinator's status; return the exit code (1: no backend answers)."""
    app = _build_app(start_coordinator=False, role="cli")
    from ratecard.web.state import get_state

    try:
        data = get_state(app).need_coordinator().status()
        data.pop("coordinator", None)  # this CLI process runs no coordinator loop
        click.echo(json.dumps(data, indent=2, default=str) if as_json else format_status(data))
        return 0 if data["backend"] else 1
    finally:
        get_state(app).shutdown()


def run_job_once(job: str, wait: float, as_json: bool) -> int:
    """Run `job` once under its lease, print the result; return the exit code."""
    app = _build_app(start_coordinator=False, role="cli")
    from ratecard.web.state import get_state

    coordinator = get_state(app).need_coordinator()
    try:
        if job not in coordinator.jobs.names:
            raise click.UsageError(
                f"unknown job {job!r} (known: {', '.join(coordinator.jobs.names)})"
            )
        result = coordinator.run_once(job, trigger="cli", wait=wait)
        out = result.as_dict()
        click.echo(json.dumps(out, default=str) if as_json else format_result(out))
        return 0 if result.outcome in OK_OUTCOMES else 1
    finally:
        get_state(app).shutdown()


@worker.command("run")
def run() -> None:
    """Run the coordinator in the foreground until SIGTERM/SIGINT (then release and exit 0)."""
    from ratecard.app import start_background
    from ratecard.web.state import get_state

    app = _build_app(start_coordinator=True, role="worker")
    stopping = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    start_background(app)
    state = get_state(app)
    click.echo(f"worker {state.instance.instance_id} running; SIGTERM or Ctrl-C to stop", err=True)
    while not stopping.wait(0.2):
        pass
    state.shutdown()  # stops the coordinator: cancels a run, releases its lease
    click.echo("worker stopped", err=True)
    sys.exit(0)


def _build_app(start_coordinator: bool, role: str) -> RatecardFlask:
    from ratecard.app import create_app
    from ratecard.web.state import get_state

    app = create_app(load_settings(start_coordinator=start_coordinator))
    get_state(app).instance.role = role
    return app


def format_status(data: dict[str, Any]) -> str:
    """Render status data for a terminal."""
    lines = [f"backend: {data['backend'] or 'none'}"]
    if data.get("backend_problem"):
        lines[0] += f"  ({data['backend_problem']})"
    for name, job in data["jobs"].items():
        lines.append(f"job {name}: every {job.get('interval'):g} s, slot now {job.get('slot_now')}")
        lease = job.get("lease") or {}
        if lease.get("holder"):
            lines.append(
                f"  lease: held by {lease['holder']} (fence {lease['fence']}, "
                f"expires in {lease['expires_in']:.1f} s, {lease['store']})"
            )
        else:
            lines.append(
                f"  lease: free ({lease.get('store') or lease.get('error') or 'no store'})"
            )
        if "error" in job:
            lines.append(f"  {job['error']}")
            continue
        lines.append(f"  last completed slot: {job['last_completed_slot']}")
        lines.append(f"  next due: {_when(job['next_due_at'])} (in {job['next_due_in']:.1f} s)")
        for run in job["recent_runs"]:
            took = f"{run['duration']:.2f} s" if run["duration"] is not None else "-"
            lines.append(
                f"    run #{run['id']} {run['outcome']:<10} {run['trigger'] or '-':<9} "
                f"{_slot_and_fence(run)}by {run['instance_id']} "
                f"at {_when(run['started_at'])} took {took}"
            )
    instances = data.get("instances", [])
    lines.append(f"live instances: {len(instances)}")
    for item in instances:
        lines.append(
            f"  {item['id']} role={item.get('role')} pid={item.get('pid')} v{item.get('version')}"
        )
    return "\n".join(lines)


def format_result(result: dict[str, Any]) -> str:
    """Render a run result on one line."""
    claimed = [
        f"{name} {result[name]}" for name in ("slot", "fence") if result.get(name) is not None
    ]
    details = [f"trigger {result['trigger']}", *claimed, f"{result['duration']:.2f} s"]
    text = f"{result['job']}: {result['outcome']} ({', '.join(details)})"
    return text + (f": {result['error']}" if result.get("error") else "")


def _slot_and_fence(run: dict[str, Any]) -> str:
    """`slot S fence F ` for a coordinated run; nothing where it had neither (a run that never
    started, an admin review, an import: none of them claims a slot or holds a fence)."""
    parts = [f"{name} {run[name]}" for name in ("slot", "fence") if run.get(name) is not None]
    return " ".join(parts) + " " if parts else ""


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))

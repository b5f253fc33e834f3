"""Run every benchmark under bench/ and print one table: figure, baseline from the same run, ratio.

    .venv/bin/python bench/all.py [--only startup,api] [--quick] [--repeat 3]   (or: make bench)

Every script runs `--repeat` times (default 3), in rounds (all scripts once, then again), so
that a burst of load on a shared machine hits one round, not every sample of one figure. The
table gives each figure's median with its range (min-max), the baseline's median, and the
median ratio (of the per-round ratios) with its range: a range wider than the gap to a target
means the machine was too noisy to tell.

Each script runs as a subprocess with its own timeout; its printed lines are parsed with the
small regexes below (one per figure, each naming the line it expects). A script that fails,
times out, or no longer prints an expected line makes this command exit 1, naming the script
and the line; the table still shows every figure that was read. Needs what the scripts need:
PostgreSQL at 127.0.0.1:5432 (user postgres) and Redis at 127.0.0.1:6379 (own key prefixes;
coordination and takeover start redis-servers of their own). About 3 minutes a round.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class MissingFigure(Exception):
    """A script's output lacks a line this table needs (its format changed, or it failed)."""


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    benchmark: str
    figure: str
    value: float
    unit: str
    baseline_label: str | None = None
    baseline: float | None = None
    target: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


def figure(output: str, pattern: str, expected: str) -> float:
    """Return the first group of `pattern` in `output`, or raise naming the expected line."""
    match = re.search(pattern, output, re.MULTILINE)
    if match is None:
        raise MissingFigure(f"expected a line like {expected!r} (regex {pattern!r})")
    return float(match.group(1))


# --- one parser per script: what it prints -> rows -------------------------------------------


def parse_startup(out: str) -> list[Row]:
    # "  ratecard serve :     855 ms   runs: ..." (both probes 200), the first request's two
    # lines the same way after "first request", then the same two labels with "req/s".
    ours_ms = figure(out, r"ratecard serve :\s+([\d.]+) ms", "  ratecard serve :  855 ms")
    bare_ms = figure(out, r"bare Flask app :\s+([\d.]+) ms", "  bare Flask app :  300 ms")
    first = out.split("first request after both", 1)[-1]
    ours_first = figure(first, r"ratecard serve :\s+([\d.]+) ms", "  ratecard serve : 5 ms")
    bare_first = figure(first, r"bare Flask app :\s+([\d.]+) ms", "  bare Flask app : 2 ms")
    later = out.split("first read of another model", 1)[-1]
    ours_later = figure(later, r"ratecard serve :\s+([\d.]+) ms", "  ratecard serve : 2 ms")
    bare_later = figure(later, r"bare Flask app :\s+([\d.]+) ms", "  bare Flask app : 1 ms")
    ours_rps = figure(out, r"ratecard serve :\s+([\d.]+) req/s", "  ratecard serve : 1689 req/s")
    bare_rps = figure(out, r"bare Flask app :\s+([\d.]+) req/s", "  bare Flask app : 2054 req/s")
    behind = figure(
        out, r"startup failed after ready passed: (\d+) of", "  runs where ...: 0 of 5 (target 0)"
    )
    return [
        Row("startup", "exec -> /health/startup and /health/ready both 200", ours_ms, "ms",
            "bare Flask app, same gunicorn", bare_ms, "<= 1.5x and < 1000 ms"),
        Row("startup", "runs where /health/startup failed after /health/ready passed", behind,
            "runs", target="0"),
        Row("startup", "first GET /api/models/gpt-4o after both", ours_first, "ms",
            "bare Flask app, same gunicorn", bare_first, "-"),
        Row("startup", "first read of another model, warm-up over", ours_later, "ms",
            "bare Flask app, same gunicorn", bare_later, "-"),
        Row("startup", "/health/ready throughput", ours_rps, "req/s",
            "bare Flask app, same gunicorn", bare_rps, ">= 0.8x"),
    ]  # fmt: skip


def parse_api(out: str) -> list[Row]:
    # "ratecard GET /api/models/<id>        1558 req/s  (0 errors)"
    ours = figure(out, r"ratecard GET /api/models/<id>\s+([\d.]+) req/s", "ratecard GET ... req/s")
    bare = figure(out, r"bare Flask, same documents\s+([\d.]+) req/s", "bare Flask, ... req/s")
    return [
        Row("api", "GET /api/models/<id> throughput", ours, "req/s",
            "bare Flask, same documents", bare, ">= 1.0x"),
    ]  # fmt: skip


def parse_refresh(out: str) -> list[Row]:
    # "full refresh, empty PostgreSQL:                0.495 s  (target <= 2 s; ...)"
    parse = figure(out, r"^parse alone[^:]*:\s+([\d.]+) s", "parse alone (median of 3): 0.114 s")
    full = figure(out, r"^full refresh, empty PostgreSQL:\s+([\d.]+) s", "full refresh, ...: 0.5 s")
    etag = figure(
        out, r"^unchanged re-refresh, conditional \(ETag\):\s+([\d.]+) s", "... (ETag): 0.16 s"
    )
    diff = figure(
        out, r"^unchanged re-refresh, full parse \+ diff:\s+([\d.]+) s", "... + diff: 0.36 s"
    )
    return [
        Row("refresh", "full load of 2,982 models (PostgreSQL)", full, "s",
            "parsing the feed alone", parse, "<= 0.5 s"),
        Row("refresh", "unchanged re-refresh, ETag 304", etag, "s",
            "full load", full, "<= 0.5 s"),
        Row("refresh", "unchanged re-refresh, parse + diff", diff, "s",
            "full load", full, "<= 0.5 s"),
    ]  # fmt: skip


def parse_coordination(out: str) -> list[Row]:
    # Table lines: "      100     18.0      30.8     1  evalsha 635, ..." (instances idle boundary)
    table = {
        int(m.group(1)): (float(m.group(2)), float(m.group(3)))
        for m in re.finditer(r"^\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s+\d+\s", out, re.MULTILINE)
    }
    if 1 not in table or len(table) < 2:
        raise MissingFigure(
            "expected table lines like '  100   18.0   30.8   1  evalsha ...' for 1 and more "
            "instances"
        )
    solo_idle = table[1][0]
    rows = []
    for n, (idle, boundary) in sorted(table.items()):
        if n != 1:
            rows.append(Row("coordination", f"Redis cmds/instance/min idle, {n} instances",
                            idle, "cmd/min", "idle, 1 instance", solo_idle))  # fmt: skip
        rows.append(Row("coordination", f"Redis cmds/instance/min at a boundary, {_instances(n)}",
                        boundary, "cmd/min", f"idle, {_instances(n)}", idle))  # fmt: skip
    return rows


def _instances(n: int) -> str:
    return "1 instance" if n == 1 else f"{n} instances"


def parse_takeover(out: str) -> list[Row]:
    # "takeover time with defaults (TTL 10 s, renew every 3.3 s, standby poll 2 s +-25 %)"
    ttl = figure(out, r"\(TTL ([\d.]+) s", "takeover time with defaults (TTL 10 s, ...")
    poll = figure(out, r"standby poll ([\d.]+) s", "... standby poll 2 s ...")
    kill = figure(out, r"after SIGKILL:\s+([\d.]+) s", "  after SIGKILL: 10.38 s")
    term = figure(out, r"after SIGTERM:\s+([\d.]+) s", "  after SIGTERM:  1.78 s")
    return [
        Row("takeover", "slot taken over after SIGKILL", kill, "s",
            "lease TTL (configured)", ttl, f"<= {ttl + poll:g} s (TTL + a poll)"),
        Row("takeover", "slot taken over after SIGTERM", term, "s",
            "standby poll (configured)", poll, f"<= {poll * 1.25:g} s (one jittered poll)"),
    ]  # fmt: skip


def parse_migrate(out: str) -> list[Row]:
    # "  migrate, up-to-date database:          499 ms"
    head = figure(out, r"migrate, up-to-date database:\s+([\d.]+) ms", "  migrate, up-to-date ...")
    dry = figure(out, r"migrate --dry-run, empty database:\s+([\d.]+) ms", "  migrate --dry-run...")
    check = figure(
        out, r"migrate --check, up-to-date database:\s+([\d.]+) ms", "  migrate --check..."
    )
    floor = figure(out, r"ratecard --version \(CLI start\):\s+([\d.]+) ms", "  ratecard --version")
    return [
        Row("migrate", "ratecard migrate, up-to-date database (every deploy)", head, "ms",
            "ratecard --version (CLI start)", floor, "<= 3x"),
        Row("migrate", "ratecard migrate --check, up-to-date database", check, "ms",
            "ratecard --version (CLI start)", floor, "<= 3x"),
        Row("migrate", "ratecard migrate --dry-run, empty database", dry, "ms",
            "ratecard --version (CLI start)", floor),
    ]  # fmt: skip


def parse_webhooks(out: str) -> list[Row]:
    # "commit -> delivery latency, holder on another instance:  368 ms  (median of 15; ..."
    polled = figure(
        out, r"holder on another instance:\s+([\d.]+) ms", "... another instance: 368 ms"
    )
    woken = figure(out, r"holder on the same instance:\s+([\d.]+) ms", "... same instance: 18 ms")
    poll = figure(out, r"poll ([\d.]+) s\)", "... poll 0.5 s)")
    rate = figure(out, r"to 10 receivers:\s+([\d.]+) deliveries/s", "... 144 deliveries/s")
    return [
        Row("webhooks", "commit -> delivery, holder on another instance", polled, "ms",
            "poll interval (configured)", poll * 1000, "<= poll + 100 ms"),
        Row("webhooks", "commit -> delivery, holder on the same instance", woken, "ms",
            "poll interval (configured)", poll * 1000, "< 100 ms"),
        Row("webhooks", "deliveries/s to 10 receivers", rate, "deliveries/s"),
    ]  # fmt: skip


def parse_hostile(out: str) -> list[Row]:
    # "valid request:                   0.39 ms CPU  (HTTP 200)"
    valid = figure(out, r"valid request:\s+([\d.]+) ms CPU", "valid request: 0.39 ms CPU")
    unknown = figure(out, r"~90,000 unknown keys:\s+([\d.]+) ms CPU", "... unknown keys: 40 ms CPU")
    return [
        Row("hostile", "CPU per rejected 1 MB body (~90,000 unknown keys, 422)", unknown, "ms",
            "a valid POST /api/cost", valid),
    ]  # fmt: skip


def parse_cost_batch(out: str) -> list[Row]:
    # "ratecard POST /api/cost/batch :     25047 results/s  (...)", then the anchor script's
    # "anchor (faster of the two)  :  12776 calls/s" unless its venv could not be built.
    ours = figure(
        out, r"ratecard POST /api/cost/batch :\s+([\d.]+) results/s", "... : 25047 results/s"
    )
    anchor = re.search(r"anchor \(faster of the two\)\s*:\s*([\d.]+) calls/s", out)
    return [
        Row("cost_batch", "POST /api/cost/batch, 100,000 requests in one body", ours,
            "results/s", "faster of LiteLLM cost_per_token and genai-prices calc_price, "
            "in-process" if anchor else None, float(anchor.group(1)) if anchor else None,
            ">= 10x"),
    ]  # fmt: skip


def parse_batch_at(out: str) -> list[Row]:
    # "lines without at :  150000 lines/s" then "lines with at    :   90000 lines/s"
    plain = figure(out, r"lines without at :\s+([\d.]+) lines/s", "lines without at : 1 lines/s")
    dated = figure(out, r"lines with at\s+:\s+([\d.]+) lines/s", "lines with at : 1 lines/s")
    return [
        Row("batch_at", "POST /api/cost/batch, 20,000 lines each with its own at", dated,
            "lines/s", "the same lines without at", plain, ">= 0.5x"),
    ]  # fmt: skip


def parse_faults(out: str) -> list[Row]:
    # "  rolling restart of 3 instances: 0 client errors of 24225 requests", then the outage.
    rolling = figure(
        out, r"rolling restart of 3 instances:\s+(\d+) client errors", "rolling restart ...: 0"
    )
    outage = figure(out, r"database outage of [\d.]+ s.*?:\s+(\d+) client errors", "outage: 0")
    return [
        Row("faults", "client errors through HAProxy, rolling restart of 3 instances", rolling,
            "errors", target="0"),
        Row("faults", "client errors through HAProxy, 5 s database outage", outage, "errors",
            target="0"),
    ]  # fmt: skip


def parse_client(out: str) -> list[Row]:
    # "cost() in-process          :    83578 calls/s ...", the anchor, the copy's bytes, a 304.
    rate = figure(
        out, r"cost\(\) in-process\s+:\s+([\d.]+) calls/s", "cost() in-process : 1 calls/s"
    )
    bodies = figure(out, r"cost\(\) of provider bodies\s+:\s+([\d.]+) calls/s", "bodies : 1")
    found = re.search(r"anchor \(faster of the two\)\s*:\s*([\d.]+) calls/s", out)
    anchor = float(found.group(1)) if found else None
    zipped = figure(out, r"catalog copy, gzip\s+:\s+(\d+) bytes", "catalog copy, gzip : 1 bytes")
    unchanged = figure(out, r"sync, nothing changed\s+:\s+([\d.]+) s", "sync ... : 1 s")
    label = "genai-prices calc_price / LiteLLM cost_per_token, faster"
    return [
        Row("client", "Pricer.cost() in-process, flat counts and provider bodies", rate,
            "calls/s", label if anchor is not None else None, anchor, ">= 10x"),
        Row("client", "Pricer.cost() of real provider bodies alone", bodies, "calls/s",
            label if anchor is not None else None, anchor),
        Row("client", "catalog sync, whole copy (gzip)", zipped / 1000, "KB"),
        Row("client", "catalog sync, nothing changed (304)", unchanged * 1000, "ms"),
    ]  # fmt: skip


@dataclass(frozen=True)
class Script:
    """A benchmark script, its arguments (full and --quick), its timeout and its parser."""

    name: str
    parse: Callable[[str], list[Row]]
    timeout: float
    args: tuple[str, ...] = ()
    quick_args: tuple[str, ...] = field(default=())


QUICK_COST_BATCH = ("--requests", "20000", "--rounds", "1", "--anchor-seconds", "1")
SCRIPTS = (
    Script("startup", parse_startup, 240, quick_args=("--runs", "3", "--seconds", "2")),
    Script("refresh", parse_refresh, 180),
    Script("api", parse_api, 240, quick_args=("--seconds", "3", "--rounds", "2")),
    Script("coordination", parse_coordination, 300),
    Script("takeover", parse_takeover, 240),
    Script("migrate", parse_migrate, 120, quick_args=("--runs", "3")),
    Script("webhooks", parse_webhooks, 180, quick_args=("--rounds", "5", "--messages", "10")),
    Script("hostile", parse_hostile, 120, args=("--repeat", "10"), quick_args=("--repeat", "3")),
    Script("cost_batch", parse_cost_batch, 900, quick_args=QUICK_COST_BATCH),
    Script("batch_at", parse_batch_at, 300, quick_args=("--lines", "5000", "--rounds", "1")),
    Script("faults", parse_faults, 240, quick_args=("--outage", "3")),
    Script(
        "client",
        parse_client,
        600,
        quick_args=("--seconds", "1", "--rounds", "1", "--anchor-seconds", "1"),
    ),
)


def run_script(script: Script, quick: bool) -> tuple[list[Row], str | None, float]:
    """Run one script; return its rows, an error naming what went wrong, and its wall time."""
    argv = [sys.executable, str(REPO / "bench" / f"{script.name}.py"), *script.args]
    if quick:
        argv += list(script.quick_args)
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv, cwd=REPO, capture_output=True, text=True, timeout=script.timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return [], f"timed out after {script.timeout:g} s", time.monotonic() - started
    seconds = time.monotonic() - started
    tail = "\n    ".join((done.stdout + done.stderr).strip().splitlines()[-8:])
    if done.returncode != 0:
        return [], f"exit code {done.returncode}; last lines:\n    {tail}", seconds
    try:
        return script.parse(done.stdout), None, seconds
    except MissingFigure as exc:
        return [], f"{exc}; it printed:\n    {tail}", seconds


def machine() -> str:
    """Describe this machine: cores, CPU model, RAM, OS, Python, load."""
    cpu = platform.processor() or "unknown CPU"
    ram = "? GB"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024**2:.0f} GB"
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cores} CPUs ({cpu}), {ram} RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; load average at the start {load}"
    )


def aggregate(rounds: list[list[Row]]) -> list[Aggregate]:
    """Group each figure's rows across rounds, in the order figures first appeared."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for rows in rounds:
        for row in rows:
            groups.setdefault((row.benchmark, row.figure), []).append(row)
    return [Aggregate(rows) for rows in groups.values()]


@dataclass(frozen=True)
class Aggregate:
    """One figure over several rounds: medians and ranges of value and ratio."""

    rows: list[Row]

    @property
    def first(self) -> Row:
        return self.rows[0]

    def values(self) -> list[float]:
        return [row.value for row in self.rows]

    def baselines(self) -> list[float]:
        return [row.baseline for row in self.rows if row.baseline is not None]

    def ratios(self) -> list[float]:
        return [row.ratio for row in self.rows if row.ratio is not None]


def _median_and_range(values: list[float], fmt: Callable[[float], str]) -> str:
    if not values:
        return "-"
    middle = fmt(statistics.median(values))
    if len(values) == 1:
        return middle
    return f"{middle} ({fmt(min(values))}-{fmt(max(values))})"


def render(figures: list[Aggregate]) -> str:
    """Return the figures as a Markdown table (it reads in a terminal and pastes into the README)."""
    lines = [
        "| benchmark | figure | median (min-max) | baseline, same round (median) | ratio: median "
        "(min-max) | runs | target |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for fig in figures:
        row = fig.first
        value = _median_and_range(fig.values(), _num) + f" {row.unit}"
        baselines = fig.baselines()
        baseline = (
            f"{row.baseline_label}: {_num(statistics.median(baselines))} {row.unit}"
            if baselines
            else "-"
        )
        ratio = _median_and_range(fig.ratios(), lambda r: f"{r:.2f}x")
        lines.append(
            f"| {row.benchmark} | {row.figure} | {value} | {baseline} | {ratio} "
            f"| {len(fig.rows)} | {row.target or '-'} |"
        )
    return "\n".join(lines)


def _num(value: float) -> str:
    if value >= 100 or value == int(value) == 0:  # a count of none reads "0"
        return f"{value:,.0f}"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 10 else f"{value:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated scripts to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds where a script allows")
    parser.add_argument(
        "--repeat", type=int, default=3, help="times each script runs (rounds); default 3"
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    wanted = set(args.only.split(",")) if args.only else {s.name for s in SCRIPTS}
    unknown = wanted - {s.name for s in SCRIPTS}
    if unknown:
        parser.error(f"unknown script(s): {', '.join(sorted(unknown))}")

    header = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}"
    rounds: list[list[Row]] = []
    errors: list[str] = []
    for round_number in range(1, args.repeat + 1):
        rows: list[Row] = []
        for script in (s for s in SCRIPTS if s.name in wanted):
            print(
                f"round {round_number}/{args.repeat}: bench/{script.name}.py ...",
                end=" ",
                flush=True,
                file=sys.stderr,
            )
            got, error, seconds = run_script(script, args.quick)
            print(f"{seconds:.0f} s" + (" FAILED" if error else ""), file=sys.stderr)
            rows += got
            if error:
                errors.append(f"bench/{script.name}.py (round {round_number}): {error}")
        rounds.append(rows)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(header + f"; at the end {load}")
    print()
    print(render(aggregate(rounds)))
    for error in errors:
        print(f"\nerror: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""How long `ratecard migrate` takes on every deploy: an up-to-date database, --check, --dry-run.

    .venv/bin/python bench/migrate.py [--runs 5]

Runs the real command as a process (what a release phase pays), on a PostgreSQL database of
its own (created, migrated, dropped), median of --runs; the baseline is `ratecard --version`,
the cost of starting the CLI at all.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

BIN = Path(sys.executable).parent
sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from bench.support import compile_sources  # noqa: E402

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def timed(args: list[str], env: dict[str, str]) -> float:
    """Run `ratecard ARGS` once; return its wall time in ms (it must exit 0)."""
    started = time.perf_counter()
    subprocess.run([str(BIN / "ratecard"), *args], env=env, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def median_ms(args: list[str], env: dict[str, str], runs: int) -> float:
    return statistics.median(timed(args, env) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    compile_sources()  # as installed in the image: see bench/support.py
    names = [f"rc_bench_migrate_{uuid.uuid4().hex[:8]}_{kind}" for kind in ("head", "empty")]
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        head_env = dict(os.environ, DATABASE_URL=f"postgresql://postgres@127.0.0.1/{names[0]}")
        empty_env = dict(os.environ, DATABASE_URL=f"postgresql://postgres@127.0.0.1/{names[1]}")
        first = timed(["migrate"], head_env)
        up_to_date = median_ms(["migrate"], head_env, runs)
        check = median_ms(["migrate", "--check"], head_env, runs)
        dry_run = median_ms(["migrate", "--dry-run"], empty_env, runs)
        floor = median_ms(["--version"], head_env, runs)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"ratecard migrate, PostgreSQL, median of {runs} runs as a process:")
    print(f"  first migrate, empty database:     {first:7.0f} ms")
    print(f"  migrate, up-to-date database:      {up_to_date:7.0f} ms")
    print(f"  migrate --check, up-to-date database: {check:7.0f} ms")
    print(f"  migrate --dry-run, empty database: {dry_run:7.0f} ms")
    print(f"  ratecard --version (CLI start):    {floor:7.0f} ms")


if __name__ == "__main__":
    main()

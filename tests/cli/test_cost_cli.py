"""`ratecard cost FILE|-`: NDJSON and CSV usage logs, stdin, results in order, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ratecard.cli import main
from ratecard.db import build_engine
from tests.support.store_helpers import TIERED, price
from tests.web.api.test_models import commit

FLAT = {"model": "acme/a-small", "input_tokens": 1000, "output_tokens": 500}  # 0.002


@pytest.fixture
def database(migrated_sqlite_url: str) -> str:
    engine = build_engine(migrated_sqlite_url)
    try:
        commit(engine, "litellm", TIERED, price("acme/a-small", "0.000001", "0.000002"))
    finally:
        engine.dispose()
    return migrated_sqlite_url


def invoke(database_url: str, *args: str, stdin: bytes | None = None) -> Result:
    env = {"DATABASE_URL": database_url, "RATECARD_SOURCES": "litellm=file:///nowhere"}
    return CliRunner().invoke(main, ["cost", *args], env=env, input=stdin)


def results(result: Result) -> list[Any]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_ndjson_log_prices_every_line_in_order(database: str, tmp_path: Path) -> None:
    log = tmp_path / "usage.ndjson"
    log.write_text("\n".join(json.dumps(r) for r in [FLAT, {**FLAT, "input_tokens": 0}]) + "\n")

    result = invoke(database, str(log))

    assert result.exit_code == 0, result.output
    first, second = results(result)
    assert (first["total"], second["total"]) == ("0.002", "0.001")
    assert first["components"][0]["price_name"] == "input_per_token"


def test_a_bad_line_gets_its_own_error_and_exit_1(database: str) -> None:
    stdin = b"\n".join([json.dumps(FLAT).encode(), b"{oops", b"", json.dumps(FLAT).encode()])

    result = invoke(database, "-", stdin=stdin)

    assert result.exit_code == 1
    good, bad, again = results(result)
    assert good["total"] == again["total"] == "0.002"
    assert (bad["line"], bad["status"], bad["field"]) == (2, 400, "body")


def test_csv_log_by_extension_and_by_option(database: str, tmp_path: Path) -> None:
    rows = (
        "model,input_tokens,output_tokens,cache_read_tokens,source\n"
        "acme/a-small,1000,500,,litellm\n"
        "\n"
        "acme/tiered,250000,1000,,\n"
        "acme/a-small,ten,1,,\n"
    )
    (tmp_path / "log.csv").write_text(rows)
    (tmp_path / "log.txt").write_text(rows)

    by_extension = invoke(database, str(tmp_path / "log.csv"))
    by_option = invoke(database, "--format", "csv", str(tmp_path / "log.txt"))

    assert by_extension.exit_code == by_option.exit_code == 1  # the row with "ten"
    assert results(by_extension) == results(by_option)
    small, tiered, bad = results(by_extension)
    assert small["total"] == "0.002"
    assert (tiered["tier_above_tokens"], tiered["total"]) == (200000, "1.5275")
    assert (bad["line"], bad["field"]) == (5, "input_tokens")


def test_a_csv_row_that_is_not_utf8_is_its_own_error(database: str, tmp_path: Path) -> None:
    # A spreadsheet's Latin-1 row used to stop the command with a traceback and no row.
    rows = b"model,input_tokens,output_tokens\nacme/a-small,1000,500\nacme/caf\xe9,1,1\n"
    rows += b"acme/a-small,0,500\n"
    (tmp_path / "log.csv").write_bytes(rows)

    result = invoke(database, str(tmp_path / "log.csv"))

    assert result.exit_code == 1, result.output
    first, bad, last = results(result)
    assert (first["total"], last["total"]) == ("0.002", "0.001")
    assert bad == {
        "line": 3,
        "error": "bad_request",
        "status": 400,
        "detail": "line 3 is not valid UTF-8 (save the file as UTF-8)",
        "field": "body",
    }


def test_summary_totals_per_model_exactly_and_in_all(database: str, tmp_path: Path) -> None:
    rows = (
        "model,input_tokens,output_tokens\n"
        "acme/a-small,1000,500\n"  # 0.002
        "acme/tiered,250000,1000\n"  # 1.5275 (the tier above 200,000)
        "acme/a-small,1000000000,0\n"  # 1,000
        "acme/a-small,ten,1\n"  # not priced
    )
    (tmp_path / "log.csv").write_text(rows)

    result = invoke(database, "--summary", str(tmp_path / "log.csv"))

    assert result.exit_code == 1, "a line could not be priced"
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines == [
        ["model", "source", "requests", "total", "(USD)"],
        ["acme/a-small", "litellm", "2", "1,000.002"],
        ["acme/tiered", "litellm", "1", "1.5275"],
        ["all", "models", "3", "1,001.5295"],
        ["1", "request(s)", "could", "not", "be", "priced", "(run", "without", "--summary)"],
    ]


@pytest.mark.parametrize(
    ("args", "files", "message"),
    [
        (["missing.ndjson"], {}, "No such file"),
        (["--format", "xml", "log.csv"], {"log.csv": "model\n"}, "xml"),
        (["log.csv"], {"log.csv": "model,tokens\nx,1\n"}, "unknown column 'tokens'"),
        (["log.csv"], {"log.csv": "input_tokens\n1\n"}, "no `model` column"),
        # A CSV by another name: one hint, not one JSON error per line.
        (["usage.txt"], {"usage.txt": "model,input_tokens\nx,1\n"}, "pass --format csv"),
        (["usage.txt"], {"usage.txt": '\ufeff"model", input_tokens\n'}, "looks like CSV"),
    ],
)
def test_usage_errors_exit_2(
    database: str,
    tmp_path: Path,
    args: list[str],
    files: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    result = invoke(database, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_an_unreachable_database_exits_2(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    result = invoke(url, "-", stdin=json.dumps(FLAT).encode())
    assert result.exit_code == 2 and "database unavailable" in result.output


def test_the_installed_command_reads_stdin(database: str) -> None:
    ratecard = str(Path(sys.executable).parent / "ratecard")
    env = dict(os.environ, DATABASE_URL=database, RATECARD_SOURCES="litellm=file:///nowhere")
    done = subprocess.run(
        [ratecard, "cost", "-"],
        input=json.dumps(FLAT).encode() + b"\n",
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["total"] == "0.002"


def test_at_prices_a_model_no_longer_served_as_the_api_does(database: str) -> None:
    """A request with `at` finds a removed model by its exact id: it had prices then."""
    from datetime import UTC, datetime

    from ratecard.ingest import run_records, store
    from tests.support.store_helpers import decision

    before = datetime.now(UTC).isoformat()
    engine = build_engine(database)
    try:
        run_id = run_records.start_run(engine, run_records.RunInfo(trigger="test"))
        with engine.begin() as conn:
            rows = store.load_source_rows(conn, "litellm")
            gone = decision({}, removals=["acme/a-small"])
            store.apply_decision(
                conn, "litellm", gone, rows=rows, run_id=run_id, now=store.utcnow()
            )
            run_records.finish_run(conn, run_id, "success", catalog_version=run_id)
    finally:
        engine.dispose()

    now = invoke(database, "-", stdin=json.dumps(FLAT).encode())
    then = invoke(database, "-", stdin=json.dumps({**FLAT, "at": before}).encode())

    assert now.exit_code == 1 and results(now)[0]["status"] == 404
    assert then.exit_code == 0, then.output
    assert results(then)[0]["total"] == "0.002"

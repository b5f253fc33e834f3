"""GET /api/prices.csv and `ratecard prices export`: the dated price table, exact, on both
databases; an as-of lookup in it answers what `?at=` serves."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from ratecard.ingest import run_records, store
from ratecard.serving.price_table import COLUMNS
from ratecard.web.state import get_state
from tests.support.store_helpers import SettingsFactory, decision, price
from tests.web.api.test_models import build_app


@pytest.fixture
def app(db_url: str, make_settings: SettingsFactory) -> Iterator[Flask]:
    """build_app's seven models, then a second version moving acme/a-small's input price and
    removing acme/b-large."""
    application = build_app(db_url, make_settings)
    time.sleep(0.01)  # the second version's history rows are strictly later
    engine = get_state(application).engine
    run_id = run_records.start_run(engine, run_records.RunInfo(trigger="test"))
    with engine.begin() as conn:
        rows = store.load_source_rows(conn, "litellm")
        moved = decision(
            {"acme/a-small": price("acme/a-small", "0.0000015", "0.000002")},
            removals=["acme/b-large"],
        )
        store.apply_decision(conn, "litellm", moved, rows=rows, run_id=run_id, now=store.utcnow())
        run_records.finish_run(conn, run_id, "success", catalog_version=run_id)
    yield application
    get_state(application).shutdown()


def answer(response: Any) -> Any:
    return response.get_json()


def table(client: FlaskClient, query: str = "") -> list[dict[str, str]]:
    answer = client.get(f"/api/prices.csv{query}")
    assert answer.status_code == 200, answer.data[:300]
    assert answer.content_type == "text/csv; charset=utf-8"
    reader = csv.DictReader(io.StringIO(answer.get_data(as_text=True)))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def test_the_table_now_holds_each_price_in_force_exactly(app: Flask) -> None:
    rows = table(app.test_client())
    small = [r for r in rows if r["model_id"] == "acme/a-small"]
    assert {(r["price_name"], r["price"], r["unit"]) for r in small} == {
        ("input_per_token", "0.0000015", "token"),
        ("output_per_token", "0.000002", "token"),
    }
    assert all(r["valid_to"] == "" and r["valid_from"] for r in rows)
    assert not [r for r in rows if r["model_id"] == "acme/b-large"], "removed: no row now"
    tiered = {r["price_name"]: r["price"] for r in rows if r["model_id"] == "acme/tiered"}
    assert tiered["input_per_token"] == "0.0000000208333333333333"  # every digit kept
    assert tiered["tiers[>200000].input_per_token"] == "0.000006"
    # A model with no price has no row (never a 0): the dynamic one of openrouter.
    assert not [r for r in rows if r["model_id"] == "acme/dyn"]
    assert {r["source"] for r in rows} == {"litellm", "openrouter"}


def test_history_gives_every_period_and_as_of_lookups_match_at_reads(app: Flask) -> None:
    client = app.test_client()
    rows = table(client, "?history=true&source=litellm")
    assert {r["source"] for r in rows} == {"litellm"}
    small = sorted(
        (
            r
            for r in rows
            if r["model_id"] == "acme/a-small" and r["price_name"] == "input_per_token"
        ),
        key=lambda r: r["valid_from"],
    )
    assert [r["price"] for r in small] == ["0.000001", "0.0000015"]
    assert small[0]["valid_to"] == small[1]["valid_from"] and small[1]["valid_to"] == ""
    large = [r for r in rows if r["model_id"] == "acme/b-large"]
    assert large and all(r["valid_to"] for r in large), "its removal ended its period"
    # An as-of lookup (valid_from <= t < valid_to) answers what GET /api/models/<id>?at= serves.
    for when in (small[0]["valid_from"], _between(small[0]), small[1]["valid_from"]):
        found = [
            r["price"]
            for r in small
            if r["valid_from"] <= when and (not r["valid_to"] or when < r["valid_to"])
        ]  # compared as text: the table's times are fixed-width, so text order is time order
        read = client.get(f"/api/models/acme/a-small?at={when}&source=litellm")
        assert read.status_code == 200, read.json
        assert found == [answer(read)["prices"]["input"]["per_token"]], when


def _between(row: dict[str, str]) -> str:
    start = datetime.fromisoformat(row["valid_from"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(row["valid_to"].replace("Z", "+00:00"))
    return (start + (end - start) / 2).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_times_are_fixed_width_so_text_order_is_time_order(app: Flask) -> None:
    rows = table(app.test_client(), "?history=true")
    times = [t for r in rows for t in (r["valid_from"], r["valid_to"]) if t]
    assert times and {len(t) for t in times} == {len("2026-03-14T00:00:00.000000Z")}


def test_filters_and_bad_parameters(app: Flask) -> None:
    client = app.test_client()
    assert {r["provider"] for r in table(client, "?provider=other&history=true")} == {"other"}
    only = table(client, "?model=shared/model")
    assert {(r["source"], r["model_id"]) for r in only} == {
        ("litellm", "shared/model"),
        ("openrouter", "shared/model"),
    }
    assert table(client, "?model=nobody") == []
    bad = client.get("/api/prices.csv?history=perhaps")
    assert bad.status_code == 422 and answer(bad)["field"] == "history"
    nul = client.get("/api/prices.csv?source=a%00b")
    assert nul.status_code == 422 and answer(nul)["field"] == "source"


def test_cli_export_writes_the_same_table(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ratecard.cli import main

    settings = get_state(app).settings
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    out = tmp_path / "prices.csv"
    result = CliRunner().invoke(main, ["prices", "export", str(out), "--history"])
    assert result.exit_code == 0, result.output
    assert "rows" in result.output
    assert out.read_bytes() == app.test_client().get("/api/prices.csv?history=true").data


def parquet_table(client: FlaskClient, query: str = "") -> Any:
    import pyarrow.parquet as pq

    answer = client.get(f"/api/prices.parquet{query}")
    assert answer.status_code == 200, answer.data[:300]
    assert answer.content_type == "application/vnd.apache.parquet"
    assert answer.headers["Content-Disposition"].endswith('.parquet"')
    return pq.read_table(io.BytesIO(answer.data))


def test_parquet_round_trips_the_csv_rows_exactly_typed(app: Flask) -> None:
    import pyarrow as pa

    client = app.test_client()
    parquet = parquet_table(client, "?history=true")
    assert tuple(parquet.column_names) == COLUMNS
    price_type = parquet.schema.field("price").type
    assert pa.types.is_decimal(price_type)
    assert parquet.schema.field("valid_from").type == pa.timestamp("us", tz="UTC")
    rows = table(client, "?history=true")
    assert parquet.num_rows == len(rows) > 0
    for csv_row, read in zip(rows, parquet.to_pylist(), strict=True):
        # The same price exactly (a Decimal, every digit) and the same instants.
        assert read["price"] == Decimal(csv_row["price"]), csv_row
        assert _text(read["valid_from"]) == csv_row["valid_from"]
        assert (_text(read["valid_to"]) if read["valid_to"] else "") == csv_row["valid_to"]
        assert (read["provider"] or "") == csv_row["provider"]
        assert [read[c] for c in ("source", "model_id", "price_name", "unit")] == [
            csv_row[c] for c in ("source", "model_id", "price_name", "unit")
        ]
    # 0.0000000208333333333333 needs 22 fractional digits: the scale holds it unrounded.
    assert price_type.scale >= 22


def test_parquet_as_of_lookup_equals_at_reads(app: Flask) -> None:
    client = app.test_client()
    parquet = parquet_table(client, "?history=true&model=acme/a-small&source=litellm")
    periods = sorted(
        (r for r in parquet.to_pylist() if r["price_name"] == "input_per_token"),
        key=lambda r: r["valid_from"],
    )
    assert len(periods) == 2
    for r in periods:
        when = r["valid_from"] + (
            (r["valid_to"] - r["valid_from"]) / 2 if r["valid_to"] else timedelta(0)
        )
        found = [
            p["price"]
            for p in periods
            if p["valid_from"] <= when and (p["valid_to"] is None or when < p["valid_to"])
        ]
        read = client.get(f"/api/models/acme/a-small?at={_text(when)}&source=litellm")
        assert found == [Decimal(answer(read)["prices"]["input"]["per_token"])], when
    assert client.get("/api/prices.parquet?history=maybe").status_code == 422


def test_cli_exports_parquet_as_the_api_does(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    from ratecard.cli import main

    monkeypatch.setenv("DATABASE_URL", get_state(app).settings.database_url)
    out = tmp_path / "prices.parquet"
    result = CliRunner().invoke(main, ["prices", "export", str(out), "--format", "parquet"])
    assert result.exit_code == 0, result.output
    assert "parquet" in result.output
    served = parquet_table(app.test_client())
    assert pq.read_table(out).equals(served)


def _text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

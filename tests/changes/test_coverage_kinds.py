"""Coverage entries of the change log: `appeared` (a model no source listed before, by id and
by linked identity) and `priced` (a listed model's first price), beside the row's own entry,
in the feed and filterable by kind."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from ratecard.catalog.model import ModelPrice
from ratecard.changes.changelog import read_changes, record_changes
from ratecard.changes.records import Change, ChangeFilter
from ratecard.ingest import run_records, store
from tests.support.store_helpers import decision, price


def commit_run(engine: Engine, *by_source: tuple[str, list[ModelPrice]]) -> list[Change]:
    """One run committing each source's models (in order), its change log entries."""
    run_id = run_records.start_run(engine, run_records.RunInfo(trigger="test"))
    with engine.begin() as conn:
        for source, models in by_source:
            rows = store.load_source_rows(conn, source)
            wanted = decision({m.model_id: m for m in models})
            store.apply_decision(conn, source, wanted, rows=rows, run_id=run_id, now=store.utcnow())
        entries = record_changes(conn, run_id, store.utcnow())
        run_records.finish_run(conn, run_id, "success", catalog_version=run_id)
    return entries


def kinds(entries: list[Change]) -> list[tuple[str, str, str | None]]:
    return [(e.kind, e.source, e.model_id) for e in entries]


def unpriced(model_id: str, **extra: Any) -> ModelPrice:
    return price(model_id, None, None, status="unpriced", **extra)


def test_appeared_names_models_no_source_listed_before(engine: Engine) -> None:
    gpt = price("gpt-4o", "0.0000025", "0.00001", provider="openai")
    first = commit_run(engine, ("litellm", [gpt, price("acme/a")]))
    assert {k for k, _, _ in kinds(first)} == {"added"}, "nothing appears on the first load"

    fresh = price("newco/fresh", source="openrouter", provider="newco")
    second = commit_run(
        engine,
        ("openrouter", [price("openai/gpt-4o", source="openrouter", provider="openai"), fresh]),
        ("genai_prices", [price("newco/fresh", source="genai_prices", provider="newco")]),
    )
    appeared = [k for k in kinds(second) if k[0] == "appeared"]
    # openai/gpt-4o is gpt-4o under another id (linked): not new. newco/fresh is, once.
    assert appeared == [("appeared", "openrouter", "newco/fresh")]
    assert [k for k in kinds(second) if k[0] == "added"] == [
        ("added", "openrouter", "openai/gpt-4o"),
        ("added", "openrouter", "newco/fresh"),
        ("added", "genai_prices", "newco/fresh"),
    ]
    entry = next(e for e in second if e.kind == "appeared")
    assert entry.new is not None and entry.new["input_per_token"] == "0.000001"


def test_priced_is_a_listed_models_first_price_only(engine: Engine) -> None:
    commit_run(engine, ("litellm", [price("acme/a")]))
    listed = commit_run(engine, ("litellm", [price("acme/a"), unpriced("acme/soon")]))
    assert ("appeared", "litellm", "acme/soon") in kinds(listed)
    assert "priced" not in {k for k, _, _ in kinds(listed)}

    first_price = commit_run(engine, ("litellm", [price("acme/a"), price("acme/soon", "0.000004")]))
    assert [k for k in kinds(first_price) if k[2] == "acme/soon"] == [
        ("changed", "litellm", "acme/soon"),
        ("priced", "litellm", "acme/soon"),
    ]
    # Unpriced again, then priced again: not its first price any more.
    commit_run(engine, ("litellm", [price("acme/a"), unpriced("acme/soon")]))
    again = commit_run(engine, ("litellm", [price("acme/a"), price("acme/soon", "0.000005")]))
    assert "priced" not in {k for k, _, _ in kinds(again)}

    with engine.connect() as conn:
        feed = read_changes(conn, where=ChangeFilter(kind="priced"))
        shown = feed[0].to_json()
    assert [(c.kind, c.model_id) for c in feed] == [("priced", "acme/soon")]
    assert shown["old"]["status"] == "unpriced" and shown["new"]["input_per_token"] == "0.000004"

"""`ratecard price-books apply FILE` (YAML or JSON, idempotent, all or nothing), `ratecard
price-books show NAME`, and `ratecard cost --price-book`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from ratecard.changes.changelog import read_changes
from ratecard.changes.records import ChangeFilter
from ratecard.cli import main
from ratecard.db import build_engine
from ratecard.schema import price_book_versions
from tests.support.store_helpers import price
from tests.web.api.test_models import commit

BOOKS = """\
- name: contract
  description: OpenAI commitment
  rules:
    - match: {provider: openai}
      multiply: 0.85
- name: resale
  base: contract
  rules:
    - match: {}
      prices: [output_per_token]
      multiply: "1.2"
"""


@pytest.fixture
def database(migrated_sqlite_url: str) -> str:
    engine = build_engine(migrated_sqlite_url)
    try:
        commit(engine, "litellm", price("gpt-4o", "0.0000025", "0.00001", provider="openai"))
    finally:
        engine.dispose()
    return migrated_sqlite_url


def run(database_url: str, *args: str, stdin: str | None = None) -> Result:
    env = {"DATABASE_URL": database_url, "RATECARD_SOURCES": "litellm=file:///nowhere"}
    return CliRunner().invoke(main, list(args), env=env, input=stdin)


def test_apply_is_idempotent_and_logs_each_new_version(database: str, tmp_path: Path) -> None:
    books = tmp_path / "books.yaml"
    books.write_text(BOOKS)
    first = run(database, "price-books", "apply", str(books))
    assert first.exit_code == 0, first.output
    assert "contract: version 1 (created)" in first.output
    assert first.output.count("read key (shown once): rcb_") == 2
    # YAML's 0.85 is read as its text: the exact decimal, never a float's digits.
    shown = run(database, "price-books", "show", "contract", "--json")
    assert json.loads(shown.output)["rules"][0]["multiply"] == "0.85"
    again = run(database, "price-books", "apply", str(books), "--json")
    assert [(r["name"], r["version"], r["changed"]) for r in json.loads(again.output)] == [
        ("contract", 1, False),
        ("resale", 1, False),
    ]
    books.write_text(BOOKS.replace("0.85", "0.8"))
    changed = run(database, "price-books", "apply", str(books))
    assert "contract: version 2 (new version)" in changed.output
    assert "resale: version 1 (unchanged)" in changed.output
    engine = build_engine(database)
    try:
        with engine.connect() as conn:
            entries = read_changes(conn, where=ChangeFilter(kind="price_book", private=True))
            versions = conn.execute(select(price_book_versions.c.name)).scalars().all()
    finally:
        engine.dispose()
    assert len(entries) == 3 and len(versions) == 3
    text = run(database, "price-books", "show", "contract")
    assert "[0] provider=openai: multiply by 0.8" in text.output


def test_a_refused_book_applies_nothing(database: str, tmp_path: Path) -> None:
    books = tmp_path / "books.json"
    good = {"name": "fine", "rules": [{"multiply": "0.5"}]}
    bad = {"name": "broken", "rules": [{"multiply": "0"}]}
    books.write_text(json.dumps([good, bad]))
    refused = run(database, "price-books", "apply", str(books))
    assert refused.exit_code == 1 and "rules[0].multiply" in refused.output
    assert run(database, "price-books", "show", "fine").exit_code == 1  # not written either
    (tmp_path / "junk.yaml").write_text("rules: [unclosed")
    assert run(database, "price-books", "apply", str(tmp_path / "junk.yaml")).exit_code == 2


def test_cost_prices_a_log_with_a_book(database: str, tmp_path: Path) -> None:
    books = tmp_path / "books.yaml"
    books.write_text(BOOKS)
    run(database, "price-books", "apply", str(books))
    log = "\n".join(
        json.dumps(line)
        for line in (
            {"model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 100_000},
            {"model": "gpt-4o", "input_tokens": 1_000_000, "price_book": "contract"},
        )
    )
    priced = run(database, "cost", "-", "--price-book", "resale", stdin=log)
    assert priced.exit_code == 0, priced.output
    first, second = (json.loads(line) for line in priced.stdout.splitlines())
    # resale over contract: input 2.5 x 0.85; output 1.0 x 0.85 x 1.2.
    assert first["total"] == "3.145" and first["price_book"]["name"] == "resale"
    assert second["total"] == "2.125" and second["price_book"]["name"] == "contract"
    assert run(database, "cost", "-", "--price-book-version", "2", stdin=log).exit_code == 2

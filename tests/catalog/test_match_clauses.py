"""genai-prices' `match` clauses resolve ids for that source: the same model genai-prices'
own lookup finds for every id of tests/data/conformance/genai_prices_lookups.jsonl.gz (made by
conformance/generate_genai.py with the pinned genai-prices), `resolved.by` "match", and no
other source's resolution changed by them."""

from __future__ import annotations

import dataclasses
import gzip
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest

from ratecard.catalog import codec
from ratecard.catalog.clause_index import SourceClauses
from ratecard.catalog.identity import ModelIndex
from ratecard.catalog.match_clauses import clause_problem, compact_date_variant, matcher
from ratecard.catalog.model import ModelPrice
from ratecard.errors import RatecardError
from ratecard.ingest.feeds import genai_prices, litellm, openrouter
from ratecard.ingest.feeds.parsing import load_json
from tests.support.services import FEED_DATA

LOOKUPS = FEED_DATA / "conformance" / "genai_prices_lookups.jsonl.gz"


@cache
def genai() -> list[ModelPrice]:
    body = (FEED_DATA / "genai_prices_2026-07-25.json").read_bytes()
    now = datetime(2026, 7, 25, tzinfo=UTC)
    return list(genai_prices.parse("genai_prices", load_json("g", body), now=now).models.values())


@cache
def others() -> list[ModelPrice]:
    lite = load_json("litellm", (FEED_DATA / "litellm_2026-07-24.json").read_bytes())
    router = load_json("openrouter", (FEED_DATA / "openrouter_models_2026-08-19.json").read_bytes())
    return [
        *litellm.parse("litellm", lite).models.values(),
        *openrouter.parse("openrouter", router).models.values(),
    ]


def lookups() -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(LOOKUPS.read_bytes()).splitlines()]


def test_every_lookup_finds_what_genai_prices_finds() -> None:
    clauses = SourceClauses.of(genai())
    providers = {p.provider for p in genai()}
    cases = lookups()
    found = [c for c in cases if c["found"] is not None]
    assert len(cases) > 5000 and len(found) > 600
    differ = []
    for case in cases:
        ours = clauses.find(case["ref"])
        ours_id = ours.model_id if ours is not None else None
        if case["found"] is not None:
            if ours_id != case["found"]:
                differ.append((case["ref"], case["found"], ours_id))
        elif ours_id is not None and case["ref"].lower().split("/", 1)[0] not in providers:
            # Where genai-prices finds nothing, so does ratecard, except that an id prefixed
            # with one of its provider ids (`anthropic/claude-sonnet-5`) is looked up there.
            differ.append((case["ref"], None, ours_id))
    assert differ == [], f"{len(differ)} differ, first: {differ[:5]}"


def test_a_request_naming_the_source_resolves_by_its_clauses() -> None:
    index = ModelIndex([*others(), *genai()])
    dated = index.resolve("gpt-4o-2024-08-06", "genai_prices")
    assert (dated.price.model_id, dated.by) == ("openai/gpt-4o", "match")
    assert index.resolve("claude-sonnet-4-5-20250929", "genai_prices").price.model_id == (
        "anthropic/claude-sonnet-4-5"
    )
    # Compact dates are tried with dashes (LiteLLM's spelling of a dated id).
    assert index.resolve("gpt-5.2-20251211", "genai_prices").price.model_id == "openai/gpt-5.2"
    # The exact id and its case come first.
    assert index.resolve("openai/gpt-4o", "genai_prices").by == "exact"
    assert index.resolve("OpenAI/GPT-4o", "genai_prices").by == "case"


def test_clauses_change_no_resolution_the_other_rules_give() -> None:
    plain = [dataclasses.replace(p, answers_to=None) for p in genai()]
    with_clauses, without = ModelIndex([*others(), *genai()]), ModelIndex([*others(), *plain])
    # Every fourth id (sorted, so every vocabulary is in it): the unknown ones are slow (each
    # 404 looks for near names), and a quarter holds every kind of id.
    # With two ids of LiteLLM's compact-date spelling that only a clause answers.
    refs = [*[c["ref"] for c in lookups()][::4], "o3-20250416", "openai/gpt-4o-20240513"]
    compared = answered_only_by_match = 0
    for ref in refs:
        for source in (None, "litellm", "openrouter"):
            before = outcome(without, ref, source)
            after = outcome(with_clauses, ref, source)
            if before[0] == "UnknownModel" and after[1] == "match":
                answered_only_by_match += 1  # no rule answered: a clause may, last
                continue
            compared += 1
            assert before == after, (ref, source)
    assert compared > 3_500 and answered_only_by_match > 0


def outcome(index: ModelIndex, ref: str, source: str | None) -> tuple[str, str]:
    try:
        found = index.resolve(ref, source)
    except RatecardError as exc:
        return type(exc).__name__, ""
    return f"{found.price.source}:{found.price.model_id}", found.by


@pytest.mark.parametrize(
    ("clause", "problem"),
    [
        ({"equals": 4}, "equals: expected a string"),
        ({"regex": "("}, "regex: missing ), unterminated subpattern at position 0"),
        ({"or": []}, "or: expected a non-empty list of clauses"),
        ({"or": [{"like": "x"}]}, "or[0]: unknown clause 'like'"),
        ({"equals": "a", "contains": "b"}, "expected an object with one of"),
        ({"regex": "^(a+)+$"}, "regex: a repeated group that repeats inside"),
    ],
)
def test_a_bad_clause_is_dropped_by_name_and_the_model_still_served(
    clause: Any, problem: str
) -> None:
    found = clause_problem(clause)
    assert found is not None and found.startswith(problem)
    body = [{"id": "acme", "models": [{"id": "one", "match": clause, "prices": {"input_mtok": 1}}]}]
    parsed = genai_prices.parse("genai_prices", load_json("g", json.dumps(body).encode()))
    assert parsed.models["acme/one"].answers_to is None
    assert [(d.model_id, d.field) for d in parsed.dropped] == [("acme/one", "match")]


def test_the_clauses_are_kept_in_every_stored_form() -> None:
    gpt = next(p for p in genai() if p.model_id == "openai/gpt-4o")
    assert gpt.answers_to is not None and gpt.answers_to.provider_clause is not None
    # Catalog items (the cache, Redis, the client's copy) and history snapshots.
    assert codec.from_item(json.loads(json.dumps(codec.to_item(gpt)))) == gpt
    assert codec.from_snapshot(codec.to_snapshot(gpt), gpt.source, gpt.model_id, gpt) == gpt
    # Not a price: a changed clause is written, but no price change is logged for it.
    moved = dataclasses.replace(gpt, answers_to=dataclasses.replace(gpt.answers_to, place=(0, 0)))
    assert moved != gpt and moved.same_prices(gpt)


def test_clauses_compare_as_genai_prices_does() -> None:
    either = matcher({"or": [{"starts_with": "GPT-4o"}, {"regex": "^o[0-9]-mini$"}]})
    assert either("gpt-4o-mini") and either("o3-mini") and not either("o3-pro")
    assert matcher({"and": [{"contains": "claude"}, {"ends_with": "-latest"}]})("claude-3-latest")
    assert compact_date_variant("gpt-5.2-20251211") == "gpt-5.2-2025-12-11"
    assert compact_date_variant("model-20251399") == "model-20251399"  # not a date

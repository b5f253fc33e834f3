"""One bad value never changes or removes what is served, through the real refresh.

After a good load of the real snapshots (LiteLLM and OpenRouter, from a local feed server into
PostgreSQL or SQLite), each hostile variant below is served in turn. Each edits the real feed
text at one model; the test proves that every other model stays exactly as served, and the
touched model stays at its last good prices: marked stale (entry rejected), held (a suspicious
move), or with the bad field dropped and its last good value kept.

The variants are served one after another on the same database, so each also proves that the
previous touched model recovers (its stale mark is lifted once the feed reads cleanly again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, select, update

from ratecard.app import create_app
from ratecard.catalog.model import ModelPrice
from ratecard.ingest import store
from ratecard.ingest.refresh import RefreshReport, refresh_catalog
from ratecard.schema import held_changes, models, run_sources, source_state
from ratecard.web.state import get_state
from tests.support.feeds import FeedServer
from tests.support.store_helpers import (
    LITELLM_NEW,
    OPENROUTER,
    SettingsFactory,
    make_deps,
    sources_setting,
)

Edit = Callable[[str], str]


# -- editing the real feed text at one entry --------------------------------------------------


def _litellm_span(text: str, model_id: str) -> tuple[int, int]:
    """Return (just after the entry's "{", the entry's closing "}") in the 2-space file."""
    start = text.index(f'\n  "{model_id}": {{') + len(f'\n  "{model_id}": {{')
    return start, text.index("\n  }", start)


def _openrouter_span(text: str, model_id: str) -> tuple[int, int]:
    at = text.index(f'"id": "{model_id}"')
    return text.rindex("{", 0, at) + 1, text.index("\n    }", at)


def _span(text: str, model_id: str) -> tuple[int, int]:
    return (
        _openrouter_span(text, model_id) if '"data": [' in text else _litellm_span(text, model_id)
    )


def replace_in(model_id: str, old: str, new: str) -> Edit:
    def edit(text: str) -> str:
        start, end = _span(text, model_id)
        block = text[start:end]
        assert block.count(old) == 1, f"{old!r} not once in {model_id}"
        return text[:start] + block.replace(old, new) + text[end:]

    return edit


def insert_in(model_id: str, fragment: str) -> Edit:
    def edit(text: str) -> str:
        start, _ = _span(text, model_id)
        return text[:start] + fragment + "," + text[start:]

    return edit


def append_model(model_id: str, entry: str) -> Edit:
    """Add a second top-level key for a model (LiteLLM) at the end of the object."""

    def edit(text: str) -> str:
        end = text.rstrip().rindex("}")
        return text[:end] + f', "{model_id}": {entry}' + text[end:]

    return edit


# -- the hostile variants -----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    source: str  # litellm | openrouter
    model_id: str
    edit: Edit
    expect: str  # stale | held | dropped | same
    detail: str  # a substring of the reason, the moved field, or the dropped field


DEEP = "[" * 5000 + "]" * 5000
HUGE = "9" * 5000
CASES = [
    Case("word", "litellm", "gpt-4o", replace_in("gpt-4o", "2.5e-06,", '"abc",'), "stale", "abc"),
    Case("minus one", "litellm", "gpt-4o", replace_in("gpt-4o", "2.5e-06,", "-1,"), "stale", "neg"),
    Case("NaN", "litellm", "gpt-4o", replace_in("gpt-4o", "2.5e-06,", "NaN,"), "stale", "finite"),
    Case(
        "arabic digits",
        "litellm",
        "gpt-4o",
        replace_in("gpt-4o", "2.5e-06,", '"\u0663\u0665",'),
        "stale",
        "is not a number",
    ),
    Case(
        "full-width digit",
        "openrouter",
        "google/gemini-3.7-flash",
        replace_in("google/gemini-3.7-flash", '"completion": "', '"completion": "\uff13'),
        "stale",
        "is not a number",
    ),
    Case(
        "5000-digit price",
        "litellm",
        "gpt-4o",
        replace_in("gpt-4o", "2.5e-06,", HUGE + ","),
        "stale",
        "5000 characters",
    ),
    Case(
        "5000-digit ignored field",
        "litellm",
        "claude-sonnet-4-5",
        insert_in("claude-sonnet-4-5", f'"rpm": {HUGE}'),
        "stale",
        "rpm: a number of 5000 characters",
    ),
    Case(
        "deep nesting in an ignored field",
        "litellm",
        "claude-sonnet-4-5",
        insert_in("claude-sonnet-4-5", f'"metadata": {DEEP}'),
        "stale",
        "nested more than",
    ),
    Case(
        "duplicate key in an entry",
        "litellm",
        "gpt-4o",
        insert_in("gpt-4o", '"input_cost_per_token": 0.0025'),
        "stale",
        "duplicate key input_cost_per_token",
    ),
    Case(
        "duplicate LiteLLM model key",
        "litellm",
        "gpt-4o",
        append_model("gpt-4o", '{"input_cost_per_token": 0.0025}'),
        "stale",
        "listed more than once",
    ),
    Case(
        "duplicate OpenRouter id",
        "openrouter",
        "google/gemini-3.7-flash",
        lambda text: text.replace(
            '"data": [', '"data": [{"id": "google/gemini-3.7-flash", "pricing": {"prompt": "1"}},'
        ),
        "stale",
        "listed more than once",
    ),
    Case(
        "bad per-image price (boolean)",
        "litellm",
        "dall-e-3",
        replace_in("dall-e-3", '"input_cost_per_image": 0.04', '"input_cost_per_image": true'),
        "dropped",
        "input_per_image",
    ),
    Case(
        "bad token limit",
        "litellm",
        "gpt-4o",
        replace_in("gpt-4o", '"max_input_tokens": 128000', '"max_input_tokens": "128k"'),
        "dropped",
        "context_window",
    ),
    Case(
        "tier price x1000",
        "litellm",
        "claude-sonnet-4-5",
        replace_in(
            "claude-sonnet-4-5",
            '"input_cost_per_token_above_200k_tokens": 6e-06',
            '"input_cost_per_token_above_200k_tokens": 6e-03',
        ),
        "held",
        "tiers[>200000].input_per_token",
    ),
    Case(
        "1-hour cache write x1000",
        "litellm",
        "claude-sonnet-4-5",
        replace_in(
            "claude-sonnet-4-5",
            '"cache_creation_input_token_cost_above_1hr": 6e-06',
            '"cache_creation_input_token_cost_above_1hr": 6e-03',
        ),
        "held",
        "units.cache_write_1h_per_token",
    ),
    Case(
        "base price disappears",
        "litellm",
        "gpt-4o",
        replace_in("gpt-4o", '"output_cost_per_token": 1e-05,', ""),
        "held",
        "output_per_token",
    ),
    Case(
        "OpenRouter -1.0 is dynamic, not negative",
        "openrouter",
        "openrouter/auto",
        lambda text: replace_in("openrouter/auto", '"prompt": "-1"', '"prompt": "-1.0"')(
            replace_in("openrouter/auto", '"completion": "-1"', '"completion": "-1.00"')(text)
        ),
        "same",
        "dynamic",
    ),
]


# -- the run ------------------------------------------------------------------------------------


# Where the feed server serves each source's feed.
FEED_PATHS = {"litellm": "/litellm.json", "openrouter": "/or.json"}


@pytest.fixture
def app(db_url: str, make_settings: SettingsFactory, feed_server: FeedServer) -> Iterator[Flask]:
    settings = make_settings(
        database_url=db_url,
        sources=sources_setting(
            **{source: feed_server.url(path) for source, path in FEED_PATHS.items()}
        ),
    )
    application = create_app(settings)
    yield application
    get_state(application).shutdown()


def _serve_good_feeds(feed_server: FeedServer, feed_data: Any) -> dict[str, str]:
    """Serve the real, unedited LiteLLM and OpenRouter feeds; return their texts by source."""
    texts = {
        "litellm": (feed_data / LITELLM_NEW).read_text(),
        "openrouter": (feed_data / OPENROUTER).read_text(),
    }
    for source, text in texts.items():
        feed_server.set_body(FEED_PATHS[source], text.encode())
    return texts


def _served(engine: Engine) -> dict[tuple[str, str], ModelPrice]:
    with engine.connect() as conn:
        return {
            (source, model_id): price
            for source in ("litellm", "openrouter")
            for model_id, price in store.load_served(conn, source).items()
        }


def _marks(engine: Engine) -> dict[tuple[str, str], str]:
    with engine.connect() as conn:
        query = select(models.c.source, models.c.model_id, models.c.rejected_reason).where(
            models.c.rejected_reason.is_not(None)
        )
        return {(r.source, r.model_id): r.rejected_reason for r in conn.execute(query)}


def _api_model(app: Flask, case: Case) -> Any:
    """GET the model's answer from the API, after the refresh this test just committed."""
    get_state(app).need_catalog_cache().invalidate()
    return app.test_client().get(
        f"/api/models/{case.model_id}", query_string={"source": case.source}
    )


def _check(
    case: Case,
    engine: Engine,
    app: Flask,
    report: RefreshReport,
    good: dict[tuple[str, str], ModelPrice],
) -> None:
    key = (case.source, case.model_id)
    now = _served(engine)
    assert report.committed, report.error
    assert set(now) == set(good), "no model is removed or added"
    changed = [k for k in good if now[k] != good[k]]
    assert changed == [], f"served models changed: {changed[:5]}"
    source = next(s for s in report.sources if s.source == case.source)
    assert source.removed == 0 and source.changed == 0
    marks = _marks(engine)
    with engine.connect() as conn:
        record = conn.execute(
            select(run_sources.c.problems).where(
                run_sources.c.run_id == report.run_id, run_sources.c.source == case.source
            )
        ).scalar_one()
        pending = conn.execute(
            select(held_changes.c.model_id).where(held_changes.c.status == "pending")
        ).all()
    problems = [p for p in record or () if p["model_id"] == case.model_id]
    if case.expect == "stale":
        assert set(marks) == {key} and case.detail in marks[key]
        assert source.stale == 1
        assert [p["field"] for p in problems] == [None] and case.detail in problems[0]["reason"]
        answer = _api_model(app, case)
        assert answer.status_code == 200
        assert case.detail in answer.json["stale"]["reason"]
        assert answer.json["stale"]["since"]
    elif case.expect == "held":
        assert (
            marks == {} and source.held == 1 and [tuple(p) for p in pending] == [(case.model_id,)]
        )
        held = _api_model(app, case)
        moves = held.json["held_change"]["moves"]
        assert [m["field"] for m in moves if case.detail in m["field"]] == [case.detail]
    elif case.expect == "dropped":
        assert marks == {} and source.rejected == 0
        assert [p["field"] for p in problems] == [case.detail]
    else:
        assert marks == {} and problems == [] and now[key].status == case.detail


def test_each_hostile_variant_leaves_every_model_at_its_last_good_prices(
    app: Flask, feed_server: FeedServer, feed_data: Any
) -> None:
    engine = get_state(app).engine
    deps = make_deps(engine, get_state(app).settings)
    texts = _serve_good_feeds(feed_server, feed_data)
    first = refresh_catalog(deps)
    assert first.outcome == "success"
    good = _served(engine)
    assert len(good) > 3000
    failures = []
    for case in CASES:
        text, path = texts[case.source], FEED_PATHS[case.source]
        feed_server.set_body(path, case.edit(text).encode())
        report = refresh_catalog(deps)
        try:
            _check(case, engine, app, report, good)
        except AssertionError as exc:
            failures.append(f"{case.name}: {exc}")
        feed_server.set_body(path, text.encode())
    # Back to the good feeds: every mark is lifted and nothing was ever removed.
    recovered = refresh_catalog(deps)
    assert recovered.committed
    assert failures == []
    assert _marks(engine) == {}
    assert _served(engine) == good


def test_openrouter_image_price_is_stored_per_token(
    app: Flask, feed_server: FeedServer, feed_data: Any
) -> None:
    engine = get_state(app).engine
    _serve_good_feeds(feed_server, feed_data)
    refresh_catalog(make_deps(engine, get_state(app).settings))
    served = _served(engine)
    flash = served[("openrouter", "google/gemini-3.7-flash")]
    assert flash.units["input_image_per_token"] == Decimal("0.000000375") == flash.input_per_token
    assert not any(
        "input_per_image" in p.units for (s, _), p in served.items() if s == "openrouter"
    )
    # LiteLLM's per-image price keeps the per-image name: one name, one unit.
    assert served[("litellm", "dall-e-3")].units == {"input_per_image": Decimal("0.04")}


def test_the_same_typo_again_writes_nothing_and_keeps_its_since(
    app: Flask, feed_server: FeedServer, feed_data: Any
) -> None:
    engine = get_state(app).engine
    deps = make_deps(engine, get_state(app).settings)
    texts = _serve_good_feeds(feed_server, feed_data)
    refresh_catalog(deps)
    typo = CASES[0].edit(texts["litellm"]).encode()
    feed_server.set_body(FEED_PATHS["litellm"], typo)
    first = refresh_catalog(deps)
    with engine.begin() as conn:
        since = conn.execute(
            select(models.c.rejected_since).where(models.c.model_id == "gpt-4o")
        ).scalar_one()
        # Force a full re-read of the same body (no ETag / identical-body shortcut).
        conn.execute(update(source_state).values(etag=None, content_sha256=None))

    again = refresh_catalog(deps)

    assert first.sources[0].outcome == "success" and since is not None
    litellm = next(s for s in again.sources if s.source == "litellm")
    assert (litellm.outcome, litellm.stale, litellm.rejected) == (
        "unchanged",
        1,
        first.sources[0].rejected,
    )
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(models.c.rejected_since).where(models.c.model_id == "gpt-4o")
            ).scalar_one()
            == since
        )

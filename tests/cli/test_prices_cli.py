"""`ratecard prices refresh` and `ratecard prices show`, through click's runner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from ratecard.cli import main
from tests.support.feeds import FeedServer
from tests.support.store_helpers import OPENROUTER


def invoke(database_url: str, sources: str, *args: str) -> Result:
    env = {
        "DATABASE_URL": database_url,
        "RATECARD_SOURCES": sources,
        "REDIS_URL": None,
        "RATECARD_LOG_FORMAT": "text",
    }
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def loaded(migrated_sqlite_url: str, feed_server: FeedServer) -> tuple[str, str]:
    """A database refreshed once from the real OpenRouter feed, and its sources setting."""
    sources = f"openrouter={feed_server.url(OPENROUTER)}"
    result = invoke(migrated_sqlite_url, sources, "prices", "refresh")
    assert result.exit_code == 0, result.output
    assert "openrouter" in result.output and "+414" in result.output
    return migrated_sqlite_url, sources


def test_refresh_reports_each_source_and_exits_1_when_all_fail(
    loaded: tuple[str, str], feed_server: FeedServer
) -> None:
    url, _ = loaded
    broken = f"openrouter={feed_server.url('/missing.json')}"

    result = invoke(url, broken, "prices", "refresh", "--json")

    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["outcome"] == "failed"
    assert report["sources"][0]["outcome"] == "failed" and "404" in report["sources"][0]["error"]


def test_refresh_with_nothing_reachable_bootstraps_but_still_exits_1(
    migrated_sqlite_url: str, feed_server: FeedServer
) -> None:
    result = invoke(
        migrated_sqlite_url, f"litellm={feed_server.url('/missing.json')}", "prices", "refresh"
    )
    assert result.exit_code == 1
    assert "bootstrapped" in result.output and "bundled" in result.output


def test_show_prints_prices_per_token_and_per_million(loaded: tuple[str, str]) -> None:
    url, sources = loaded

    text = invoke(url, sources, "prices", "show", "qwen/qwen3.8-27b")
    as_json = invoke(url, sources, "prices", "show", "qwen/qwen3.8-27b", "--json")

    assert text.exit_code == 0, text.output
    assert "0.00000045" in text.output and "0.45" in text.output
    item = json.loads(as_json.output)
    assert item["prices"]["output"] == {"per_token": "0.0000032", "per_million": "3.2"}
    assert item["source"] == "openrouter"


def test_show_prints_time_windows_and_rules(loaded: tuple[str, str]) -> None:
    url, sources = loaded
    text = invoke(url, sources, "prices", "show", "deepseek/deepseek-v4-pro-0813")
    assert text.exit_code == 0, text.output
    # Every price by its flat name, aligned, with its unit (the change log's names).
    lines = text.stdout.splitlines()
    window = next(line for line in lines if "windows[0100-0400].input_per_token" in line)
    assert window.split()[1:] == ["1.32", "per", "M", "tokens"]
    values = [line.index(" per ") for line in lines[1:] if " per " in line]
    assert len(set(values)) == 1, "the values line up"
    sonnet = invoke(url, sources, "prices", "show", "anthropic/claude-sonnet-4.5")
    assert "rule threshold: inclusive" in sonnet.output
    per_hour = next(line for line in sonnet.output.splitlines() if "cache_write_1h" in line)
    assert per_hour.split() == [
        "tiers[>200000].units.cache_write_1h_per_token",
        "12",
        "per",
        "M",
        "tokens",
    ]


def test_show_unknown_model_or_source_exits_1(loaded: tuple[str, str]) -> None:
    url, sources = loaded
    unknown = invoke(url, sources, "prices", "show", "no/such-model")
    wrong_source = invoke(url, sources, "prices", "show", "qwen/qwen3.8-27b", "--source", "litellm")
    assert unknown.exit_code == 1 and "no model 'no/such-model'" in unknown.output
    assert wrong_source.exit_code == 1 and "does not list" in wrong_source.output

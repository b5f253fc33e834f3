"""`ratecard models search` and `ratecard models list`, through click's runner, over a database
refreshed from the bundled LiteLLM snapshot."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from ratecard.cli import main
from tests.support.services import REPO

BUNDLED = REPO / "src" / "ratecard" / "ingest" / "data" / "litellm_snapshot.json"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('models-cli') / 'ratecard.sqlite3'}"
    for command in (["migrate"], ["prices", "refresh"]):
        result = invoke(url, *command)
        assert result.exit_code == 0, result.output
    return url


def invoke(url: str, *args: str) -> Result:
    env = {
        "DATABASE_URL": url,
        "RATECARD_SOURCES": f"litellm=file://{BUNDLED}",
        "REDIS_URL": None,
        "RATECARD_LOG_FORMAT": "text",
    }
    return CliRunner().invoke(main, list(args), env=env)


def test_search_puts_the_exact_id_first_then_the_same_name_elsewhere(database: str) -> None:
    result = invoke(database, "models", "search", "gpt-4o", "--limit", "4")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:4]] == [
        "gpt-4o",
        "openrouter/openai/gpt-4o",
        "azure/gpt-4o",
        "github_copilot/gpt-4o",
    ]
    assert "in 2.5/1M" in lines[0] and "out 10/1M" in lines[0]
    assert lines[-1].startswith("(") and "more; --limit shows more" in lines[-1]


def test_search_as_json_is_what_the_api_shows(database: str) -> None:
    result = invoke(database, "models", "search", "claude-sonnet-4-5", "--limit", "1", "--json")
    assert result.exit_code == 0, result.output
    # stdout, not output: output also holds stderr, and CliRunner swaps sys.stderr for the
    # whole process, so whatever another test's leftover thread prints meanwhile lands there.
    (item,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert item["id"] == "claude-sonnet-4-5" and item["prices"]["input"]["per_million"] == "3"


def test_list_filters_by_provider_and_mode(database: str) -> None:
    result = invoke(database, "models", "list", "--provider", "anthropic", "--mode", "chat")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines() if not line.startswith("(")]
    assert rows and all(row[2] == "anthropic" and row[3] == "chat" for row in rows)


def test_nothing_found_says_so_and_exits_1(database: str) -> None:
    result = invoke(database, "models", "search", "no-such-model-anywhere")
    assert result.exit_code == 1
    assert "no served model matches 'no-such-model-anywhere'" in result.output

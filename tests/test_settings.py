"""Settings: defaults from the brief, every URL spelling, one-line errors naming the variable."""

from __future__ import annotations

import pytest

from ratecard.settings import (
    DEFAULT_LEASE_TTL,
    DEFAULT_REFRESH_INTERVAL,
    Settings,
    SettingsError,
    normalize_database_url,
    parse_sources,
    redact_url,
)


def test_defaults_match_the_brief() -> None:
    settings = Settings.from_env({})

    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("/instance/ratecard.sqlite3")
    assert settings.redis_url is None
    assert [s.name for s in settings.sources] == ["litellm", "openrouter"]
    assert settings.sources[1].url == "https://openrouter.ai/api/v1/models"
    assert settings.refresh_interval == DEFAULT_REFRESH_INTERVAL == 10800
    assert settings.lease_ttl == DEFAULT_LEASE_TTL == 10
    assert settings.admin_token is None
    assert ":" in settings.instance_id  # host:pid


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://u:p@db:5432/x", "postgresql+psycopg://u:p@db:5432/x"),
        ("postgresql://u@db/x", "postgresql+psycopg://u@db/x"),
        ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
        ("sqlite:////var/data/rc.db", "sqlite:////var/data/rc.db"),
    ],
)
def test_every_documented_database_url_spelling_is_accepted(raw: str, expected: str) -> None:
    assert normalize_database_url(raw) == expected
    assert Settings.from_env({"DATABASE_URL": raw}).database_url == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"RATECARD_REFRESH_INTERVAL": "abc"},
            "RATECARD_REFRESH_INTERVAL must be a number of seconds ≥ 0.5, got 'abc'",
        ),
        ({"RATECARD_REFRESH_INTERVAL": "0.1"}, "RATECARD_REFRESH_INTERVAL must be"),
        ({"RATECARD_REFRESH_INTERVAL": "inf"}, "RATECARD_REFRESH_INTERVAL must be"),
        ({"RATECARD_LEASE_TTL": "-3"}, "RATECARD_LEASE_TTL must be"),
        ({"DATABASE_URL": "mysql://root:pw@db/x"}, "DATABASE_URL must start with"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must look like redis://"),
        ({"RATECARD_SOURCES": "litellm"}, "RATECARD_SOURCES entries must look like name=URL"),
        ({"RATECARD_SOURCES": "acme=https://x"}, "RATECARD_SOURCES source 'acme'"),
        ({"RATECARD_SOURCES": "litellm=ftp://x"}, "RATECARD_SOURCES URL for 'litellm'"),
        ({"RATECARD_COORDINATOR": "maybe"}, "RATECARD_COORDINATOR must be true or false"),
    ],
)
def test_bad_values_give_one_line_errors_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)

    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_errors_never_echo_a_password() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DATABASE_URL": "mysql://root:hunter2@db/x"})

    assert "hunter2" not in str(caught.value)


def test_sources_parse_names_kinds_and_file_urls() -> None:
    sources = parse_sources("litellm=file:///data/l.json, openrouter-eu=https://o/api/v1/models")

    assert [(s.name, s.kind) for s in sources] == [
        ("litellm", "litellm"),
        ("openrouter-eu", "openrouter"),
    ]
    assert sources[0].url == "file:///data/l.json"


def test_fractional_intervals_are_allowed_for_tests() -> None:
    settings = Settings.from_env({"RATECARD_REFRESH_INTERVAL": "0.5", "RATECARD_LEASE_TTL": "1.5"})

    assert settings.refresh_interval == 0.5
    assert settings.lease_ttl == 1.5


def test_describe_hides_secrets() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://app:hunter2@db/rc",
            "REDIS_URL": "redis://:redispw@cache:6379/0",
            "RATECARD_ADMIN_TOKEN": "tok-123",
        }
    )

    described = repr(settings.describe())
    assert "hunter2" not in described
    assert "redispw" not in described
    assert "tok-123" not in described
    assert redact_url("postgresql://app:hunter2@db/rc") == "postgresql://app:***@db/rc"

"""Settings: declared once, defaults from the brief, one-line errors naming the variable."""

from __future__ import annotations

import dataclasses
import re

import pytest

from ratecard.settings import (
    BY_ENV,
    DECLARATIONS,
    Setting,
    Settings,
    SettingsError,
    normalize_database_url,
    parse_sources,
    redact_url,
    render_markdown_table,
)
from tests.support.services import REPO


def test_defaults_match_the_brief() -> None:
    settings = Settings.from_env({})

    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("/instance/ratecard.sqlite3")
    assert settings.redis_url is None
    assert [s.name for s in settings.sources] == ["litellm", "openrouter", "genai_prices"]
    assert settings.sources[1].url == "https://openrouter.ai/api/v1/models"
    assert settings.sources[2].url == (
        "https://raw.githubusercontent.com/pydantic/genai-prices/main/prices/data.json"
    )
    assert settings.sources[2].kind == "genai_prices"
    assert settings.refresh_interval == 10800
    assert settings.lease_ttl == 10
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
        ({"RATECARD_SOURCES": "litellm-<b>=https://x"}, "source name 'litellm-<b>' must be"),
        ({"RATECARD_SOURCES": "litellm-../x=https://x"}, "letters, digits, '.', '_', ':' or '-'"),
        ({"RATECARD_SOURCES": "litellm-" + "x" * 60 + "=https://x"}, "must be 1-64 letters"),
        ({"RATECARD_COORDINATOR": "maybe"}, "RATECARD_COORDINATOR must be true or false"),
        (
            {"WEB_CONCURRENCY": "abc"},
            "WEB_CONCURRENCY must be a whole number from 1 to 64, got 'abc'",
        ),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY must be a whole number from 1 to 64"),
        ({"RATECARD_THREADS": "x"}, "RATECARD_THREADS must be a whole number from 1 to 256"),
        ({"RATECARD_BIND": "localhost"}, "RATECARD_BIND must be HOST:PORT"),
        (
            {"RATECARD_BIND": "[::1"},
            "RATECARD_BIND must be HOST:PORT ([IPv6]:PORT for IPv6), got '[::1'",
        ),
        ({"RATECARD_BIND": "0.0.0.0:99999"}, "RATECARD_BIND must be HOST:PORT"),
        ({"RATECARD_PRELOAD": "perhaps"}, "RATECARD_PRELOAD must be true or false"),
        (
            {"FORWARDED_ALLOW_IPS": "10.0.0.1,proxy.internal"},
            "FORWARDED_ALLOW_IPS must be * or a comma-separated list of IP addresses",
        ),
        ({"RATECARD_LOG_FORMAT": "xml"}, "RATECARD_LOG_FORMAT must be auto, json or text"),
        ({"RATECARD_QUARANTINE_REMOVED_FRACTION": "2"}, "must be a fraction in (0, 1]"),
        ({"RATECARD_PUBLIC_URL": "prices.example.com"}, "RATECARD_PUBLIC_URL must be an http(s)"),
        ({"RATECARD_PUBLIC_URL": "https://u:pw@x.example"}, "RATECARD_PUBLIC_URL must be"),
        ({"RATECARD_PUBLIC_URL": "https://x.example/?a=1"}, "RATECARD_PUBLIC_URL must be"),
    ],
)
def test_bad_values_give_one_line_errors_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)

    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_public_url_is_kept_without_its_trailing_slash() -> None:
    settings = Settings.from_env({"RATECARD_PUBLIC_URL": " https://prices.example.com/rc/ "})
    assert settings.public_url == "https://prices.example.com/rc"
    assert Settings.from_env({}).public_url is None


def test_errors_never_echo_a_password() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DATABASE_URL": "mysql://root:hunter2@db/x"})

    assert "hunter2" not in str(caught.value)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"RATECARD_BIND": "http://root:hunter2@db"})
    assert "hunter2" not in str(caught.value) and "RATECARD_BIND" in str(caught.value)


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


def test_gunicorn_settings_have_their_declared_defaults_and_read_their_variables() -> None:
    assert Settings.from_env({}).web_concurrency == 2
    settings = Settings.from_env(
        {
            "WEB_CONCURRENCY": "3",
            "RATECARD_THREADS": "8",
            "RATECARD_BIND": "[::1]:9000",
            "RATECARD_PRELOAD": "0",
            "FORWARDED_ALLOW_IPS": " 10.0.0.0/8 , 127.0.0.1",
        }
    )

    assert (settings.web_concurrency, settings.threads) == (3, 8)
    assert settings.bind == "[::1]:9000"
    assert settings.preload is False
    assert settings.forwarded_allow_ips == "10.0.0.0/8,127.0.0.1"


def test_every_settings_field_is_declared_once_and_every_declaration_is_read() -> None:
    fields = [f.name for f in dataclasses.fields(Settings)]
    attrs = [d.attr for d in DECLARATIONS if d.attr is not None]
    envs = [d.env for d in DECLARATIONS]

    assert sorted(attrs) == sorted(fields), "a field without a declaration, or the reverse"
    assert len(set(envs)) == len(envs), "a variable declared twice"


@pytest.mark.parametrize("setting", DECLARATIONS, ids=lambda d: d.env)
def test_the_dataclass_default_is_the_declared_one(setting: Setting) -> None:
    if setting.attr is None or setting.default_factory is not None:
        assert setting.default_doc, f"{setting.env}: a computed default needs its words"
        return
    # The written default goes through the same parser as an operator's value.
    from_text = setting.parse(setting.default) if setting.default is not None else None
    assert getattr(Settings(), setting.attr) == from_text
    assert getattr(Settings.from_env({setting.env: ""}), setting.attr) == from_text


def test_the_readme_configuration_table_is_the_declared_one() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    table = "".join(line + "\n" for line in section.splitlines() if line.startswith("|"))

    assert table == render_markdown_table(), (
        "README's Configuration table drifted from ratecard.settings.DECLARATIONS; paste "
        "render_markdown_table()'s output"
    )
    rows = {row.split("|")[1].strip(" `"): row for row in table.splitlines()[2:]}
    assert list(rows) == [d.env for d in DECLARATIONS]
    # What the README shows as the default is what runs (for the defaults written as text).
    assert "| `10800` |" in rows["RATECARD_REFRESH_INTERVAL"]
    assert "| `2` |" in rows["WEB_CONCURRENCY"]
    assert f"| `{Settings.from_env({}).listen}`; " in rows["RATECARD_BIND"]


def test_no_module_reads_a_declared_variable_with_its_own_default() -> None:
    """A second `environ.get("X", default)` would be a default written twice."""
    reading = re.compile(r"""(?:environ\.get|getenv)\(\s*["']([A-Z_]+)["']\s*,""")
    offenders = []
    for path in (REPO / "src" / "ratecard").rglob("*.py"):
        if path.name == "settings.py":
            continue
        for name in reading.findall(path.read_text(encoding="utf-8")):
            if name in BY_ENV and BY_ENV[name].attr is not None:
                offenders.append(f"{path.relative_to(REPO)} reads {name}")
    assert offenders == []


# RATECARD_ names that are not settings, each for a reason: a build switch (the README's
# install section), a Flask config key, and a mark the metrics directory's owner leaves for
# its own children.
NOT_SETTINGS = {"RATECARD_PURE_PYTHON", "RATECARD_BODY_LIMITS", "RATECARD_METRICS_DIR_OWNED"}


def test_every_ratecard_variable_the_docs_and_code_name_is_a_declared_setting() -> None:
    """A variable spelt wrong in a doc or a comment is one an operator sets for nothing."""
    named = re.compile(r"\bRATECARD_[A-Z0-9_]*[A-Z0-9]\b")
    paths = [REPO / "README.md", REPO / "Dockerfile", REPO / "Procfile"]
    paths += [*(REPO / "docs").rglob("*.md"), *(REPO / "deploy").rglob("*")]
    paths += [*(REPO / "src" / "ratecard").rglob("*.py")]
    unknown = sorted(
        f"{path.relative_to(REPO)}: {name}"
        for path in paths
        if path.is_file()
        for name in set(named.findall(path.read_text(encoding="utf-8")))
        if name not in BY_ENV and name not in NOT_SETTINGS
    )
    assert len(paths) > 100, "the walk must find the docs and the modules"
    assert unknown == []

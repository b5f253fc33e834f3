"""Shared CLI plumbing: lazy command loading and settings errors as one-line exits."""

from __future__ import annotations

import importlib
from typing import Any

import click

from ratecard.settings import Settings, SettingsError


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when invoked (fast `--help`, fast start)."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.lazy_commands = lazy_commands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx)) | set(self.lazy_commands)
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, attr = self.lazy_commands[cmd_name].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, cmd_name)


class BadSetting(click.ClickException):
    """A bad environment variable: `Error: <one line naming it>` and exit 2, no usage text.

    Not a UsageError: the command line was right, and click's "Usage: ... Try --help" lines
    would bury the one line that says which variable to fix.
    """

    exit_code = 2


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; a bad value exits 2 with a one-line message."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise BadSetting(str(exc)) from None
    return settings.with_overrides(**overrides) if overrides else settings

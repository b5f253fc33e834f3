"""gunicorn's own log lines (booting, worker exits, signals) in ratecard's format.

Off a terminal every line of an instance must be one JSON object, or a log collector gets a
mix of JSON (ratecard) and bracketed text (gunicorn) from the same stream.
"""

from __future__ import annotations

import sys
from typing import Any

from gunicorn.glogging import Logger

from ratecard.logs import configure_logging, make_formatter, wants_json
from ratecard.settings import Settings, SettingsError


class RatecardGunicornLogger(Logger):
    """gunicorn's Logger, with the error log's lines formatted like ratecard's."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        try:
            settings = Settings.from_env()
        except SettingsError:
            return  # `ratecard serve` and gunicorn_conf report bad settings themselves
        formatter = make_formatter(settings, settings.instance_id, wants_json(settings, sys.stderr))
        for handler in self.error_log.handlers:
            handler.setFormatter(formatter)
        # The master runs library code too (the preload, metrics set-up): its warnings and
        # any third-party logger's go through the root, formatted the same way.
        configure_logging(settings, settings.instance_id, sys.stderr)

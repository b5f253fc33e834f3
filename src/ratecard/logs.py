"""Logging: one JSON object per line (with the instance id) off a terminal, readable on one."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line; `extra=` fields are kept as keys."""

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "instance": self.instance_id,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(settings: Any, instance_id: str, stream: Any = None) -> None:
    """Install one handler on the `ratecard` logger (idempotent: safe to call per app)."""
    stream = stream or sys.stderr
    fmt = getattr(settings, "log_format", "auto")
    use_json = fmt == "json" or (fmt == "auto" and not _isatty(stream))
    logger = logging.getLogger("ratecard")
    for handler in list(logger.handlers):
        if getattr(handler, "_ratecard", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler._ratecard = True  # type: ignore[attr-defined]
    if use_json:
        handler.setFormatter(JsonFormatter(instance_id))
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)-7s [{instance_id}] %(name)s: %(message)s")
        )
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False

"""Logging state for tests that build an app or call configure_logging in-process."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def root_handlers_kept() -> Iterator[None]:
    """Give the root logger its handlers back afterwards.

    configure_logging() installs ratecard's handler on the root, bound to the stream it was
    given (a StringIO, a CliRunner's captured stderr): left there, it would swallow, or fail
    on, every later test's log lines.
    """
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)

"""Whether this process is stopping: set by the gunicorn worker on SIGTERM, read by readiness.

A process-wide flag rather than app state: the worker's signal handling (`gunicorn_worker`)
knows nothing of the Flask app, and readiness must answer 503 for every app the process runs.
"""

from __future__ import annotations

import threading

_stopping = threading.Event()


def begin() -> None:
    """This process has been told to stop: readiness fails from now on."""
    _stopping.set()


def stopping() -> bool:
    return _stopping.is_set()

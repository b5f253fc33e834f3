"""gunicorn settings for `ratecard serve` (`--config python:ratecard.gunicorn_conf`)."""

from __future__ import annotations

import os
from typing import Any

bind = os.environ.get("RATECARD_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("RATECARD_THREADS", "4"))
# The app is imported in each worker after fork, never in the master: no engine, Redis socket
# or coordinator thread can be inherited across a fork.
preload_app = False
timeout = 30
# Longer than a lease release: a worker told to stop releases its lease before it is killed.
graceful_timeout = 20
keepalive = 5
accesslog = None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server: Any) -> None:
    """Master: prepare the Prometheus multiprocess directory fresh, before any worker."""
    from ratecard.metrics import prepare_multiprocess_dir

    prepare_multiprocess_dir()


def post_worker_init(worker: Any) -> None:
    """Worker, after fork and app load: start the coordinator thread."""
    from ratecard.app import start_background

    start_background(worker.wsgi)


def worker_exit(server: Any, worker: Any) -> None:
    """Worker exiting: stop the coordinator and release any lease it holds."""
    from ratecard.extension import EXTENSION_KEY

    app = getattr(worker, "wsgi", None)
    state = getattr(app, "extensions", {}).get(EXTENSION_KEY) if app is not None else None
    if state is not None:
        state.shutdown()


def child_exit(server: Any, worker: Any) -> None:
    """Master: a worker died; drop its live Prometheus gauges."""
    from ratecard.metrics import mark_process_dead

    mark_process_dead(worker.pid)

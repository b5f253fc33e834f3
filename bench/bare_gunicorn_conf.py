"""ratecard's gunicorn settings without its hooks, so the bare app runs under the same server."""

from ratecard.gunicorn_conf import (  # noqa: F401  (gunicorn reads these names)
    bind,
    forwarded_allow_ips,
    graceful_timeout,
    keepalive,
    preload_app,
    threads,
    timeout,
    worker_class,
    workers,
)

"""gunicorn settings for `ratecard serve` (`--config python:ratecard.gunicorn_conf`)."""

from __future__ import annotations

import gc
import importlib
import logging
import math
import sys
import threading
from typing import Any

from ratecard import readiness_seed
from ratecard.metrics import mark_process_dead, prepare_multiprocess_dir, remove_multiprocess_dir
from ratecard.settings import Settings, SettingsError

# Deferred: with RATECARD_PRELOAD=false the master imports neither the app's modules nor the
# web stack (Flask ~0.15 s); the hooks that run in a worker import them there, after fork.

# Every value comes from ratecard's declared settings, validated here too, so that gunicorn
# started directly (`gunicorn -c python:ratecard.gunicorn_conf ...`) stops on a bad value with
# the same one line as `ratecard serve`, instead of a traceback from a worker. SystemExit passes
# through gunicorn's config loader (it catches Exception only). One thing no config file can
# catch: gunicorn itself reads WEB_CONCURRENCY with int() when it is imported, before this file;
# `ratecard serve` validates it before importing gunicorn.
try:
    _settings = Settings.from_env()
except SettingsError as exc:
    print(f"Error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None

bind = _settings.listen
workers = _settings.web_concurrency
# gthread, answering gunicorn's own 414/431 as the API's JSON error (see gunicorn_worker).
worker_class = "ratecard.gunicorn_worker.JsonErrorsWorker"
# Set on purpose, at gunicorn's maximum (8190 bytes): the document allows a model id of up to
# 512 characters, which percent-encoded UTF-8 can make ~6 KB; the default 4094 turned some
# valid lookups into 414s. Longer lines get a JSON 414 (documented on every operation).
limit_request_line = 8190
threads = _settings.threads
# The app is imported in each worker after fork, never in the master: no engine, Redis socket
# or coordinator thread can be inherited across a fork.
preload_app = False
timeout = 30
# Longer than a lease release: a worker told to stop releases its lease before it is killed;
# plus the shutdown delay, in which it still serves (see gunicorn_worker).
graceful_timeout = 20 + math.ceil(_settings.shutdown_delay)
keepalive = 5
accesslog = None
# gunicorn's own lines in ratecard's format (one JSON object per line off a terminal).
logger_class = "ratecard.gunicorn_logging.RatecardGunicornLogger"
forwarded_allow_ips = _settings.forwarded_allow_ips
# No control socket. gunicorn 23+ opens one at a fixed per-user path
# ($XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl), shared by every instance on the
# host. Timeline it caused with `ratecard fleet`: t0 instance A binds the socket; t1 instance B
# starts, unlinks A's socket and binds its own at the same path; t2 B stops and unlinks it:
# A runs on with no socket at all, and for t1..t2 `gunicornc` on "A" talked to B. ratecard
# is stopped by signals (SIGTERM/SIGHUP), never through that socket, so it is not opened.
control_socket_disable = True


# Modules every worker needs before its first ready answer. Importing them in the master
# (module code only: no app, no engine, no socket, no thread) means each forked worker finds
# them loaded instead of importing them itself, all workers at once on the same cores.
# SQLAlchemy is not among them (measured: preloading it costs ~175 ms more to the first ready
# answer): readiness goes through the health probe's driver connection
# (ratecard.health.probe_db), so the ORM is imported later, in each worker's background
# (coordinator thread, first API request). tests/test_gunicorn.py keeps this list
# complete: create_app() and the first ready answer import no ratecard module beyond it.
# Nor are psycopg, redis and prometheus_client (~115 ms of imports): a worker's first ready
# answer uses the database and schema checks the master's helper ran beside this preload
# (ratecard.readiness_seed), and readiness does not wait for the other checks' first answers
# (HealthRegistry.run); each worker imports them in its warm-up thread, after its first
# readiness pass.
PRELOADED_MODULES = (
    "flask",
    # create_app() and everything its register_* steps import (each import only defines things),
    # POST /api/cost/batch's pricer and its two-core child among them.
    "ratecard.app",
    # Not the routes' pydantic models (web/api/schemas.py and the other schema modules):
    # pydantic's import and the classes' creation took ~80 ms of every start here, before
    # any worker could answer. A request without a query string needs none of them
    # (web/empty_queries.py), so the first model read and listing answer at once; each
    # worker imports them in its warm-up thread, beside its first answers. Timeline this
    # leaves: a request with a query string or a body that arrives in a worker's first
    # ~0.2 s waits for that import (the import lock), once; a balancer's probes come first.
)


def on_starting(server: Any) -> None:
    """Master: start the readiness helper, prepare the metrics directory, preload libraries."""
    # From here to when_ready the master only allocates what lives as long as it does (the
    # modules, the catalog): a collection would walk them for nothing (measured ~20% of the
    # import CPU). when_ready freezes them and turns the collector back on, before any worker
    # is forked. (`ratecard serve` turned it off before importing gunicorn: launch.py.)
    gc.disable()
    if _settings.preload:
        # Before anything else: it runs on the other core while this process imports.
        readiness_seed.start(_settings)
    # Before any import of prometheus_client, which picks its multiprocess mode then.
    prepare_multiprocess_dir()
    if _settings.preload:
        preload_libraries()


def when_ready(server: Any) -> None:
    """Master, listening, before forking workers: collect the readiness helper's results and
    decode the catalog it read, once, for every worker to inherit (readiness_seed)."""
    global _preloaded_catalog
    readiness_seed.collect()
    _preloaded_catalog = readiness_seed.catalog()
    # Out of the collector's sight: workers' collections neither walk nor copy the pages of
    # what they inherit. Then on again, for the master and every worker forked from here.
    gc.freeze()
    gc.enable()


# The catalog snapshot the master decoded before forking (None: each worker loads its own).
_preloaded_catalog: Any = None


def preload_libraries() -> None:
    """Import the libraries workers share, before fork (never the app itself)."""
    for name in PRELOADED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # a driver not installed: its workers would fail alike
            logging.getLogger("ratecard").debug("preload of %s failed", name)


def post_worker_init(worker: Any) -> None:
    """Worker, after fork and app load: seed readiness, start the warm-up, then the coordinator."""
    from ratecard.app import start_background
    from ratecard.web.health_probes import health_of, start_warmup
    from ratecard.web.state import get_state

    app = worker.wsgi
    worker.shutdown_delay = _settings.shutdown_delay
    worker.client_timeout = _settings.upload_timeout
    worker.client_min_rate = _settings.upload_min_rate
    # The master's helper checked the database and schema moments ago: the first ready
    # answer uses that (until it is older than the cache period) instead of waiting here.
    readiness_seed.apply(health_of(app).registry)
    # And read the catalog, which the master decoded: this worker is warm from its start.
    cache = get_state(app).catalog_cache
    if _preloaded_catalog is not None and cache is not None:
        cache.start_with(_preloaded_catalog)
    _switch_faster_while_starting()
    # In the background: the worker serves at once; /health/startup turns 200 when it is done.
    # The coordinator starts when the warm-up's check pass has finished, not beside it: its
    # start (SQLAlchemy import, engine, first lease attempt) held the GIL against the first
    # ready answer, measured ~90 ms of a ~500 ms start. The pass is time-boxed (each check
    # waits at most RATECARD_HEALTH_TIMEOUT), so a dead dependency delays the
    # coordinator by that much at most, and it starts even when the pass fails.
    start_warmup(app, then=lambda: start_background(app))


# How often the GIL changes hands in a worker's first seconds, and for how long. Timeline it
# shortens: the worker answers its first requests while its own threads import and connect
# beside them (the warm-up's pydantic import, the first full health report, the coordinator's
# SQLAlchemy import and first lease: ~0.5 s of CPU measured). With CPython's 5 ms interval,
# each request waited up to 5 ms for every turn of the GIL those threads took; /health/ready
# in the worker's first seconds answered at ~60% of its later rate (bench/startup.py). At
# 1 ms it waits ~1 ms per turn. Not for the worker's whole life: when requests contend with
# each other, more hand-overs cost throughput (bench/api.py measured it lower at 1 ms).
STARTING_SWITCH_INTERVAL = 0.001
STARTING_SECONDS = 3.0


def _switch_faster_while_starting() -> None:
    default = sys.getswitchinterval()
    sys.setswitchinterval(STARTING_SWITCH_INTERVAL)
    restore = threading.Timer(STARTING_SECONDS, sys.setswitchinterval, (default,))
    restore.daemon = True
    restore.start()


def worker_exit(server: Any, worker: Any) -> None:
    """Worker exiting: stop the coordinator, release any lease; write its last request counts."""
    from ratecard.web import http_metrics
    from ratecard.web.state import EXTENSION_KEY

    # The flusher thread is a daemon: without this, the last second of requests is lost.
    http_metrics.recorder.flush_quietly()

    app = getattr(worker, "wsgi", None)
    state = getattr(app, "extensions", {}).get(EXTENSION_KEY) if app is not None else None
    if state is not None:
        state.shutdown()


def on_exit(server: Any) -> None:
    """Master, at shutdown: remove the metrics directory if on_starting created it."""
    remove_multiprocess_dir()


def child_exit(server: Any, worker: Any) -> None:
    """Master: a worker died; drop its live Prometheus gauges."""
    mark_process_dead(worker.pid)

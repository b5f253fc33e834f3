"""The web side of metrics: per-request counts that cost the request path one dictionary
update, and the /metrics view (Flask glue only; the families live in `ratecard.metrics`, which
imports no Flask, so the refresh job and the coordinator record without the web stack).

Recording straight into prometheus_client in multiprocess mode costs three locked writes to a
memory-mapped file per request (the counter, the histogram's sum and one bucket), each with a
`getpid()` system call, plus a `before_request` and an `after_request` hook: measured, most of
the gap between `GET /api/models/<id>` and a bare Flask app. Here a WSGI wrapper adds the
request to an in-process tally under one uncontended lock, and a flusher thread writes the
tally to prometheus_client once per `FLUSH_INTERVAL`. What that costs, and why it is safe:

- a scrape answered by another worker sees this worker's requests at most `FLUSH_INTERVAL`
  late (Prometheus scrapes every 15 s or more, so no scrape is wrong, only up to 1 s behind);
  a scrape answered by this worker flushes first and is exact for it;
- a worker that exits normally flushes at exit (atexit and gunicorn's `worker_exit`); a worker
  killed with SIGKILL loses at most its last `FLUSH_INTERVAL` of counts, where recording
  directly would have lost nothing: the price of taking the mmap writes off the request path;
- after a fork the child drops the parent's unflushed tally (the parent flushes it itself)
  and starts its own flusher, so no count is written twice and no thread is inherited dead.

Labels come from closed sets, so anonymous requests cannot grow /metrics (a series per path
would let any client add series without bound): the
route is the matched URL rule or `<unmatched>`, never the path; the method is one of
`KNOWN_METHODS` or `other` (gunicorn accepts any upper-case token as a method); the status is
the one the app itself answered.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING, Any

from flask import Flask, Response

from ratecard import metrics

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

# Seconds between flushes of the tally to prometheus_client (the staleness bound above).
FLUSH_INTERVAL = 1.0
UNMATCHED_ROUTE = "<unmatched>"  # 404s: never the raw path (unbounded label values)
# environ key: the route of a request answered before Flask (web/early_answers.py), which
# leaves no matched rule behind.
ROUTE_KEY = "ratecard.route"
OTHER_METHOD = "other"
# Methods a client can meaningfully send us; anything else is folded into `other`.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_Key = tuple[str, str, str]  # (route, method, status)
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


class Tally:
    """Requests of one label set since the last flush: count, summed seconds, bucket counts."""

    __slots__ = ("buckets", "count", "seconds")

    def __init__(self, buckets: int) -> None:
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * buckets


class RequestRecorder:
    """Tally requests in memory; write them to prometheus_client in batches."""

    def __init__(self, flush_interval: float = FLUSH_INTERVAL) -> None:
        self.flush_interval = flush_interval
        self._bounds = metrics.LATENCY_BUCKETS  # ends with +Inf: every duration has a bucket
        self._lock = threading.Lock()
        self._pending: dict[_Key, Tally] = {}
        self._flusher_started = False

    def record(self, route: str, method: str, status: str, seconds: float) -> None:
        """Add one request (labels already folded) to the tally."""
        key = (route, method, status)
        # Same rule as Histogram.observe: the first bucket whose upper bound is >= seconds.
        bucket = bisect_left(self._bounds, seconds)
        with self._lock:
            tally = self._pending.get(key)
            if tally is None:
                tally = self._pending[key] = Tally(len(self._bounds))
            tally.count += 1
            tally.seconds += seconds
            tally.buckets[bucket] += 1
        if not self._flusher_started:
            self._start_flusher()

    def flush(self) -> None:
        """Write the tally to prometheus_client (shared files in multiprocess mode)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        families = metrics.metric_families()
        for labels, tally in pending.items():
            families.requests.labels(*labels).inc(tally.count)
            add_to_histogram(families.latency.labels(*labels), tally)

    def after_fork_in_child(self) -> None:
        """Forget the parent's tally and flusher: the parent flushes its own counts."""
        self._lock = threading.Lock()
        self._pending = {}
        self._flusher_started = False

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher_started:
                return
            self._flusher_started = True
        thread = threading.Thread(target=self._flush_forever, name="ratecard-metrics", daemon=True)
        thread.start()

    def flush_quietly(self) -> None:
        """Flush, logging instead of raising (the flusher thread, process exit)."""
        try:
            self.flush()
        except Exception:
            # A failed flush (a full disk, the metrics directory removed at shutdown) must
            # not end the flusher or print a traceback at exit: these counts are lost, later
            # requests are still counted.
            log.exception("could not write request metrics")

    def _flush_forever(self) -> None:
        stop = threading.Event()  # never set: the daemon thread ends with the process
        while not stop.wait(self.flush_interval):
            self.flush_quietly()


def add_to_histogram(histogram: Any, tally: Tally) -> None:
    """Add a tally to a labelled Histogram, as `tally.count` calls of `observe()` would."""
    # Histogram.observe() adds to `_sum` and to one of `_buckets`; a batch adds the same
    # totals in one write each. These are private names of prometheus_client (pinned in
    # requirements/): tests/web/test_http_metrics.py checks that a batch renders exactly as
    # the same observations made one by one, so an upgrade that renames them fails there.
    histogram._sum.inc(tally.seconds)
    for index, count in enumerate(tally.buckets):
        if count:
            histogram._buckets[index].inc(count)


recorder = RequestRecorder()
atexit.register(recorder.flush_quietly)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=recorder.after_fork_in_child)


def fold_method(method: str) -> str:
    """Return `method` if it is one we know, else `other` (a closed label set)."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


class MeasuredApp:
    """WSGI wrapper around `Flask.wsgi_app` that tallies each answered request."""

    def __init__(self, app: WSGIApplication, sink: RequestRecorder) -> None:
        self.app = app
        self.sink = sink

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = perf_counter()

        def measured_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            # Called by Flask while the request context is still pushed: the request object
            # (and its matched rule) is still in the environ; Flask clears it afterwards.
            request = environ.get("werkzeug.request")
            rule = getattr(request, "url_rule", None)
            self.sink.record(
                rule.rule if rule is not None else environ.get(ROUTE_KEY, UNMATCHED_ROUTE),
                fold_method(environ.get("REQUEST_METHOD", "")),
                status[:3],
                perf_counter() - started,
            )
            return start_response(status, headers, exc_info)

        return self.app(environ, measured_start_response)


def init_app(app: Flask) -> None:
    """Tally every request by route, method and status; expose /metrics."""
    app.wsgi_app = MeasuredApp(app.wsgi_app, recorder)  # type: ignore[method-assign]
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])


def metrics_view() -> Response:
    """Render every metric in the Prometheus text format (all workers' in multiprocess mode)."""
    recorder.flush()  # this worker's own requests are exact in its own answer
    return Response(metrics.render_latest(), mimetype=None, content_type=metrics.CONTENT_TYPE)

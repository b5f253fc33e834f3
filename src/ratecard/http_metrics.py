"""The web side of metrics: per-request counters and the /metrics view (Flask glue only).

The metric families and the domain's recorders live in `ratecard.metrics`, which imports no
Flask, so the refresh job and the coordinator can record without loading the web stack.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, Response, g, request

from ratecard import metrics

UNMATCHED_ROUTE = "<unmatched>"  # 404s: never the raw path (unbounded label values)


def init_app(app: Flask) -> None:
    """Expose /metrics and count requests by route and status."""
    app.before_request(_start_timer)
    app.after_request(_record_request)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])


def _start_timer() -> None:
    g.ratecard_request_started = time.perf_counter()


def _record_request(response: Response) -> Response:
    started = g.pop("ratecard_request_started", None)
    if started is not None:
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
        count, observe = _request_children(route, request.method, response.status_code)
        count()
        observe(time.perf_counter() - started)
    return response


# (route, method, status) -> bound inc/observe: `labels()` costs more than the increment
# itself, and the label sets are few (routes are URL rules, not paths).
_children: dict[tuple[str, str, int], tuple[Callable[[], None], Callable[[float], None]]] = {}


def _request_children(
    route: str, method: str, status: int
) -> tuple[Callable[[], None], Callable[[float], None]]:
    key = (route, method, status)
    found = _children.get(key)
    if found is None:
        families = metrics.metric_families()
        labels = (route, method, str(status))
        found = (
            families.requests.labels(*labels).inc,
            families.latency.labels(*labels).observe,
        )
        _children[key] = found
    return found


def metrics_view() -> Response:
    """Render every metric in the Prometheus text format (all workers' in multiprocess mode)."""
    return Response(metrics.render_latest(), mimetype=None, content_type=metrics.CONTENT_TYPE)

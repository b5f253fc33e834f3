"""Request metrics: closed label sets (no client can grow /metrics); batched writes equal to
observe()."""

from __future__ import annotations

import os
import random
from collections.abc import Callable

from flask import Flask
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ratecard import metrics
from ratecard.web import http_metrics


def request_label_sets(text: str) -> set[tuple[str, str, str]]:
    """Return the (route, method, status) label sets of the request counter in `text`."""
    return {
        (sample.labels["route"], sample.labels["method"], sample.labels["status"])
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ratecard_http_requests_total"
    }


def test_invented_methods_and_paths_leave_metrics_small(make_app: Callable[..., Flask]) -> None:
    # A probe sent 300 requests with invented methods and took /metrics from 806 bytes to
    # 578 KB (3,000: 6 MB): the raw method was a label. Methods and routes are closed sets now.
    app = make_app()
    client = app.test_client()
    client.get("/health/live")
    client.get("/no/such/path/1")
    before = client.get("/metrics").get_data(as_text=True)
    rng = random.Random(15)
    for index in range(300):
        method = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(8)) + str(index)
        client.open(f"/health/live?n={index}", method=method)
        client.open(f"/made/up/{index}", method=method)
    after = client.get("/metrics").get_data(as_text=True)

    labels = request_label_sets(after)
    methods = {method for _route, method, _status in labels}
    assert methods <= http_metrics.KNOWN_METHODS | {"other"}, methods
    assert "other" in methods, "invented methods must still be counted, folded into 'other'"
    routes = {route for route, _method, _status in labels}
    assert not any(route.startswith("/made/up") for route in routes), "raw paths leaked"
    assert all(route.startswith("/") or route == "<unmatched>" for route in routes), routes
    # 600 hostile requests may add a handful of label sets (other x 405/404), not 600.
    assert len(request_label_sets(after) - request_label_sets(before)) <= 4
    assert len(after.encode()) - len(before.encode()) < 8 * 1024, "hostile requests grew /metrics"


def test_a_flushed_batch_renders_exactly_as_the_same_observations() -> None:
    # The batch write uses prometheus_client's private `_sum`/`_buckets`: this fails if an
    # upgrade changes them, instead of /metrics going quietly wrong.
    durations = [0.0, 0.001, 0.005, 0.0051, 0.3, 0.75, 2.0, 10.0, 11.0, 0.05]
    one_by_one, batched = CollectorRegistry(), CollectorRegistry()
    a = Histogram("t", "t", ["route"], buckets=metrics.LATENCY_BUCKETS, registry=one_by_one)
    b = Histogram("t", "t", ["route"], buckets=metrics.LATENCY_BUCKETS, registry=batched)
    recorder = http_metrics.RequestRecorder()
    for seconds in durations:
        a.labels("/x").observe(seconds)
        recorder.record("/x", "GET", "200", seconds)
    [tally] = recorder._pending.values()
    assert tally.count == len(durations)
    http_metrics.add_to_histogram(b.labels("/x"), tally)
    assert samples(batched) == samples(one_by_one)


def samples(registry: CollectorRegistry) -> list[tuple[str, dict[str, str], float]]:
    """Every sample but `_created` (the moment each histogram was made, which differs)."""
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if not sample.name.endswith("_created")
    ]


def test_a_forked_child_drops_the_parents_tally() -> None:
    recorder = http_metrics.RequestRecorder(flush_interval=3600)
    recorder.record("/x", "GET", "200", 0.01)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports what it would flush, then leaves without cleanup
        http_metrics.recorder.after_fork_in_child()  # what register_at_fork runs
        recorder.after_fork_in_child()
        os.write(write, str(len(recorder._pending)).encode())
        os._exit(0)
    os.close(write)
    child_pending = os.read(read, 16).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child_pending == "0", "a child would count its parent's requests a second time"
    assert len(recorder._pending) == 1, "the parent keeps its own tally"

"""Requests/s of GET /api/models/<id> under gunicorn versus a bare Flask app returning the same
documents (fetched from ratecard first, served from a dict with jsonify) under the same
gunicorn settings, in one run; prints both and the ratio (target >= 1.0).

    .venv/bin/python bench/api.py [--seconds 5] [--clients 8]

Loads the LiteLLM snapshot into its own PostgreSQL database (dropped at the end) and publishes
it under its own Redis key prefix (deleted at the end). The load generator is 2 processes of
keep-alive http.client threads on 127.0.0.1; the two servers are measured one after the other.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median
from typing import Any

from flask import Flask, Response, jsonify

REPO = Path(__file__).resolve().parents[1]
# The real LiteLLM snapshot of 2026-07-24, as bundled in the package.
FEED = REPO / "src" / "ratecard" / "ingest" / "data" / "litellm_snapshot.json"
MODEL_IDS = ["gpt-4o", "claude-sonnet-4-5", "gemini/gemini-2.5-pro", "mistral/mistral-large-latest"]

# Where the bare app finds the documents ratecard answered (a JSON file: path -> document).
DOCUMENTS_ENV = "BENCH_BARE_DOCUMENTS"


def bare_app() -> Flask:
    """The baseline: a Flask app answering the same paths with the same documents, from a dict."""
    documents = json.loads(Path(os.environ[DOCUMENTS_ENV]).read_text())
    app = Flask(__name__)

    @app.get("/api/models/<path:model_id>")
    def model(model_id: str) -> Response:
        return jsonify(documents[model_id])

    return app


def fetch_documents(port: int) -> dict[str, Any]:
    """ratecard's answer for each benchmarked model, as the bare app will serve it."""
    documents = {}
    for model_id in MODEL_IDS:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/api/models/{model_id}")
        response = conn.getresponse()
        documents[model_id] = json.loads(response.read())
        conn.close()
    return documents


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"server on {port} not answering 200 on {path}")


def start_gunicorn(
    config: str, app: str, port: int, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "gunicorn", "--config", config, "--bind", f"127.0.0.1:{port}"]
    return subprocess.Popen(
        [*argv, app],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=25)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _client_thread(port: int, deadline: float, counts: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    index = 0
    while time.monotonic() < deadline:
        path = f"/api/models/{MODEL_IDS[index % len(MODEL_IDS)]}"
        index += 1
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            counts[0 if response.status == 200 else 1] += 1
        except (OSError, http.client.HTTPException):
            counts[1] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.close()


def _load_process(port: int, seconds: float, threads: int, queue: Any) -> None:
    deadline = time.monotonic() + seconds
    per_thread = [[0, 0] for _ in range(threads)]
    workers = [
        threading.Thread(target=_client_thread, args=(port, deadline, c)) for c in per_thread
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((sum(c[0] for c in per_thread), sum(c[1] for c in per_thread)))


def measure(port: int, seconds: float, clients: int) -> tuple[float, int]:
    """Return (successful requests per second, errors) over `seconds`."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [
        context.Process(target=_load_process, args=(port, seconds, clients // 2, queue))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=seconds + 30) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    ok = sum(r[0] for r in results)
    return ok / seconds, sum(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    # Here, not at the top: gunicorn imports this module for the bare app, which must stay bare.
    sys.path[:0] = [str(REPO / "src"), str(REPO)]
    from bench.support import scratch_catalog

    with scratch_catalog() as env, tempfile.TemporaryDirectory() as scratch_dir:
        servers = {
            "ratecard GET /api/models/<id>": ("python:ratecard.gunicorn_conf", "ratecard.wsgi:app"),
            "bare Flask, same documents": (
                "python:bench.bare_gunicorn_conf",
                "bench.api:bare_app()",
            ),
        }
        ports = {label: free_port() for label in servers}
        documents = Path(scratch_dir) / "documents.json"
        env = {**env, DOCUMENTS_ENV: str(documents)}
        processes = []
        rates: dict[str, list[float]] = {label: [] for label in servers}
        errors = dict.fromkeys(servers, 0)
        try:
            # ratecard first: the bare app serves the documents it answered.
            for label, (config, app) in servers.items():
                processes.append(start_gunicorn(config, app, ports[label], env))
                for model_id in MODEL_IDS:
                    wait_ready(ports[label], f"/api/models/{model_id}")
                if not documents.exists():
                    fetched = fetch_documents(ports[label])
                    documents.write_text(json.dumps(fetched))
                    sizes = ", ".join(f"{len(json.dumps(d))}" for d in fetched.values())
                    print(f"documents: {len(fetched)} models, {sizes} bytes as JSON")
                measure(ports[label], 1.0, args.clients)  # warm-up: pools, caches, lazy imports
            # Alternate short rounds so drifting machine load weighs on both servers alike.
            for _ in range(args.rounds):
                for label, port in ports.items():
                    rate, failed = measure(port, args.seconds / args.rounds, args.clients)
                    rates[label].append(rate)
                    errors[label] += failed
        finally:
            for process in processes:
                stop(process)
        results = {label: (median(r), errors[label]) for label, r in rates.items()}
        workers = os.environ.get("WEB_CONCURRENCY", "2")
        print(
            f"gunicorn gthread, {workers} workers, same settings; {args.clients} keep-alive clients, {args.seconds:g} s each in {args.rounds} alternating rounds (median)"
        )
        for label, (rate, failures) in results.items():
            print(f"{label:<32} {rate:8.0f} req/s  ({failures} errors)")
        ours = results["ratecard GET /api/models/<id>"][0]
        bare = results["bare Flask, same documents"][0]
        print(f"ratio ratecard / bare:           {ours / bare:8.2f}  (target >= 1.0)")


if __name__ == "__main__":
    main()

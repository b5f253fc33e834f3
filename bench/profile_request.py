"""Where a request's time goes: GET /api/models/<id> under cProfile, ratecard's app against
the bare Flask app (bench/api.py's), in process through werkzeug's test client (no sockets,
so the profile is the app's own work).

    .venv/bin/python bench/profile_request.py [--requests 20000] [--top 15] [--probe]

With --probe, the request is GET /health/ready, against bench/bare_app.py's (bench/startup.py's
baseline, answering "ok").

Loads the bundled snapshot into a scratch database and Redis prefix (bench/support.py's
scratch_catalog; both removed at the end), builds `create_app()` as a worker does, warms it up,
then profiles N requests to the same models bench/api.py uses and prints: µs per request for
both apps, the share of ratecard's time spent in ratecard's own modules, and the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from bench.api import DOCUMENTS_ENV, MODEL_IDS, bare_app  # noqa: E402
from bench.support import scratch_catalog  # noqa: E402


def per_request_us(client: object, paths: list[str], n: int) -> float:
    get = client.get  # type: ignore[attr-defined]
    start = time.perf_counter()
    for i in range(n):
        response = get(paths[i % len(paths)])
        assert response.status_code == 200, response.status_code
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--probe", action="store_true", help="GET /health/ready instead")
    args = parser.parse_args()
    with scratch_catalog() as env, tempfile.TemporaryDirectory() as scratch_dir:
        for key in ("DATABASE_URL", "REDIS_URL", "RATECARD_REDIS_PREFIX", "RATECARD_SOURCES"):
            os.environ[key] = env[key]
        os.environ["RATECARD_COORDINATOR"] = "false"
        from ratecard.app import create_app

        app = create_app()
        paths = ["/health/ready"] if args.probe else [f"/api/models/{m}" for m in MODEL_IDS]
        ours = app.test_client()
        per_request_us(ours, paths, 2_000)  # warm-up: catalog load, lazy imports
        if args.probe:
            from bench.bare_app import app as probe_app

            bare = probe_app.test_client()
        else:
            # The bare app serves the documents ratecard answered (bench/api.py's baseline).
            documents = Path(scratch_dir) / "documents.json"
            documents.write_text(
                json.dumps({m: ours.get(f"/api/models/{m}").json for m in MODEL_IDS})
            )
            os.environ[DOCUMENTS_ENV] = str(documents)
            bare = bare_app().test_client()
        per_request_us(bare, paths, 2_000)
        ours_us = per_request_us(ours, paths, args.requests)
        bare_us = per_request_us(bare, paths, args.requests)
        profile = cProfile.Profile()
        profile.enable()
        per_request_us(ours, paths, args.requests)
        profile.disable()
    stats = pstats.Stats(profile)
    own = sum(
        row[2]  # tottime
        for (filename, _line, _name), row in stats.stats.items()  # type: ignore[attr-defined]
        if "/ratecard/" in filename
    )
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    ours_label = "ratecard GET " + ("/health/ready" if args.probe else "/api/models/<id>")
    bare_label = "bare Flask app" if args.probe else "bare Flask, same documents"
    own_label = "time in ratecard's own code"
    width = len(own_label)
    print(f"{ours_label:<{width}} : {ours_us:.1f} µs/request (test client)")
    print(f"{bare_label:<{width}} : {bare_us:.1f} µs/request")
    print(f"{'ratio':<{width}} : {ours_us / bare_us:.2f}x")
    print(f"{own_label:<{width}} : {own / total:.0%} of the profiled requests")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
    print(out.getvalue().split("\n", 4)[-1].rstrip())


if __name__ == "__main__":
    main()

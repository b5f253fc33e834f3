"""Refresh timings on PostgreSQL: a full load of the ~3,000-model LiteLLM snapshot, then
unchanged re-refreshes. Prints seconds (targets: full <= 2 s, unchanged <= 0.5 s).

    .venv/bin/python bench/refresh.py

Creates and drops its own database on 127.0.0.1:5432 (user postgres); uses its own Redis key
prefix on 127.0.0.1:6379 (deleted at the end); no network beyond 127.0.0.1.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from statistics import median

import redis
from sqlalchemy import update

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from bench.support import BUNDLED_FEED, REDIS_URL, scratch  # noqa: E402
from ratecard.background import refresh_deps  # noqa: E402
from ratecard.db import build_engine  # noqa: E402
from ratecard.ingest.feeds import parse_feed  # noqa: E402
from ratecard.ingest.refresh import RefreshDeps, refresh_catalog  # noqa: E402
from ratecard.schema import source_state  # noqa: E402
from ratecard.settings import Settings, parse_sources  # noqa: E402

FEED = BUNDLED_FEED


def main() -> None:
    with scratch() as (url, prefix):
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        engine = build_engine(url)
        try:
            settings = Settings(
                database_url=url,
                sources=parse_sources(f"litellm=file://{FEED}"),
                redis_key_prefix=prefix,
                start_coordinator=False,
            )
            deps = refresh_deps(settings, engine, client)
            run(deps, engine, settings)
        finally:
            engine.dispose()
            client.close()


def run(deps: RefreshDeps, engine: object, settings: Settings) -> None:
    body = FEED.read_bytes()
    parse_times = []
    for _ in range(3):
        started = time.perf_counter()
        parsed = parse_feed(settings.sources[0], body)
        parse_times.append(time.perf_counter() - started)
    parse_s = median(parse_times)

    full = refresh_catalog(deps)
    assert full.outcome == "success", full
    print(f"models: {full.sources[0].fetched} from {FEED.name} ({len(body) / 1e6:.1f} MB)")
    print(f"parse alone (median of 3):                    {parse_s:6.3f} s  (P1's normalize)")
    print(
        f"full refresh, empty PostgreSQL:               {full.seconds:6.3f} s  "
        f"(target <= 2 s; store+publish ~{full.seconds - parse_s:.3f} s)"
    )

    conditional = [refresh_catalog(deps) for _ in range(3)]
    assert all(r.sources[0].outcome == "not-modified" for r in conditional)
    print(
        f"unchanged re-refresh, conditional (ETag):     "
        f"{median(r.seconds for r in conditional):6.3f} s  (target <= 0.5 s)"
    )

    reparsed = []
    for _ in range(3):
        with engine.begin() as conn:  # type: ignore[attr-defined]
            # Forget the validators: the feed is fetched, parsed and diffed in full.
            conn.execute(update(source_state).values(etag=None, content_sha256=None))
        reparsed.append(refresh_catalog(deps))
    assert all(r.sources[0].outcome == "unchanged" for r in reparsed), reparsed
    seconds = median(r.seconds for r in reparsed)
    print(
        f"unchanged re-refresh, full parse + diff:      {seconds:6.3f} s  "
        f"(target <= 0.5 s; store+publish ~{seconds - parse_s:.3f} s; {len(parsed.models)} "
        "models compared, 0 rows written)"
    )


if __name__ == "__main__":
    main()

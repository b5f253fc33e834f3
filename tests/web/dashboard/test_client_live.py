"""The in-process client against the dashboard's live instance (`ratecard serve`, the real
2026-07-24 LiteLLM catalog): for every served model, the client's answer or error is the
service's, on the same catalog version. Here, not beside tests/test_client.py, to share that
instance (one per suite run: tests/support/scheduling.py groups this file with the
dashboard's)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ratecard.client import Pricer
from ratecard.errors import RatecardError


def requests_for(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Three requests per served model: plain tokens, cached input, and a long prompt (tiers)."""
    out: list[dict[str, Any]] = []
    for item in models:
        named = {"model": item["model_id"], "source": item["source"]}
        out.append({**named, "input_tokens": 1234, "output_tokens": 567})
        out.append({**named, "input_tokens": 90, "cache_read_tokens": 4000, "output_tokens": 1})
        out.append({**named, "input_tokens": 250_000, "output_tokens": 2000})
    return out


def test_every_served_model_prices_in_process_as_the_service_prices_it(fleet_url: str) -> None:
    with (
        Pricer.connect(fleet_url, refresh_every=3600) as pricer,
        httpx.Client(base_url=fleet_url, timeout=60) as http,
    ):
        copy = http.get("/api/catalog/copy").json()
        assert copy["version"] == pricer.catalog_version
        lines = requests_for(copy["models"])
        assert len(lines) > 6000
        body = "\n".join(json.dumps(line) for line in lines).encode()
        served = http.post(
            "/api/cost/batch", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
        assert served.status_code == 200, served.text[:500]
        answers = [json.loads(line) for line in served.text.splitlines() if line.strip()]
        assert len(answers) == len(lines)
        priced = errors = 0
        for number, (line, answer, mine) in enumerate(
            zip(lines, answers, pricer.cost_many(lines), strict=True), start=1
        ):
            if isinstance(mine, RatecardError):
                errors += 1
                assert answer == {
                    "line": number,
                    "error": mine.error,
                    "status": mine.status,
                    "detail": mine.detail,
                    **mine.extra,
                }, line
            else:
                priced += 1
                assert mine.to_dict() == answer, line
        assert priced > 5000 and errors > 100, (priced, errors)  # both kinds were compared
        # The single route gives the same as the batch: a sample, one request each.
        for line in lines[::97]:
            single = http.post("/api/cost", json=line)
            try:
                mine_single: Any = pricer.cost(**line).to_dict()
            except RatecardError as exc:
                mine_single = {"error": exc.error, "detail": exc.detail, **exc.extra}
            assert single.json() == mine_single, line

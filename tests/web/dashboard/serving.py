"""HTTP helpers around a real `ratecard serve` instance (tests/support/processes.py runs it)."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx


def latest_refresh(client: httpx.Client) -> dict[str, Any] | None:
    """Return the newest refresh run the instance reports (via /admin/worker), or None."""
    response = client.get("/admin/worker")
    assert response.status_code == 200, response.text
    runs = response.json()["jobs"]["refresh"].get("recent_runs") or []
    return runs[0] if runs else None


def wait_for_refresh_after(
    client: httpx.Client, previous_id: int | None, timeout: float = 60.0
) -> dict[str, Any]:
    """Wait until a refresh newer than `previous_id` has finished; return it."""
    deadline = time.monotonic() + timeout
    while True:
        run = latest_refresh(client)
        if run is not None and run["id"] != previous_id and run["outcome"] != "running":
            return run
        assert time.monotonic() < deadline, f"no refresh finished after run {previous_id}"
        time.sleep(0.2)


def refresh_now(client: httpx.Client, timeout: float = 60.0) -> dict[str, Any]:
    """Trigger a refresh through POST /admin/refresh and wait for it to finish."""
    before = latest_refresh(client)
    deadline = time.monotonic() + timeout
    while True:
        response = client.post("/admin/refresh")
        if response.status_code == 202:
            break
        # 409: a scheduled run holds the lease; wait for it, then ask again.
        assert response.status_code == 409, response.text
        assert time.monotonic() < deadline, "the refresh lease never became free"
        time.sleep(0.3)
    return wait_for_refresh_after(client, before["id"] if before else None, timeout)


def scaled_feed(source: Path, model_id: str, factor: int) -> tuple[bytes, Decimal]:
    """Return a LiteLLM feed with one model's input price x `factor`, and the new price.

    The edit is textual: re-serializing the whole file would turn exact decimals such as
    0.0000000208333333333333 into floats and "change" hundreds of other models.
    """
    text = source.read_text()
    start = text.index(json.dumps(model_id) + ": {")
    match = re.compile(r'"input_cost_per_token":\s*([0-9.eE+-]+)').search(text, start)
    assert match is not None, f"{model_id} has no input price in {source.name}"
    new_price = Decimal(match.group(1)) * factor
    edited = text[: match.start(1)] + format(new_price, "f") + text[match.end(1) :]
    return edited.encode(), new_price

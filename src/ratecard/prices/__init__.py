"""The price catalog domain: sources, normalize, guard, store, cache, refresh, cost, API."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the API blueprint and the catalog cache."""

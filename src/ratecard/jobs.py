"""Wiring: the periodic jobs this service runs, handed to the coordinator."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Build the job registry and the coordinator (not started)."""


def start(app: Flask) -> None:
    """Start the coordinator thread in this process (after fork)."""

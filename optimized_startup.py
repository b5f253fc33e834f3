"""The documented health entry point: `from optimized_startup import get_health_check_data`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from ratecard.probe_app import get_health_check_data

__all__ = ["get_health_check_data"]

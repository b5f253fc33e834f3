#!/usr/bin/env python
"""The documented worker entry point: `python singleton_background_worker.py --status|--run-once`.

Delegates to `ratecard worker` (same options).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))

from ratecard.entrypoint import ensure_dependencies  # noqa: E402

ensure_dependencies(ROOT)

from ratecard.cli.worker import worker  # noqa: E402

if __name__ == "__main__":
    worker.main(prog_name="singleton_background_worker.py")

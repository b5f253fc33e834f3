#!/usr/bin/env python
"""The documented worker entry point: `python singleton_background_worker.py --status|--run-once`.

Delegates to `ratecard worker` (same options).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from ratecard.cli.worker import worker

if __name__ == "__main__":
    worker.main(prog_name="singleton_background_worker.py")

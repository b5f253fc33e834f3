#!/usr/bin/env python
"""Run database migrations once per deployment: `python deploy_migrations.py [--dry-run]`.

The documented deploy entry point; it delegates to `ratecard migrate` (same options:
--dry-run, --status, --check, --wait SECONDS, --fail-fast).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from ratecard.cli.migrate import migrate

if __name__ == "__main__":
    migrate.main(prog_name="deploy_migrations.py")

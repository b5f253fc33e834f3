#!/usr/bin/env python
"""Run database migrations once per deployment: `python deploy_migrations.py [--dry-run]`.

The documented deploy entry point; it delegates to `ratecard migrate` (same options:
--dry-run, --status, --check, --wait SECONDS, --fail-fast).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))

from ratecard.entrypoint import ensure_dependencies  # noqa: E402

ensure_dependencies(ROOT)

from ratecard.cli.migrate import migrate  # noqa: E402

if __name__ == "__main__":
    migrate.main(prog_name="deploy_migrations.py")

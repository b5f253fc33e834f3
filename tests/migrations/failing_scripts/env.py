"""Test-only Alembic environment: the package's own env.py, run against these revisions."""

import runpy

from ratecard.migrations import SCRIPT_LOCATION

runpy.run_path(f"{SCRIPT_LOCATION}/env.py")

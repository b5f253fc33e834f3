"""Shared start of the documented root scripts (`deploy_migrations.py`, ...): stdlib only.

Existing deploy scripts call `python deploy_migrations.py` with whatever `python` is first on
the PATH. When that interpreter lacks ratecard's dependencies but the project's `.venv` (made
by `make install`) has them, re-run the script there instead of failing on an import.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

REQUIRED_MODULES = ("click", "sqlalchemy", "alembic", "flask")


def ensure_dependencies(repo_root: Path) -> None:
    """Return if the dependencies import here; else re-exec under repo_root/.venv or exit 2."""
    missing = [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return
    venv = repo_root / ".venv"
    venv_python = venv / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != venv.resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    sys.stderr.write(
        f"error: this Python ({sys.executable}) lacks {', '.join(missing)}; "
        "run `make install` (or `pip install .`) first\n"
    )
    raise SystemExit(2)

"""The batch pricing hot path runs compiled: every module of setup.py's COMPILED imports from the
extension mypyc built for it (`make install`), and none is older than its source.

The editable install puts each compiled module's .so beside its .py, and Python imports the .so
first: a .so older than its .py is an edit that is not running. `make install` rebuilds when a
compiled module changes; this catches any other way in (an install by hand, a checkout without
make). Under RATECARD_PURE_PYTHON (the build without compiling) it is the other way round: every
module imports from its .py and no .so is left under src/ to shadow one.
"""

from __future__ import annotations

import importlib
import runpy
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.services import REPO

SETUP = runpy.run_path(str(REPO / "setup.py"))  # its setup() runs only as __main__
COMPILED: list[str] = SETUP["COMPILED"]
PURE: bool = SETUP["pure_python"]()
REBUILD = (
    "run `make install` (under the same RATECARD_PURE_PYTHON): it rebuilds the compiled modules"
)


def module_name(path: str) -> str:
    parts = Path(path).relative_to("src").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def loaded_from(module: ModuleType) -> Path:
    assert module.__file__, module.__name__
    return Path(module.__file__).resolve()


def test_the_list_names_existing_modules_of_the_package() -> None:
    assert COMPILED, "setup.py compiles nothing"
    for path in COMPILED:
        assert (REPO / path).is_file() and path.startswith("src/ratecard/"), path
    assert module_name("src/ratecard/costing/formats/__init__.py") == "ratecard.costing.formats"


@pytest.mark.parametrize("path", COMPILED)
def test_each_module_imports_from_the_build_installed(path: str) -> None:
    source = REPO / path
    loaded = loaded_from(importlib.import_module(module_name(path)))
    if PURE:
        assert loaded == source.resolve(), (
            f"{module_name(path)} is imported from {loaded} under RATECARD_PURE_PYTHON: {REBUILD}"
        )
        return
    assert loaded.name.endswith(".so") and loaded.parent == source.parent, (
        f"{module_name(path)} is imported from {loaded}, not from a compiled extension: {REBUILD}"
    )
    assert loaded.is_file(), loaded  # where the module says it was loaded from (__path__ too)
    assert loaded.stat().st_mtime_ns >= source.stat().st_mtime_ns, (
        f"{loaded.name} is older than {path}: the module runs without the edit; {REBUILD}"
    )


def test_the_shared_library_is_fresh_and_nothing_else_is_built() -> None:
    # mypyc puts the compiled code in one shared extension; each module's own .so only loads it.
    built = sorted((REPO / "src").rglob("*.so"))
    if PURE:
        assert not built, f"{built[0]} is left under src/, where it can shadow a .py: {REBUILD}"
        return
    for path in COMPILED:
        importlib.import_module(module_name(path))
    shared = [loaded_from(m) for name, m in sys.modules.items() if name.endswith("__mypyc")]
    assert len(shared) == 1, f"expected mypyc's one shared library, got {shared}: {REBUILD}"
    assert shared[0] in built, shared
    newest = max((REPO / path for path in COMPILED), key=lambda p: p.stat().st_mtime_ns)
    assert shared[0].stat().st_mtime_ns >= newest.stat().st_mtime_ns, (
        f"{shared[0].name} is older than {newest.relative_to(REPO)}: {REBUILD}"
    )
    # Nothing else was built: a .so for each compiled module, and the shared library.
    assert len(built) == len(COMPILED) + 1, f"unexpected extensions under src/: {built}; {REBUILD}"

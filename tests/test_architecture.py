"""The package's shape: no Flask in the domain, no import cycle, no two modules of one name."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "src" / "ratecard"
# Plain Python layers: importing any of their modules must not load the web stack.
DOMAIN_PACKAGES = ("catalog", "costing", "ingest", "serving", "coordination", "migrations")
# Runs only inside Alembic (it reads `alembic.context.config` at import); its one ratecard
# import, ratecard.schema, is imported by the check below instead.
NOT_IMPORTABLE_ALONE = {"ratecard.migrations.env"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE_ROOT.rglob("*.py"))}


def test_importing_the_domain_and_coordination_loads_no_flask() -> None:
    paths = all_modules()
    modules = [
        name for name in paths if name.split(".")[1:2] and name.split(".")[1] in DOMAIN_PACKAGES
    ]
    importable = [m for m in modules if m not in NOT_IMPORTABLE_ALONE and ".versions." not in m]
    revisions = [str(paths[m]) for m in modules if ".versions." in m]
    assert len(importable) > 30 and len(revisions) >= 2, "the walk must find the modules"
    script = (
        "import importlib, importlib.util, json, sys\n"
        f"for name in {importable!r} + ['ratecard.schema']:\n"
        "    importlib.import_module(name)\n"
        f"for i, path in enumerate({revisions!r}):\n"
        "    spec = importlib.util.spec_from_file_location(f'revision_{i}', path)\n"
        "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug'))\n"
        "print(json.dumps(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [], "a domain module imports Flask or werkzeug"


def top_level_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The ratecard modules `path` imports when it is imported (not in functions, not typing)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{parent}.{base}".rstrip(".")
                found.add(base)
                # `from pkg import sub` imports the submodule pkg.sub
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(tree.body)
    return {m for m in found if m in known and m != name}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle of `graph` (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_ratecard_modules_import_each_other_without_cycles() -> None:
    modules = all_modules()
    known = set(modules)
    graph = {name: top_level_imports(path, name, known) for name, path in modules.items()}
    assert graph["ratecard.app"] >= {"ratecard.web.http_errors", "ratecard.web.state"}
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_health_package_does_not_import_the_app_factory() -> None:
    known = set(all_modules())
    imports = top_level_imports(PACKAGE_ROOT / "health" / "__init__.py", "ratecard.health", known)
    assert "ratecard.app" not in imports
    source = (PACKAGE_ROOT / "health" / "__init__.py").read_text(encoding="utf-8")
    assert "import create_app" not in source


def test_health_check_data_is_one_function_under_both_names() -> None:
    import optimized_startup

    from ratecard import health, probe_app

    assert health.get_health_check_data is probe_app.get_health_check_data
    assert optimized_startup.get_health_check_data is probe_app.get_health_check_data
    assert health.probe_app is probe_app.probe_app


def test_no_two_modules_share_a_name() -> None:
    names = Counter(p.name for p in PACKAGE_ROOT.rglob("*.py") if p.name != "__init__.py")
    assert len(names) > 50, "the walk must find the modules"
    assert [name for name, count in names.items() if count > 1] == []

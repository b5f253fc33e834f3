"""The package's shape, read from every import statement of every module (top level, inside
functions, under TYPE_CHECKING): no import cycle, imports pointing down the layers only, Flask
at the web edge only, the library packages free of the service, function-local imports only
where they defer a heavy library."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "src" / "ratecard"

# The composition root and the entry points: they may import anything of ratecard.
ENTRY = {
    "ratecard.app",
    "ratecard.background",
    "ratecard.probe_app",
    "ratecard.wsgi",
    "ratecard.launch",
    "ratecard.entrypoint",
    "ratecard.gunicorn_conf",
    "ratecard.gunicorn_logging",
    "ratecard.gunicorn_worker",
    "ratecard.readiness_seed",
}
# The areas below the edge, each a package. What each may not import, besides the web edge and
# the entry points (which none of them may).
AREAS: dict[str, set[str]] = {
    "catalog": {"costing", "ingest", "serving", "changes", "coordination", "health", "migrations"},
    "costing": {"ingest", "serving", "changes", "coordination", "health", "migrations"},
    "serving": {"ingest", "changes", "coordination", "health", "migrations"},
    "ingest": {"changes", "coordination", "health", "migrations"},
    "changes": {"ingest", "serving", "health", "migrations"},
    "coordination": {"catalog", "costing", "ingest", "serving", "changes", "health"},
    "health": {"catalog", "costing", "ingest", "serving", "changes", "coordination"},
    "migrations": {"catalog", "costing", "ingest", "serving", "changes", "coordination", "health"},
    # The in-process client (a module, ratecard/client.py): the library's costing over a
    # service's catalog copy, or the bundled snapshot read by ingest's feed parser.
    "client": {"serving", "changes", "coordination", "health", "migrations"},
}
# The library (`pip install ratecard`): catalog and costing, over these plain modules only.
LIBRARY = ("catalog", "costing")
LIBRARY_BASE = {"ratecard", "ratecard.errors", "ratecard.vocabulary", "ratecard.timetext"}
LIBRARY_BASE |= {"ratecard.json_keys", "ratecard.safe_text"}
# What the library installs without: the service's packages.
SERVICE_LIBRARIES = {
    "flask",
    "werkzeug",
    "jinja2",
    "gunicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "redis",
    "httpx",
    "prometheus_client",
    "click",
    "standardwebhooks",
}
WEB_STACK = {"flask", "werkzeug", "jinja2"}
# Libraries whose import costs a process 20 ms or more (measured with `python -X importtime`
# here: alembic ~310, sqlalchemy ~180, flask ~150, psycopg ~140, redis ~130, httpx ~130,
# jinja2 ~100, prometheus_client ~55, pydantic ~50, click and yaml ~25, orjson and
# standardwebhooks ~20): deferring one of them into a function is what a local import is for.
HEAVY = SERVICE_LIBRARIES | {"pydantic", "orjson", "yaml"}


@dataclass(frozen=True)
class Import:
    """One import of a module: what it names, and where the statement stands."""

    target: str  # a ratecard module, or a third-party/stdlib top-level package
    line: int
    where: str  # "top", "type_checking" or "function"
    function: ast.FunctionDef | ast.AsyncFunctionDef | None = None


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE_ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, package: str, known: set[str]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            base = f"{parent}.{base}".rstrip(".")
        # `from pkg import sub` imports the module pkg.sub; `from pkg import name`, pkg.
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    for name in names:
        if name.split(".")[0] != "ratecard":
            yield name.split(".")[0]
            continue
        while name not in known and "." in name:
            name = name.rpartition(".")[0]
        yield name


@cache
def imports_of(name: str) -> tuple[Import, ...]:
    """Every import statement of module `name`, wherever it stands."""
    path = all_modules()[name]
    known = set(all_modules())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def visit(statements: Iterable[ast.stmt], where: str, function: ast.AST | None) -> None:
        for node in statements:
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(node, package, known):
                    if target != name:
                        found.append(Import(target, node.lineno, where, function))  # type: ignore[arg-type]
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(node.body, "function", node)
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.body, "type_checking", function)
                visit(node.orelse, where, function)
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    children = getattr(node, field, None)
                    if isinstance(children, list):
                        visit([c for c in children if isinstance(c, ast.stmt)], where, function)
                        for handler in children:
                            if isinstance(handler, ast.ExceptHandler):
                                visit(handler.body, where, function)

    visit(ast.parse(path.read_text(encoding="utf-8")).body, "top", None)
    return tuple(found)


def ratecard_imports(name: str) -> set[str]:
    return {i.target for i in imports_of(name) if i.target.startswith("ratecard")}


def area_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in (*AREAS, "web", "cli") else None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle of `graph` (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
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


def test_the_reader_sees_every_kind_of_import() -> None:
    kinds = {i.where for name in all_modules() for i in imports_of(name)}
    assert kinds == {"top", "type_checking", "function"}
    assert len(all_modules()) > 120, "the walk must find the modules"
    local = [i for i in imports_of("ratecard.services") if i.where == "function"]
    assert [i.target for i in local] == ["ratecard.db", "redis", "redis", "redis"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_ratecard_modules_import_each_other_without_cycles() -> None:
    graph = {name: ratecard_imports(name) for name in all_modules()}
    assert graph["ratecard.app"] >= {"ratecard.web.http_errors", "ratecard.web.state"}
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


def test_areas_below_the_edge_import_neither_the_edge_nor_the_composition_root() -> None:
    wrong = []
    for name in all_modules():
        area = area_of(name)
        if area not in AREAS:
            continue
        for target in ratecard_imports(name):
            if (
                target in ENTRY
                or area_of(target) in ("web", "cli")
                or area_of(target) in AREAS[area]
            ):
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_the_plain_modules_at_the_root_import_no_area() -> None:
    wrong = [
        f"{name} -> {target}"
        for name in all_modules()
        if name.count(".") == 1 and name not in ENTRY and area_of(name) is None
        for target in ratecard_imports(name)
        if area_of(target) is not None or target in ENTRY
    ]
    assert wrong == []


def test_flask_is_imported_at_the_web_edge_only() -> None:
    wrong = [
        f"{name} -> {i.target}"
        for name in all_modules()
        if area_of(name) != "web"
        for i in imports_of(name)
        if i.target in WEB_STACK
    ]
    assert wrong == []


@pytest.mark.parametrize("package", LIBRARY)
def test_the_library_packages_import_nothing_of_the_service(package: str) -> None:
    modules = [n for n in all_modules() if area_of(n) == package]
    assert len(modules) >= 5
    wrong = [
        f"{name} -> {i.target}"
        for name in modules
        for i in imports_of(name)
        if i.target in SERVICE_LIBRARIES
        or (
            i.target.startswith("ratecard")
            and i.target not in LIBRARY_BASE
            and area_of(i.target) not in LIBRARY
        )
    ]
    assert wrong == []


# Runs only inside Alembic (it reads `alembic.context.config` at import).
NOT_IMPORTABLE_ALONE = {"ratecard.migrations.env"}


def loaded_by_importing(
    modules: list[str], revisions: tuple[str, ...] | list[str] = ()
) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after importing `modules` (and
    executing the revision files `revisions`)."""
    script = (
        "import importlib, importlib.util, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"for i, path in enumerate({list(revisions)!r}):\n"
        "    spec = importlib.util.spec_from_file_location(f'revision_{i}', path)\n"
        "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def test_importing_the_library_loads_no_service_package() -> None:
    modules = [n for n in all_modules() if area_of(n) in LIBRARY]
    assert loaded_by_importing(modules) & SERVICE_LIBRARIES == set()


def test_importing_any_area_loads_no_web_stack() -> None:
    paths = all_modules()
    areas = [n for n in paths if area_of(n) in AREAS and n not in NOT_IMPORTABLE_ALONE]
    modules = [n for n in areas if ".versions." not in n]
    revisions = [str(paths[n]) for n in areas if ".versions." in n]
    assert len(modules) > 60 and len(revisions) >= 2, "the walk must find the modules"
    assert loaded_by_importing(modules, revisions) & WEB_STACK == set()


@cache
def heavy_at_import(name: str) -> frozenset[str]:
    """The heavy libraries importing module `name` loads: its top-level imports', transitively,
    and its packages' (`__init__` modules run first)."""
    heavy: set[str] = set()
    seen: set[str] = set()
    todo = [name]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [p for i in range(2, len(parts)) if (p := ".".join(parts[:i])) in all_modules()]
        for i in imports_of(module):
            if i.where != "top":
                continue
            if i.target in HEAVY:
                heavy.add(i.target)
            elif i.target.startswith("ratecard"):
                todo.append(i.target)
    return frozenset(heavy)


def _deferral_noted(name: str, imp: Import) -> bool:
    """A comment says why: in the function, before the import, or for the whole module."""
    lines = all_modules()[name].read_text(encoding="utf-8").splitlines()
    assert imp.function is not None
    before = lines[imp.function.lineno - 1 : imp.line - 1]
    module_comments = [line for line in lines if line.startswith("#")]
    return any("deferred" in line.lower() for line in before if line.strip().startswith("#")) or (
        any("deferred" in line.lower() for line in module_comments)
    )


def test_a_function_local_import_defers_a_heavy_library_and_says_so() -> None:
    """Outside the CLI (whose commands each import their own work: `ratecard --help` loads
    none of it) and the command's dispatcher before it (ratecard.launch: `serve`'s start,
    without click, or the CLI), a ratecard module is imported inside a function only when that
    keeps a heavy library out of the importer's own import, and a comment says so."""
    pointless, unexplained = [], []
    for name in all_modules():
        if area_of(name) == "cli" or name == "ratecard.launch":
            continue
        own = heavy_at_import(name)
        for imp in imports_of(name):
            if imp.where != "function" or not imp.target.startswith("ratecard"):
                continue
            if not heavy_at_import(imp.target) - own:
                pointless.append(f"{name}:{imp.line} -> {imp.target}")
            elif not _deferral_noted(name, imp):
                unexplained.append(f"{name}:{imp.line} -> {imp.target}")
    assert pointless == [], "these defer nothing: import them at the top"
    assert unexplained == [], "say what these defer, in a comment with the word 'Deferred'"


def test_health_check_data_is_one_function_under_both_names() -> None:
    import optimized_startup

    from ratecard import probe_app

    assert optimized_startup.get_health_check_data is probe_app.get_health_check_data


def test_no_two_modules_share_a_name() -> None:
    names = Counter(p.name for p in PACKAGE_ROOT.rglob("*.py") if p.name != "__init__.py")
    assert len(names) > 50, "the walk must find the modules"
    assert [name for name, count in names.items() if count > 1] == []


def test_the_tests_mirror_the_packages() -> None:
    """Every test folder is named after a package of ratecard (or is the suite's support)."""
    tests = PACKAGE_ROOT.parent.parent / "tests"
    packages = {module_name(p.parent) for p in PACKAGE_ROOT.rglob("__init__.py")}
    folders = {
        "ratecard." + ".".join(p.parent.relative_to(tests).parts)
        for p in tests.rglob("test_*.py")
        if p.parent != tests
    }
    assert folders - packages - {"ratecard.deploy"} == set()


def test_the_readme_layout_lists_every_package_and_module_of_the_root() -> None:
    readme = (PACKAGE_ROOT.parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Layout", 1)[1].split("```", 2)[1]
    lines = block.split("src/ratecard/\n", 1)[1].split("\ntests/", 1)[0].splitlines()
    listed = {
        name.rstrip("/")
        for line in lines
        if line.startswith("  ") and not line.startswith("   ")
        for name in line[2:].split("  ", 1)[0].split()
    }
    present = {p.name.removesuffix(".py") for p in PACKAGE_ROOT.glob("*.py")} - {"__init__"}
    present |= {p.parent.name for p in PACKAGE_ROOT.glob("*/__init__.py")}
    assert {n.removesuffix(".py") for n in listed} == present

"""The locked dependency set: every package pinned with hashes, for make install and the image."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.support.services import REPO

REQUIREMENTS = REPO / "requirements"
LOCKS = ["runtime.txt", "dev.txt", "build.txt", "lock-tool.txt"]
# Releases known to have been compromised on the index: never to appear in a lock.
COMPROMISED = {("litellm", "1.82.7"), ("litellm", "1.82.8")}

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec)
    assert match, spec
    return canonical(match.group(0))


def entries(path: Path) -> dict[str, tuple[str, list[str]]]:
    """Parse a hashed lock: name -> (version, hashes)."""
    found: dict[str, tuple[str, list[str]]] = {}
    current: str | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pin = PIN.match(line)
        if pin:
            current = canonical(pin.group(1))
            found[current] = (pin.group(2), [])
        elif line.startswith("--hash=sha256:"):
            assert current is not None, f"{path.name}: a hash before any requirement"
            found[current][1].append(line.split(":", 1)[1].rstrip(" \\"))
        else:
            raise AssertionError(f"{path.name}: not a pinned requirement or hash: {raw!r}")
    return found


def pyproject() -> dict:
    with (REPO / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


@pytest.mark.parametrize("name", LOCKS)
def test_every_locked_package_is_pinned_with_sha256_hashes(name: str) -> None:
    locked = entries(REQUIREMENTS / name)
    assert locked, f"{name} pins nothing"
    for package, (version, hashes) in locked.items():
        assert hashes, f"{name}: {package}=={version} has no hash"
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), (package, hashes)
        assert (package, version) not in COMPROMISED, f"{package}=={version} was compromised"


def test_runtime_lock_covers_pyproject_and_dev_lock_agrees_with_it() -> None:
    project = pyproject()["project"]
    runtime = entries(REQUIREMENTS / "runtime.txt")
    dev = entries(REQUIREMENTS / "dev.txt")
    for spec in project["dependencies"]:
        assert requirement_name(spec) in runtime, f"{spec} is not in the runtime lock"
    for spec in project["optional-dependencies"]["dev"]:
        assert requirement_name(spec) in dev, f"{spec} is not in the dev lock"
    for package, (version, _) in runtime.items():
        if package in dev:
            assert dev[package][0] == version, f"{package}: dev and image would differ"
    assert entries(REQUIREMENTS / "build.txt").keys() <= dev.keys(), "make install builds too"


def test_this_environment_is_the_locked_set() -> None:
    # make install is the only way in: a package at another version than the lock's means
    # someone installed around it (or the lock changed without `make install`).
    dev = entries(REQUIREMENTS / "dev.txt")
    for package in ("flask", "sqlalchemy", "psycopg", "redis", "pytest", "mypy", "setuptools"):
        assert importlib.metadata.version(package) == dev[package][0], package


def test_make_install_and_the_image_install_from_the_lock_with_hashes() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet --require-hashes --no-deps -r requirements/dev.txt" in makefile
    assert "--no-deps --no-build-isolation -e ." in makefile
    assert "requirements/lock-tool.txt" in makefile and "uv pip compile" in makefile
    assert re.search(r"^uv==\d+\.\d+\.\d+", (REQUIREMENTS / "lock-tool.txt").read_text(), re.M)
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes" in dockerfile and "-r requirements/runtime.txt" in dockerfile
    assert "tomllib" not in dockerfile, "the image no longer reads ranges out of pyproject"


def test_license_is_an_spdx_expression_and_the_build_backend_supports_it() -> None:
    data = pyproject()
    assert data["project"]["license"] == "MIT"
    assert "setuptools>=77" in data["build-system"]["requires"]
    version = entries(REQUIREMENTS / "build.txt")["setuptools"][0]
    assert int(version.split(".")[0]) >= 77


def test_the_build_requirements_are_the_locked_ones() -> None:
    # setup.py compiles with mypyc (mypy): the image builds from build.txt and make install
    # from dev.txt, both with --no-build-isolation, so pyproject's ranges, build.in and both
    # locks must name the same build requirements at the same versions.
    requires = [Requirement(spec) for spec in pyproject()["build-system"]["requires"]]
    assert {canonical(r.name) for r in requires} == {"setuptools", "mypy"}
    stated = [
        line.split("#")[0].strip()
        for line in (REQUIREMENTS / "build.in").read_text(encoding="utf-8").splitlines()
    ]
    assert sorted(str(Requirement(spec)) for spec in stated if spec) == sorted(map(str, requires))
    build, dev = entries(REQUIREMENTS / "build.txt"), entries(REQUIREMENTS / "dev.txt")
    for requirement in requires:
        version = build[canonical(requirement.name)][0]
        assert requirement.specifier.contains(version), (requirement, version)
        assert dev[canonical(requirement.name)][0] == version, requirement.name

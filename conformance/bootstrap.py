"""Create (or reuse) conformance/.venv: LiteLLM and genai-prices pinned by hash, never ratecard's.

    python3.11 conformance/bootstrap.py    (generate.py and the bench anchor call it for you)

Why a venv of its own: LiteLLM is a reference to measure against, not something ratecard runs or
tests with; its ~50 transitive packages must never reach `make install`, `make test` or the image.
Why `--require-hashes`: LiteLLM 1.82.7 and 1.82.8 were published by a compromised account and ran
code at interpreter start through a `.pth` file; pinning every wheel by sha256 means a re-published
or swapped file fails the install instead of running. After installing we also refuse any `.pth`
file that a LiteLLM or genai-prices wheel put into site-packages (the exact shape of that attack).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
REQUIREMENTS = HERE / "requirements.txt"
# The lock holds hashes of the CPython 3.11 manylinux x86_64 wheels (several dependencies ship
# compiled wheels per interpreter); another interpreter or platform would need other files.
PYTHON_VERSION = (3, 11)
STAMP = VENV / ".requirements.sha"


def venv_python() -> Path:
    return VENV / "bin" / "python"


def _find_python() -> str:
    if sys.version_info[:2] == PYTHON_VERSION:
        return sys.executable
    name = f"python{PYTHON_VERSION[0]}.{PYTHON_VERSION[1]}"
    found = os.environ.get("CONFORMANCE_PYTHON") or shutil.which(name)
    if not found:
        sys.exit(f"conformance: needs {name} (set CONFORMANCE_PYTHON); the hash lock is for cp311")
    return found


def _requirements_digest() -> str:
    import hashlib

    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def _check_no_pth() -> None:
    """Fail if a pinned distribution installed a .pth file (code run at every interpreter start)."""
    site = subprocess.run(
        [str(venv_python()), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    offenders = []
    for record in Path(site).glob("*.dist-info/RECORD"):
        dist = record.parent.name.split("-")[0].lower()
        if dist in {"setuptools", "pip", "distutils_precedence"}:
            continue  # the venv's own tooling, not from our lock
        for line in record.read_text().splitlines():
            path = line.split(",", 1)[0]
            if path.endswith(".pth"):
                offenders.append(f"{record.parent.name}: {path}")
    if offenders:
        sys.exit(
            "conformance: refusing a .pth file from a pinned wheel:\n  " + "\n  ".join(offenders)
        )


def ensure_venv() -> Path:
    """Return the venv's python, building the venv first when missing or when the lock changed."""
    digest = _requirements_digest()
    if venv_python().exists() and STAMP.exists() and STAMP.read_text().strip() == digest:
        return venv_python()
    python = _find_python()
    if VENV.exists():
        shutil.rmtree(VENV)
    subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [
            str(venv_python()),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "--only-binary",
            ":all:",
            "--no-deps",
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )
    _check_no_pth()
    STAMP.write_text(digest + "\n")
    return venv_python()


def reexec_in_venv(script: str) -> None:
    """Run `script` again under the conformance venv's python unless already there."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = ensure_venv()
    os.execv(str(python), [str(python), script, *sys.argv[1:]])


if __name__ == "__main__":
    print(ensure_venv())

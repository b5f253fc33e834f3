"""`pip install ratecard` is the library: the catalog, costing and the client, with none of the
service's packages. Checked two ways: the project's own dependency lists, and a process that
imports and prices through the client with every service package refused at import."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICE_PACKAGES = (
    "flask",
    "werkzeug",
    "gunicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "redis",
    "prometheus_client",
    "click",
    "pydantic",
    "standardwebhooks",
    "pyarrow",
)

# Run in a fresh interpreter: a finder first on sys.meta_path refuses every service package,
# as a venv without them would; then the client prices in each of the API's forms.
LIBRARY_ONLY = f"""
import json, sys
from importlib.abc import MetaPathFinder

REFUSED = {SERVICE_PACKAGES!r}

class Refuse(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in REFUSED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (refused: library only)")
        return None

sys.meta_path.insert(0, Refuse())
from ratecard.client import Pricer
from ratecard.errors import RatecardError

pricer = Pricer.bundled()
out = [pricer.cost(model="gpt-4o", input_tokens=1000, output_tokens=50).to_dict()]
out.append(pricer.cost(model="claude-sonnet-4-5", usage={{"input_tokens": 10,
    "cache_read_input_tokens": 5, "output_tokens": 2}}, format="anthropic").to_dict())
out.append(pricer.cost({{"model": "gpt-4o", "usage": {{"prompt_tokens": 7,
    "completion_tokens": 3}}}}).to_dict())
try:
    pricer.cost(model="gpt-4o", bogus_tokens=1)
except RatecardError as exc:
    out.append({{"status": exc.status, "field": exc.extra.get("field")}})
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set(REFUSED))
print(json.dumps({{"answers": out, "loaded": loaded}}))
"""


def test_the_library_dependencies_hold_no_service_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(d) for d in project["dependencies"]}
    server = {_name(d) for d in project["optional-dependencies"]["server"]}
    assert names == {"httpx", "orjson"}
    assert not names & {p.replace("_", "-") for p in SERVICE_PACKAGES}
    assert {"flask", "sqlalchemy", "gunicorn", "redis", "pyarrow"} <= server


def test_the_client_prices_with_every_service_package_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LIBRARY_ONLY], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["loaded"] == []
    first, anthropic, response, error = result["answers"]
    assert first["model"] == "gpt-4o" and first["total"] == "0.003"
    assert anthropic["format"] == "anthropic" and anthropic["components"]
    assert response["format"] == "openai.chat" and response["total"]
    assert error == {"status": 422, "field": "bogus_tokens"}


def _name(requirement: str) -> str:
    for stop in "<>=[; ":
        requirement = requirement.split(stop, 1)[0]
    return requirement.strip().lower()

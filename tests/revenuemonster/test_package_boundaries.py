"""What the package's layout promises: a web worker never imports the simulator (a development
tool, in ``dashboard.revenuemonster.testing``), and ``dashboard/revenuemonster/`` needs neither
Flask nor SQL, nor any other part of the dashboard."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import base_config

import dashboard.revenuemonster

PACKAGE_DIR = Path(dashboard.revenuemonster.__file__).resolve().parent
PACKAGE = "dashboard.revenuemonster"
TESTING = f"{PACKAGE}.testing"
FORBIDDEN = ("flask", "sqlalchemy")

WEB_WORKER = """
import json, sys
import dashboard
app = dashboard.create_app(json.loads(sys.argv[1]))
status = app.test_client().get("/healthz").status_code
loaded = sorted(name for name in sys.modules if name.startswith(sys.argv[2]))
print(json.dumps({"status": status, "loaded": loaded}))
"""


def modules() -> list[tuple[str, Path]]:
    """Every module of the package, with its dotted name."""
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join((PACKAGE, *parts)), path))
    return found


def imported(name: str, path: Path) -> Iterator[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in the module (also those inside
    functions and under ``if TYPE_CHECKING:``), relative ones resolved."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                yield node.lineno, ".".join([*base, *([node.module] if node.module else [])])
            else:
                yield node.lineno, node.module or ""


def test_the_package_has_its_modules():
    names = {name for name, _path in modules()}
    assert {PACKAGE, f"{PACKAGE}.client", f"{PACKAGE}.transport", f"{TESTING}.simulator"} <= names


def test_a_web_worker_never_imports_the_simulator(tmp_path):
    config = base_config(f"sqlite:///{tmp_path / 'web.sqlite'}", "http://127.0.0.1:9", tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", WEB_WORKER, json.dumps(config), TESTING],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PACKAGE_DIR.parent.parent,
    )
    assert result.returncode == 0, result.stderr
    worker = json.loads(result.stdout.strip().splitlines()[-1])
    assert worker["status"] == 200, result.stderr
    assert worker["loaded"] == []


def test_the_simulator_names_of_the_public_api_load_on_first_use():
    script = (
        "import sys, dashboard.revenuemonster as rm;"
        f"before = any(name.startswith({TESTING!r}) for name in sys.modules);"
        "print(before, rm.Simulator.__module__, rm.serve_in_thread.__module__,"
        " len(rm.MAGIC_NUMBERS))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", f"{TESTING}.simulator", f"{TESTING}.serving", "19"]
    with pytest.raises(AttributeError):
        _ = dashboard.revenuemonster.no_such_name


@pytest.mark.parametrize(("name", "path"), modules(), ids=[name for name, _path in modules()])
def test_the_package_imports_neither_flask_nor_sql_nor_the_rest_of_the_dashboard(name, path):
    for line, module in imported(name, path):
        top = module.split(".")[0]
        assert top not in FORBIDDEN and not top.startswith("flask_"), f"{path.name}:{line}"
        if top == "dashboard":
            assert module == PACKAGE or module.startswith(PACKAGE + "."), f"{path.name}:{line}"


@pytest.mark.parametrize(
    ("name", "path"),
    [(name, path) for name, path in modules() if not name.startswith(TESTING)],
    ids=[name for name, _path in modules() if not name.startswith(TESTING)],
)
def test_only_the_testing_package_imports_the_simulator(name, path):
    """Outside ``testing`` the simulator is reached only through the public API's names,
    imported on first use."""
    for line, module in imported(name, path):
        assert not (module == TESTING or module.startswith(TESTING + ".")), f"{path.name}:{line}"

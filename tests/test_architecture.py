"""The rules of docs/architecture.md that import-linter cannot see: status names are written
in one module, blueprints never name the audit chain's lock, and modules stay the size of one
idea."""

from __future__ import annotations

import ast
from pathlib import Path

from dashboard.domain.statuses import Status

PACKAGE = Path(__file__).resolve().parents[1] / "dashboard"
BLUEPRINTS = ("admin", "auth", "sms", "history", "audit_log", "main")
STATUS_NAMES = {status.value for status in Status}
#: RevenueMonster's package knows nothing of the dashboard: its outcomes name the status the
#: dashboard records for them; statuses.py is where the names are written.
STATUS_HOMES = {PACKAGE / "domain" / "statuses.py", PACKAGE / "revenuemonster" / "outcomes.py"}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_status_names_are_written_only_in_the_statuses_module():
    found = [
        f"{path.relative_to(PACKAGE)}:{line} {value!r}"
        for path in modules()
        if path not in STATUS_HOMES
        for line, value in string_constants(path)
        if value in STATUS_NAMES
    ]
    assert found == []


def test_templates_name_statuses_through_the_enumeration():
    templates = Path(__file__).resolve().parents[1] / "templates"
    quoted = [f'"{name}"' for name in STATUS_NAMES] + [f"'{name}'" for name in STATUS_NAMES]
    found = [
        str(path.relative_to(templates))
        for path in templates.rglob("*.html")
        if any(q in path.read_text() for q in quoted)
    ]
    assert found == []


def test_blueprints_never_name_the_audit_chain_lock_nor_open_a_transaction():
    found = [
        str(path.relative_to(PACKAGE))
        for blueprint in BLUEPRINTS
        for path in (PACKAGE / blueprint).glob("*.py")
        if "CHAIN_LOCK" in path.read_text() or "write_transaction" in path.read_text()
    ]
    assert found == []


def test_no_module_is_over_400_lines():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in modules()
        if (n := len(path.read_text().splitlines())) > 400
    }
    assert long == {}

"""What bandit proves about the code (SECURITY.md OB-1, OB-2, IV-3, HD-7): no TLS check turned
off, no request without a timeout, no SQL built from strings, no Flask debug mode. Offline, on
the whole package; `make check` also runs bandit with every test, each finding answered on
its line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = {
    "B501": "OB-1",  # requests with verify=False
    "B113": "OB-2",  # requests without a timeout
    "B608": "IV-3",  # SQL built from strings
    "B201": "HD-7",  # Flask's debug mode
}


@pytest.fixture(scope="module")
def findings() -> list[dict]:
    scanned = subprocess.run(
        [
            sys.executable,
            "-m",
            "bandit",
            "-r",
            "dashboard",
            "-f",
            "json",
            "-q",
            "--tests",
            ",".join(REQUIREMENTS),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(scanned.stdout)
    assert report["metrics"]["_totals"]["loc"] > 5000  # the package was scanned, not nothing
    return report["results"]


@pytest.mark.parametrize("test_id", sorted(REQUIREMENTS))
def test_OB1_OB2_IV3_HD7_bandit_finds_none(findings, test_id):
    found = [f"{f['filename']}:{f['line_number']}" for f in findings if f["test_id"] == test_id]
    assert found == [], f"{REQUIREMENTS[test_id]}: {test_id} at {found}"


def test_bandit_would_see_them(tmp_path):
    """The same run on code that breaks each rule finds every one of them."""
    (tmp_path / "bad.py").write_text(
        "import requests\nfrom flask import Flask\n"
        "requests.get('https://x', verify=False, timeout=1)\n"
        "requests.get('https://x')\n"
        "def q(cursor, name):\n    cursor.execute(\"SELECT * FROM t WHERE n = '%s'\" % name)\n"
        "Flask(__name__).run(debug=True)\n"
    )
    scanned = subprocess.run(
        [
            sys.executable,
            "-m",
            "bandit",
            "-r",
            str(tmp_path),
            "-f",
            "json",
            "-q",
            "--tests",
            ",".join(REQUIREMENTS),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert {f["test_id"] for f in json.loads(scanned.stdout)["results"]} == set(REQUIREMENTS)

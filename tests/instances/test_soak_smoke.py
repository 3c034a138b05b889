"""benchmarks/soak.py for half a minute with eight agents: the whole stack under gunicorn with
provider faults, checked by the benchmark's own musts (no 5xx, attempts against the
simulator's requests, flat worker memory). About 45 s; the five-minute run is the benchmark's
(docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"

pytestmark = pytest.mark.timeout(240)


def test_a_short_soak_on_sqlite_meets_every_must():
    result = subprocess.run(
        # A fault rate of 20 %: in a short run, 2 % would mostly exercise no fault at all.
        [sys.executable, str(SOAK), "--minutes", "0.5", "--agents", "8", "--fault-rate", "0.2"],
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "PASS" in result.stdout.splitlines()[-2], result.stdout
    assert "faults (recorded as):" in result.stdout, result.stdout

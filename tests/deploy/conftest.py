"""The production path as the README writes it: the wheel built and installed into a fresh
virtualenv, run from an empty directory with production settings, and (test_behind_nginx)
behind Debian's nginx with the site file of docs/deploy/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploying import LOCK, ROOT, Installed, stop, wait_for


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """``pip wheel`` of the checkout, installed with ``pip install`` into a new virtualenv at
    the versions of requirements.lock, as ``make install`` takes them."""
    work = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = work.glob("rm_sms_dashboard-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "-c", str(LOCK), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, pip.stderr
    return Installed(venv)


@pytest.fixture(scope="session")
def nginx() -> str:
    """Debian's nginx (``make test`` installs it when it is missing); never skipped."""
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        pytest.fail("nginx is missing: 'make nginx' installs it (apt-get install -y nginx).")
    return found


@pytest.fixture
def serve_gunicorn(installed: Installed) -> Iterator:
    """Start gunicorn from the virtualenv; stopped when the test ends."""
    started: list[subprocess.Popen] = []

    def start(args: list[str], env: dict[str, str], cwd: Path, url: str, **options):
        log = cwd / "gunicorn.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [installed.bin("gunicorn"), *args],
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        wait_for(url, process, log, **options)
        return process

    yield start
    for process in started:
        stop(process)

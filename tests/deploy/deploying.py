"""What the deployment tests share: the installed wheel, an operator's environment, processes
started and stopped."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy"
#: The versions (and hashes) every install takes.
LOCK = ROOT / "requirements.lock"


@dataclass
class Installed:
    """A virtualenv holding the wheel and what it depends on, nothing of the checkout."""

    venv: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def flask(
        self, *args: str, env: dict[str, str], cwd: Path, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``flask --app dashboard ARGS`` as an operator types it; fails the test on failure."""
        result = subprocess.run(
            [self.bin("flask"), "--app", "dashboard", *args],
            env=env,
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"flask {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result

    def configure_provider(
        self, environment: str, client_id: str, secret_file: Path, key_file: Path, **run
    ) -> None:
        """``provider configure`` with the client secret and private key in files."""
        self.flask(
            "provider",
            "configure",
            environment,
            "--client-id",
            client_id,
            "--client-secret-file",
            str(secret_file),
            "--private-key-file",
            str(key_file),
            **run,
        )


def clean_environment(**settings: str) -> dict[str, str]:
    """The process environment without any DASHBOARD_ setting or Python path of the checkout,
    plus ``settings`` (``DASHBOARD_`` prefixed by the caller)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DASHBOARD_", "PYTHON", "VIRTUAL_ENV", "FLASK_"))
    }
    env.update(settings)
    return env


def production_settings(database_url: str, hosts: str, **more: str) -> dict[str, str]:
    return {
        "DASHBOARD_ENV": "production",
        "DASHBOARD_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(36)).decode(),
        "DASHBOARD_ENCRYPTION_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        "DASHBOARD_AUDIT_KEY": "a1:" + base64.b64encode(os.urandom(32)).decode(),
        "DASHBOARD_DATABASE_URL": database_url,
        "DASHBOARD_TRUSTED_HOSTS": hosts,
        **{f"DASHBOARD_{k}": v for k, v in more.items()},
    }


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, log: Path, **request_options) -> None:
    """Until ``url`` answers (any status), or fail with ``log`` if ``process`` ends first."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited:\n{log.read_text()}")
        try:
            requests.get(url, timeout=5, **request_options)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)

"""What the fault tests share: the app served by gunicorn as production runs it, its workers,
a browser-like session over HTTP, and a PostgreSQL cluster of the suite's own to stop and
start."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from support import PASSWORD, base_config

from dashboard.config import PREFIX, SETTING_NAMES

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
KEY_RE = re.compile(r'id="idempotency_key" name="idempotency_key" type="hidden" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def settings_environment(database_url: str, simulator_url: str, instance: Path, **more) -> dict:
    """The process environment of a dashboard process: the tests' settings (the same keys, so
    it reads what the test's app wrote) as ``DASHBOARD_*`` variables, and nothing else of
    ours."""
    settings = {**base_config(database_url, simulator_url, instance), **more}
    env = {k: v for k, v in os.environ.items() if not k.startswith((PREFIX, "FLASK_"))}
    env.update({PREFIX + k: str(v) for k, v in settings.items() if k in SETTING_NAMES})
    env[PREFIX + "INSTANCE_PATH"] = str(instance)
    return env


@dataclass
class Gunicorn:
    """gunicorn serving ``dashboard:create_app(migrations=False)`` with one sync worker, as
    docs/deploy/gunicorn.conf.py has it (workers and timeout aside)."""

    process: subprocess.Popen
    url: str
    log: Path

    @classmethod
    def start(cls, env: dict[str, str], workdir: Path) -> Gunicorn:
        port = free_port()
        log = workdir / "gunicorn.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [
                    str(GUNICORN),
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "--timeout",
                    "30",
                    "dashboard:create_app(migrations=False)",
                ],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = cls(process, f"http://127.0.0.1:{port}", log)
        server.wait_until_serving()
        return server

    def wait_until_serving(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{self.log.read_text()}")
            try:
                requests.get(self.url + "/login", timeout=5)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise AssertionError(f"gunicorn did not answer:\n{self.log.read_text()}")

    def workers(self) -> list[int]:
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(child) for child in children]

    def kill_worker(self) -> int:
        """SIGKILL the one worker, as the kernel's OOM killer or an operator would."""
        (worker,) = self.workers()
        os.kill(worker, signal.SIGKILL)
        return worker

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


class Browser:
    """A signed-in person's session over HTTP, filling in the send form as the page has it."""

    def __init__(self, url: str, email: str) -> None:
        self.url = url
        self.session = requests.Session()
        page = self.session.get(url + "/login", timeout=10).text
        response = self.session.post(
            url + "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": _csrf(page)},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 302, response.text

    def send_form(self, phone_number: str = "016-387 7652") -> dict[str, str]:
        return form_data(self.session.get(self.url + "/send", timeout=10).text, phone_number)

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.url + path, allow_redirects=False, timeout=30)

    def post_send(self, data: dict[str, str], timeout: float = 60) -> requests.Response:
        return self.session.post(
            self.url + "/send", data=data, allow_redirects=False, timeout=timeout
        )


def form_data(page: str, phone_number: str = "016-387 7652") -> dict[str, str]:
    """What the send page posts when filled in (the template's words go as they are)."""
    key = KEY_RE.search(page)
    assert key, "no form key on the send page"
    return {
        "csrf_token": _csrf(page),
        "idempotency_key": key.group(1),
        "country_code": "60",
        "phone_number": phone_number,
        "reason": "Ticket 4711",
        "template": "default",
    }


def _csrf(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


@dataclass
class Cluster:
    """A PostgreSQL 15 cluster of the fault suite's own (trust authentication, its own port),
    so that stopping it disturbs nothing else; dropped at the end."""

    name: str
    port: int

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def create(self) -> None:
        self.drop()  # a cluster a killed run left behind
        _run("pg_createcluster", "15", self.name, "--port", str(self.port), "--", "--auth=trust")
        self.ctl("start")

    def ctl(self, action: str) -> None:
        """``start``, ``stop`` (fast: open connections are cut) or ``restart``."""
        mode = [] if action == "start" else ["--mode", "fast"]
        _run("pg_ctlcluster", "--skip-systemctl-redirect", *mode, "15", self.name, action)

    def drop(self) -> None:
        subprocess.run(
            ["pg_dropcluster", "--stop", "15", self.name], capture_output=True, timeout=60
        )


def _run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}{result.stderr}"

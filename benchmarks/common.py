# ruff: noqa: S603
# (a benchmark helper: it starts its own subprocesses)
"""What the benchmarks that drive the dashboard under gunicorn share (soak.py, send.py).

The dashboard served as ``make run`` serves it (gunicorn, no Alembic in the workers) on a fresh
database migrated by ``flask db upgrade``; agents created and the provider account configured
through the services; distinct valid numbers; browsers signing in from loopback addresses of
their own (the sign-in forms' rate limit counts per address, per worker); percentiles; and a
line about the machine, since machines differ 2x from one session to the next.
"""

from __future__ import annotations

import base64
import contextlib
import os
import platform
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VENV_BIN = Path(sys.executable).parent
PASSWORD = "soak benchmark pass phrase 2024"  # noqa: S105 - a throwaway database
RM_TIMEOUT_SECONDS = 10.0  # DASHBOARD_RM_TIMEOUT_SECONDS's default
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
KEY_RE = re.compile(r'id="idempotency_key" name="idempotency_key" type="hidden" value="([^"]+)"')
ATTEMPT_RE = re.compile(r"/attempts/([0-9a-f-]{36})$")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def agent_email(index: int) -> str:
    return f"agent{index:03d}@example.com"


class Numbers:
    """Distinct valid Malaysian mobile numbers, 017-1xx xxxx to 017-9xx xxxx (017-0 is
    unassigned; never a magic number)."""

    def __init__(self, rng: random.Random) -> None:
        self._next = rng.randrange(10**6, 10**7)
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            self._next = self._next + 1 if self._next + 1 < 10**7 else 10**6
            return "17" + str(self._next)


class SourceAddressAdapter(HTTPAdapter):
    """Connections from a given local address (a loopback one of the agent's own)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def loopback_address(index: int) -> str:
    """Agent ``index``'s own loopback address: 127.1.0.1, 127.1.0.2, ..."""
    return f"127.1.{index // 250}.{index % 250 + 1}"


class Unexpected(Exception):
    """An answer other than the page's: counted as a load-generator error."""


def csrf(page: str) -> str:
    match = CSRF_RE.search(page)
    if match is None:
        raise Unexpected("no CSRF token on the page")
    return match.group(1)


# --------------------------------------------------------------------------------------------
# Servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    base: str
    log_path: Path

    def workers(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                        found.append(int(entry.name))
        return sorted(found)

    def rss_mib(self) -> dict[int, float]:
        """Each worker's resident memory (from /proc/<pid>/smaps_rollup), by pid."""
        found = {}
        for pid in self.workers():
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Rss:"):
                        found[pid] = int(line.split()[1]) / 1024
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_gunicorn(
    env: dict[str, str],
    workdir: Path,
    workers: int,
    extra: Sequence[str] = (),
    log_name: str = "gunicorn.log",
) -> Gunicorn:
    """As ``make run`` serves the dashboard: sync workers (unless ``extra`` says otherwise), a
    30 s timeout, no Alembic."""
    port = free_port()
    log_path = workdir / log_name
    command = [
        str(VENV_BIN / "gunicorn"),
        "--workers",
        str(workers),
        "--timeout",
        "30",
        "--bind",
        f"127.0.0.1:{port}",
        *extra,
        "dashboard:create_app(migrations=False)",
    ]
    # The app logs each request to standard output: into the log too, not the terminal.
    with log_path.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    server = Gunicorn(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{tail(log_path)}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(server.base + "/login", timeout=2).status_code == 200:
                while len(server.workers()) < workers and time.monotonic() < deadline:
                    time.sleep(0.1)
                return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn did not start:\n{tail(log_path)}")


def tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text()[-3000:]
    return "(no log)"


def errors_in_log(path: Path) -> int:
    with contextlib.suppress(OSError):
        return sum('"level": "ERROR"' in line or "[ERROR]" in line for line in path.open())
    return 0


# --------------------------------------------------------------------------------------------
# Set-up


def settings(database_url: str, simulator_url: str, instance: Path) -> dict[str, str]:
    return {
        "DASHBOARD_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(36)).decode(),
        "DASHBOARD_ENCRYPTION_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        "DASHBOARD_AUDIT_KEY": "a1:" + base64.b64encode(os.urandom(32)).decode(),
        "DASHBOARD_DATABASE_URL": database_url,
        "DASHBOARD_INSTANCE_PATH": str(instance),
        "DASHBOARD_RM_TIMEOUT_SECONDS": str(RM_TIMEOUT_SECONDS),
        **{
            f"DASHBOARD_RM_{environment}_{part}_URL": simulator_url
            for environment in ("SANDBOX", "PRODUCTION")
            for part in ("OAUTH", "API")
        },
    }


def prepare(
    env: dict[str, str],
    agents: int,
    register: Callable[[str, str, bytes], None],
    *,
    actor: str,
    client_id: str,
    limits: dict[str, int],
) -> Any:
    """Migrate with ``flask db upgrade``; then, through the services (thirty ``flask users
    create`` would take a minute): the agents, the sandbox credentials registered with the
    simulator (``register(client_id, secret, public_key_pem)``), and the ``limits``. Returns
    the app, to count with at the end."""
    migrated = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "dashboard", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if migrated.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{migrated.stdout}{migrated.stderr}")
    os.environ.update(env)
    from dashboard import create_app
    from dashboard.extensions import db
    from dashboard.revenuemonster import keys
    from dashboard.services import limits as limits_service
    from dashboard.services import provider_accounts, users

    app = create_app(migrations=False)
    with app.app_context():
        for index in range(agents):
            users.create_user(
                agent_email(index), "support", actor, name=f"Agent {index}", password=PASSWORD
            )
        private_key = keys.generate_private_key()
        secret = secrets.token_urlsafe(24)
        register(client_id, secret, keys.public_key_pem(private_key))
        provider_accounts.configure(
            "sandbox",
            actor,
            client_id=client_id,
            client_secret=secret,
            private_key_pem=keys.private_key_pem(private_key),
        )
        limits_service.save(limits_service.Limits(**limits), actor)
        db.session.remove()
        db.engine.dispose()
    return app


@contextlib.contextmanager
def database(kind: str, workdir: Path, pg_url: str, prefix: str = "soak") -> Iterator[str]:
    """A fresh SQLite file, or a fresh PostgreSQL database dropped at the end."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'dashboard.sqlite'}"
        return
    import psycopg

    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def attempts_in(app: Any) -> dict[str, tuple[str, str, str | None]]:
    """Every attempt: public id -> (national number, status, response code)."""
    from sqlalchemy import text

    from dashboard.extensions import db

    with app.app_context():
        rows = db.session.execute(
            text("SELECT public_id, national_number, status, response_code FROM attempts")
        ).all()
        db.session.remove()
        db.engine.dispose()
    return {str(r[0]): (r[1], r[2], r[3]) for r in rows}


def in_threads(calls: list[Callable[[], None]], width: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(width) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()


# --------------------------------------------------------------------------------------------
# Report


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def machine() -> list[str]:
    """The machine and versions. The commit comes from ``git describe --dirty``, or, with
    BENCH_NO_GIT=1 (a run beside other work on the same checkout: describe refreshes the
    index), from .git/HEAD without git."""
    import gunicorn
    import sqlalchemy

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    if os.environ.get("BENCH_NO_GIT"):
        commit = _head_commit()
    else:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],  # noqa: S607
            capture_output=True,
            text=True,
        ).stdout.strip()
    return [
        f"machine: nproc {len(os.sched_getaffinity(0))}, {cpu}, RAM {mem}, {platform.platform()}",
        f"versions: Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__},"
        f" gunicorn {gunicorn.__version__}; app {commit}",
    ]


def _head_commit() -> str:
    """HEAD's commit, read from the files of .git (a branch, loose or packed)."""
    git = ROOT / ".git"
    with contextlib.suppress(OSError):
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:7]
        ref = head.removeprefix("ref: ")
        with contextlib.suppress(OSError):
            return (git / ref).read_text().strip()[:7]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:7]
    return "?"

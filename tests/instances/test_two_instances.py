"""Two instances of the dashboard on one PostgreSQL database: two gunicorn masters (separate
processes, separate ports, two sync workers each) started from docs/deploy/gunicorn.conf.py,
beside the simulator over real HTTP. Users and credentials come from the command line, the
sends and sign-ins from signed-in sessions over HTTP: nothing here reaches into a process.

What must hold whichever instance a request lands on: the limits (one lock per number, in the
database, not in a process), the one token request when every worker finds no token, the
active environment (read from the database at each send) and the audit chain (one writer at a
time across processes)."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pyotp
import pytest
import requests
from support import (
    AUDIT_KEY,
    ENCRYPTION_KEYS,
    PASSWORD,
    PG_ADMIN_URL,
    REQUIRE_POSTGRES,
    SECRET_KEY,
    csrf_token,
    postgres_available,
    sandbox_secret,
)

from dashboard.revenuemonster import keys

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
GUNICORN_CONF = ROOT / "docs" / "deploy" / "gunicorn.conf.py"
AGENTS = 8  # four on each instance
ADMIN = "boss@example.com"
KEY_RE = re.compile(r'id="idempotency_key" name="idempotency_key" type="hidden" value="([^"]+)"')
ATTEMPT_RE = re.compile(r"^/attempts/([0-9a-f-]{36})$")

#: Two gunicorn masters, a fresh database and a dozen commands before the first test.
pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]


def _bin(name: str) -> str:
    """The virtualenv's command, or the one beside this interpreter (CI may use another)."""
    found = BIN / name
    return str(found if found.exists() else Path(sys.executable).parent / name)


@dataclass
class Instance:
    name: str
    base: str
    process: subprocess.Popen
    log: Path


@dataclass
class Cluster:
    env: dict[str, str]
    workdir: Path
    database_url: str
    instances: list[Instance] = field(default_factory=list)

    def flask(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """``flask --app dashboard ARGS`` as an operator types it; fails the test on failure."""
        result = subprocess.run(
            [_bin("flask"), "--app", "dashboard", *args],
            env=self.env,
            cwd=self.workdir,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"flask {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql, params).fetchall()

    def attempt(self, public_id: str) -> tuple[str, str, str | None]:
        """``(status, environment, response_code)`` of an attempt."""
        ((row),) = self.query(
            "SELECT status, environment, response_code FROM attempts WHERE public_id = %s",
            public_id,
        )
        return row


class Session:
    """A browser of one person on one instance: cookies, CSRF tokens, forms as the pages fill
    them in."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.http = requests.Session()

    def get(self, path: str) -> requests.Response:
        response = self.http.get(self.instance.base + path, allow_redirects=False, timeout=30)
        assert response.status_code < 500, f"{self.instance.name} GET {path}: {response.text}"
        return response

    def post(self, path: str, data: dict[str, str]) -> requests.Response:
        response = self.http.post(
            self.instance.base + path, data=data, allow_redirects=False, timeout=30
        )
        assert response.status_code < 500, f"{self.instance.name} POST {path}: {response.text}"
        return response

    def sign_in(self, email: str) -> requests.Response:
        token = csrf_token(self.get("/login").text)
        return self.post("/login", {"email": email, "password": PASSWORD, "csrf_token": token})

    def send_form(self, national_number: str) -> dict[str, str]:
        """The send form as GET /send renders it, filled in for ``national_number``."""
        page = self.get("/send").text
        return {
            "csrf_token": csrf_token(page),
            "idempotency_key": KEY_RE.search(page).group(1),
            "country_code": "60",
            "phone_number": national_number,
            "reason": "Ticket 1616",
            "template": "default",
        }

    def submit_send(self, form: dict[str, str]) -> str:
        """POST the send form; the public id of the attempt it redirects to."""
        response = self.post("/send", form)
        location = response.headers.get("Location", "")
        match = ATTEMPT_RE.match(location)
        main = re.search(r"<main.*?</main>", response.text, re.S)
        problems = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main.group(0) if main else ""))
        assert response.status_code == 302 and match, (response.status_code, problems)
        return match.group(1)

    def send(self, national_number: str) -> str:
        return self.submit_send(self.send_form(national_number))

    def check_code(self, national_number: str, code: str) -> requests.Response:
        page = self.get("/check").text
        return self.post(
            "/check",
            {
                "csrf_token": csrf_token(page),
                "country_code": "60",
                "phone_number": national_number,
                "code": code,
            },
        )


def all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together by a barrier; their results, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def fresh_number() -> str:
    """A valid Malaysian mobile number (017-1xx xxxx to 017-9xx xxxx: 017-0 is unassigned)
    no other test uses, never a magic one."""
    draw = uuid.uuid4().int
    return "17" + str(1 + draw % 9) + str(draw // 9 % 10**6).zfill(6)


def inbox_count(simulator, national_number: str) -> int:
    return sum(1 for m in simulator.simulator.inbox if m["phone_number"] == national_number)


def register_client(cluster: Cluster, simulator, environment: str, client_id: str) -> None:
    """A client registered with the simulator, its credentials stored with the command line."""
    private_key = keys.generate_private_key()
    secret = sandbox_secret(client_id)
    simulator.simulator.register_client(client_id, secret, keys.public_key_pem(private_key))
    secret_file = cluster.workdir / f"{client_id}.secret"
    key_file = cluster.workdir / f"{client_id}.pem"
    secret_file.write_text(secret + "\n")
    key_file.write_bytes(keys.private_key_pem(private_key))
    cluster.flask(
        "provider",
        "configure",
        environment,
        "--client-id",
        client_id,
        "--client-secret-file",
        str(secret_file),
        "--private-key-file",
        str(key_file),
    )


def create_user(cluster: Cluster, email: str, role: str) -> None:
    cluster.flask(
        "users", "create", email, "--role", role, "--password-stdin", stdin=PASSWORD + "\n"
    )


def start_instance(cluster: Cluster, name: str) -> Instance:
    port = free_port()
    log = cluster.workdir / f"{name}.log"
    env = {**cluster.env, "DASHBOARD_INSTANCE_PATH": str(cluster.workdir / name)}
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                _bin("gunicorn"),
                "--config",
                str(GUNICORN_CONF),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
            ],
            env=env,
            cwd=cluster.workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    instance = Instance(name, f"http://127.0.0.1:{port}", process, log)
    wait_for(instance)
    return instance


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(instance: Instance) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            pytest.fail(f"{instance.name} exited:\n{instance.log.read_text()[-5000:]}")
        try:
            if requests.get(instance.base + "/login", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"{instance.name} did not answer:\n{instance.log.read_text()[-5000:]}")


def stop(instance: Instance) -> None:
    instance.process.terminate()
    try:
        instance.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        instance.process.kill()
        instance.process.wait(timeout=5)


@pytest.fixture(scope="module")
def cluster(simulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A database of its own, migrated by ``flask db upgrade``; agents, an admin and the
    sandbox and production credentials from the command line; then the two instances."""
    problem = postgres_available()
    if problem:
        message = f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {problem}"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (DASHBOARD_TEST_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("instances")
    dbname = f"dashboard_instances_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DASHBOARD_", "FLASK_", "PYTHONPATH"))
    }
    env.update(
        {
            "DASHBOARD_SECRET_KEY": SECRET_KEY,
            "DASHBOARD_ENCRYPTION_KEYS": ENCRYPTION_KEYS,
            "DASHBOARD_AUDIT_KEY": AUDIT_KEY,
            "DASHBOARD_DATABASE_URL": database_url,
            "DASHBOARD_INSTANCE_PATH": str(workdir / "cli"),
            **{
                f"DASHBOARD_RM_{environment}_{part}_URL": simulator.url
                for environment in ("SANDBOX", "PRODUCTION")
                for part in ("OAUTH", "API")
            },
        }
    )
    cluster = Cluster(env, workdir, database_url)
    try:
        cluster.flask("db", "upgrade")
        for n in range(AGENTS):
            create_user(cluster, f"agent{n}@example.com", "support")
        create_user(cluster, ADMIN, "admin")
        register_client(cluster, simulator, "sandbox", f"sandbox-{uuid.uuid4().hex[:8]}")
        register_client(cluster, simulator, "production", f"production-{uuid.uuid4().hex[:8]}")
        for name in ("one", "two"):
            cluster.instances.append(start_instance(cluster, name))
        yield cluster
    finally:
        for instance in cluster.instances:
            stop(instance)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture(scope="module")
def agents(cluster: Cluster) -> list[Session]:
    """Eight support agents, each signed in on one instance, four on each."""
    sessions = []
    for n in range(AGENTS):
        session = Session(cluster.instances[n % 2])
        response = session.sign_in(f"agent{n}@example.com")
        assert response.status_code == 302 and response.headers["Location"] == "/", response.text
        sessions.append(session)
    return sessions


@pytest.fixture(scope="module")
def admin(cluster: Cluster) -> Session:
    """The admin, signed in on instance one with two steps enrolled through the pages: the
    sign-in is fresh, so changes need no confirmation for the next ten minutes."""
    session = Session(cluster.instances[0])
    assert session.sign_in(ADMIN).headers["Location"] == "/"
    page = session.get("/account/two-step").text
    session.post("/account/two-step/start", {"csrf_token": csrf_token(page)})
    page = session.get("/account/two-step").text
    secret = re.search(r"data-two-step-secret>([A-Z2-7]+)<", page).group(1)
    answer = session.post(
        "/account/two-step", {"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)}
    )
    assert answer.status_code == 200 and "shown only now" in answer.text
    assert session.get("/admin/limits").status_code == 200
    return session


def save_limits(admin: Session, **limits: int) -> None:
    """Change the limits on the admin page (the other fields as they are)."""
    page = admin.get("/admin/limits").text
    form = {}
    for tag in re.findall(r"<input([^>]*)>", page):
        attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        if attributes.get("type") in ("number", "text", "hidden") and "name" in attributes:
            form[attributes["name"]] = html.unescape(attributes.get("value", ""))
    assert form["cooldown_seconds"] and form["allowed_regions"] and form["csrf_token"], form
    form.update({name: str(value) for name, value in limits.items()})
    response = admin.post("/admin/limits", form)
    assert response.headers.get("Location") == "/admin/limits", response.text


def test_one_token_request_when_both_instances_start_sending_at_once(
    cluster: Cluster, agents: list[Session], simulator
):
    # New credentials: any token stored so far was issued for the old ones, and is ignored.
    register_client(cluster, simulator, "sandbox", f"sandbox-{uuid.uuid4().hex[:8]}")
    tokens, sms = simulator.simulator.token_requests, simulator.simulator.sms_requests
    numbers = [fresh_number() for _ in agents]
    forms = [agent.send_form(number) for agent, number in zip(agents, numbers, strict=True)]

    public_ids = all_at_once(
        [lambda a=agent, f=form: a.submit_send(f) for agent, form in zip(agents, forms)]
    )

    assert [cluster.attempt(p)[0] for p in public_ids] == ["accepted"] * AGENTS
    assert simulator.simulator.token_requests - tokens == 1
    assert simulator.simulator.sms_requests - sms == AGENTS
    assert [inbox_count(simulator, n) for n in numbers] == [1] * AGENTS


def test_cooldown_and_caps_are_exact_across_both_instances(
    cluster: Cluster, agents: list[Session], admin: Session, simulator
):
    def race(number: str) -> list[tuple[str, str, str | None]]:
        forms = [agent.send_form(number) for agent in agents]
        public_ids = all_at_once(
            [lambda a=agent, f=form: a.submit_send(f) for agent, form in zip(agents, forms)]
        )
        return sorted(cluster.attempt(p) for p in public_ids)

    sms = simulator.simulator.sms_requests
    number = fresh_number()
    assert race(number) == sorted(
        [("accepted", "sandbox", "SUCCESS")] + [("blocked", "sandbox", "LIMIT_COOLDOWN")] * 7
    )
    assert inbox_count(simulator, number) == 1
    assert simulator.simulator.sms_requests - sms == 1

    save_limits(admin, cooldown_seconds=0, per_number_per_hour=3)
    try:
        sms = simulator.simulator.sms_requests
        number = fresh_number()
        assert race(number) == sorted(
            [("accepted", "sandbox", "SUCCESS")] * 3
            + [("blocked", "sandbox", "LIMIT_NUMBER_HOUR")] * 5
        )
        assert inbox_count(simulator, number) == 3
        assert simulator.simulator.sms_requests - sms == 3
    finally:
        save_limits(admin, cooldown_seconds=60, per_number_per_hour=5)


def test_a_switch_on_one_instance_is_seen_by_the_next_send_on_the_other(
    cluster: Cluster, agents: list[Session], admin: Session, simulator
):
    on_two = agents[1]
    assert on_two.instance is cluster.instances[1] and admin.instance is cluster.instances[0]
    # Instance two has sent through sandbox already: whatever it keeps, it has it now.
    assert cluster.attempt(on_two.send(fresh_number()))[:2] == ("accepted", "sandbox")

    page = admin.get("/admin/provider").text
    switched = admin.post(
        "/admin/provider/switch",
        {
            "csrf_token": csrf_token(page),
            "environment": "production",
            "reason": "go live",
            "confirmation": "production",
        },
    )
    assert switched.headers.get("Location") == "/admin/provider", switched.text
    try:
        number = fresh_number()
        assert cluster.attempt(on_two.send(number))[:2] == ("accepted", "production")
        (message,) = [m for m in simulator.simulator.inbox if m["phone_number"] == number]
        assert message["client_id"].startswith("production-")
    finally:
        cluster.flask("provider", "use", "sandbox", "--reason", "back to testing")
    # ...and the command line's switch back is seen by instance one.
    assert cluster.attempt(agents[0].send(fresh_number()))[:2] == ("accepted", "sandbox")


def test_the_audit_chain_stays_whole_under_events_from_both_instances(
    cluster: Cluster, agents: list[Session], simulator
):
    # Codes to check: one accepted send per agent, its code read from the simulator's inbox.
    numbers = [fresh_number() for _ in agents]
    for agent, number in zip(agents, numbers, strict=True):
        agent.send(number)
    codes = []
    for number in numbers:
        (message,) = [m for m in simulator.simulator.inbox if m["phone_number"] == number]
        codes.append(re.search(r"\b(\d{6})\b", message["message"]).group(1))
    (before,) = cluster.query("SELECT count(*) FROM audit_events")[0]
    newcomers = [Session(cluster.instances[n % 2]) for n in range(AGENTS)]

    results = all_at_once(
        [lambda s=s, n=n: s.sign_in(f"agent{n}@example.com") for n, s in enumerate(newcomers)]
        + [
            lambda a=agent, n=number, c=code: a.check_code(n, c)
            for agent, number, code in zip(agents, numbers, codes, strict=True)
        ]
    )

    assert [r.status_code for r in results[:AGENTS]] == [302] * AGENTS
    assert all("Right code." in r.text for r in results[AGENTS:])
    (after,) = cluster.query("SELECT count(*) FROM audit_events")[0]
    actions = dict(
        cluster.query(
            "SELECT action, count(*) FROM (SELECT action FROM audit_events ORDER BY id DESC"
            " LIMIT %s) recent GROUP BY action",
            after - before,
        )
    )
    assert actions == {"auth.success": AGENTS, "code.check": AGENTS}
    verified = cluster.flask("audit", "verify")
    assert f"{after} events checked" in verified.stdout, verified.stdout

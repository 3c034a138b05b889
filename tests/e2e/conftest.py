"""Browser tests: Debian's Chromium driven by Playwright against the dashboard served by a real
gunicorn process on a free loopback port, with the simulator as RevenueMonster.

Every page a test opens is watched: a request to another origin, a console error or a CSP
violation fails the test.

All tests share one server, one database and one client address (127.0.0.1): a test that locks
an account uses accounts of its own (the server locks accounts, and an address only for the
accounts it failed on, so other tests still sign in from there).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pyotp
import pytest
import requests
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from support import CHROMIUM, CHROMIUM_FLAGS, PASSWORD, base_config, migrate

from dashboard import create_app
from dashboard.domain import messages
from dashboard.revenuemonster import keys
from dashboard.revenuemonster.testing.simulator import Simulator
from dashboard.services import provider_accounts, sending, users

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class LiveServer:
    url: str
    accounts: dict[str, str]  # role -> email, all with PASSWORD; the admin has two-step on
    app: Flask  # on the server's database, in this process
    workdir: Path  # gunicorn.log, access.log

    def served_by(self, request_line: str) -> list[str]:
        """The worker that served each request whose line (``POST /send HTTP/1.1``) matches
        the regular expression, in order: its pid as gunicorn's access log writes it
        (``<12345>``)."""
        served = []
        for line in (self.workdir / "access.log").read_text().splitlines():
            pid, _, rest = line.partition(" ")
            if re.match(request_line, rest):
                served.append(pid)
        return served

    def create_user(self, role: str) -> str:
        """A new account of ``role`` with PASSWORD and no two-step, for one test; its email."""
        email = f"{role}-{uuid.uuid4().hex[:8]}@e2e.example.com"
        with self.app.app_context():
            users.create_user(
                email, role, "test", name=f"E2E New {role.title()}", password=PASSWORD
            )
        return email

    def send(self, email: str, phone_number: str, country_code: str = "60") -> str:
        """Send a code as ``email`` in this process (set-up for a test that is not about
        sending); the attempt's public id."""
        with self.app.app_context():
            user = users.find_by_email(email)
            assert user is not None, email
            request = sending.SendRequest(
                country_code=country_code,
                phone_number=phone_number,
                reason="E2E set-up",
                template=messages.DEFAULT_TEMPLATE,
                idempotency_key=str(uuid.uuid4()),
            )
            return sending.send_verification_code(user, request, client_ip=None).public_id


class Authenticator:
    """The authenticator app of everyone the tests enrolled in two-step sign-in.

    The server accepts the previous, the current and the next 30-second step, but each step only
    once per account (no replay): so it remembers the last step it gave out for each account, and
    waits for the clock when the steps the server would accept are used up."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.last_step: dict[str, int] = {}

    def add(self, email: str, secret: str) -> None:
        self.secrets[email] = secret

    def code(self, email: str) -> str:
        totp = pyotp.TOTP(self.secrets[email])
        while True:
            now = time.time()
            current, elapsed = divmod(now, totp.interval)
            left = totp.interval - elapsed
            # The previous step only while it surely stays in the server's window.
            steps = ([int(current) - 1] if left > 10 else []) + [int(current), int(current) + 1]
            unused = [step for step in steps if step > self.last_step.get(email, -1)]
            if unused:
                self.last_step[email] = unused[0]
                return totp.generate_otp(unused[0])
            time.sleep(left + 0.1)

    def last_code(self, email: str) -> str:
        """The code given out last (the server must refuse it now)."""
        return pyotp.TOTP(self.secrets[email]).generate_otp(self.last_step[email])


AUTHENTICATOR = Authenticator()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, simulator, private_key) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("e2e")
    config = base_config(f"sqlite:///{workdir / 'e2e.sqlite'}", simulator.url, workdir / "instance")
    migrate(str(config["DATABASE_URL"]), workdir)
    app = create_app(config)
    accounts = seed(app, simulator.simulator, private_key)
    with serve(config, workdir) as url:
        yield LiveServer(url, accounts, app, workdir)


@contextmanager
def serve(config: dict[str, object], workdir: Path, workers: int = 2) -> Iterator[str]:
    """The dashboard with ``config`` under gunicorn (``workers`` processes) on a free loopback
    port, until the block ends; its URL. gunicorn's output goes to ``workdir/gunicorn.log``, and
    its access log, one ``<worker pid> <request line> <status>`` a request, to
    ``workdir/access.log`` (see `LiveServer.served_by`)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHBOARD_")}
    env.update({f"DASHBOARD_{k}": str(v) for k, v in config.items() if k != "INSTANCE_PATH"})
    env["DASHBOARD_INSTANCE_PATH"] = str(config["INSTANCE_PATH"])
    log_path = workdir / "gunicorn.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--timeout",
                "30",
                "--bind",
                f"127.0.0.1:{port}",
                "--access-logfile",
                str(workdir / "access.log"),
                "--access-logformat",
                "%(p)s %(r)s %(s)s",
                "dashboard:create_app(migrations=False)",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, server, log_path)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=10)


def seed(
    app: Flask, simulator: Simulator, private_key, domain: str = "e2e.example.com"
) -> dict[str, str]:
    """Users of every role at ``domain`` (the admin enrolled in two-step sign-in, which admins
    need), and the sandbox registered with the simulator. Another server's accounts need
    another domain: the authenticator knows each address once."""
    accounts = {role: f"{role}@{domain}" for role in ("support", "auditor", "admin")}
    with app.app_context():
        for role, email in accounts.items():
            user, _ = users.create_user(
                email, role, "test", name=f"E2E {role.title()}", password=PASSWORD
            )
            if role == "admin":
                AUTHENTICATOR.add(email, users.begin_two_step(user))
                users.confirm_two_step(user, AUTHENTICATOR.code(email))
    configure_environment(app, "sandbox", simulator, private_key)
    return accounts


def configure_environment(app: Flask, environment: str, simulator: Simulator, private_key) -> str:
    """Register a new client with ``simulator`` (as RevenueMonster's merchant portal would)
    and store its credentials as ``environment``'s; the client ID."""
    client_id = f"e2e-{environment}-{uuid.uuid4().hex[:8]}"
    secret = uuid.uuid4().hex
    simulator.register_client(client_id, secret, keys.public_key_pem(private_key))
    with app.app_context():
        provider_accounts.configure(
            environment,
            "test",
            client_id=client_id,
            client_secret=secret,
            private_key_pem=keys.private_key_pem(private_key),
        )
    return client_id


def wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the dashboard server exited:\n{log.read_text()}")
        try:
            if requests.get(url + "/healthz", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or its workers still starting
        time.sleep(0.2)
    pytest.fail(f"the dashboard server did not start:\n{log.read_text()}")


def shared_conftest(config: pytest.Config) -> ModuleType:
    """tests/conftest.py (whose fixtures these tests use too): ``conftest`` means this file to
    the e2e tests, so it is found among pytest's plugins."""
    path = ROOT / "tests" / "conftest.py"
    for plugin in config.pluginmanager.get_plugins():
        file = getattr(plugin, "__file__", None)
        if file is not None and Path(file).resolve() == path:
            return plugin
    raise LookupError(f"{path} is not loaded")


@pytest.fixture
def postgres_database(request: pytest.FixtureRequest, tmp_path_factory):
    """A migrated PostgreSQL database of this test's own (tests/conftest.py's
    PostgresDatabase), dropped afterwards. PostgreSQL unreachable skips the test, or fails it
    when DASHBOARD_TEST_REQUIRE_POSTGRES=1."""
    shared = shared_conftest(request.config)
    problem = shared.postgres_available()
    if problem:
        message = f"PostgreSQL at {shared.PG_ADMIN_URL} is unreachable: {problem}"
        if shared.REQUIRE_POSTGRES:
            pytest.fail(message + " (DASHBOARD_TEST_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    database = shared.PostgresDatabase(tmp_path_factory.mktemp("e2e-postgresql"))
    yield database
    database.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run "
            "'apt-get update && apt-get install -y chromium' (make test does this as root)."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@dataclass
class PageWatch:
    """What a page did that it must not: reach another origin, log an error, break the CSP."""

    origin: str
    allow_error_status: bool = False  # a page that answers 403/404 on purpose
    foreign_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def on_request(self, request) -> None:  # type: ignore[no-untyped-def]
        url = request.url
        if urlsplit(url).scheme in ("http", "https") and not url.startswith(self.origin + "/"):
            self.foreign_requests.append(url)

    def on_console(self, message: ConsoleMessage) -> None:
        text = message.text
        if self.allow_error_status and "server responded with a status of 4" in text:
            return  # Chromium reports the page's own 403/404 status as a console error
        if message.type == "error" or "Content Security Policy" in text:
            self.console_errors.append(text)

    def on_page_error(self, error) -> None:  # type: ignore[no-untyped-def]
        self.console_errors.append(str(error))


@pytest.fixture
def watched(browser: Browser, live_server: LiveServer):
    """Open watched pages; the test fails if any of them misbehaved."""
    contexts = []
    watches: list[PageWatch] = []

    def open_page(
        viewport: dict[str, int] = DESKTOP,
        allow_error_status: bool = False,
        server: LiveServer | None = None,  # another server than the shared one
        timezone_id: str | None = None,  # the browser's zone, e.g. "Asia/Kuala_Lumpur"
        color_scheme: str | None = None,  # "light" or "dark", as the system prefers
    ) -> Page:
        url = (server or live_server).url
        context = browser.new_context(
            base_url=url, viewport=viewport, timezone_id=timezone_id, color_scheme=color_scheme
        )
        contexts.append(context)
        watch = PageWatch(url, allow_error_status)
        watches.append(watch)
        page = context.new_page()
        page.on("request", watch.on_request)
        page.on("console", watch.on_console)
        page.on("pageerror", watch.on_page_error)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert [url for w in watches for url in w.foreign_requests] == [], "requests to other origins"
    assert [e for w in watches for e in w.console_errors] == [], "console errors or CSP violations"


SIGN_IN_PAGES = re.compile(r"/login(/two-step)?(\?.*)?$")


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the pages, answering the second step from the authenticator when asked."""
    page.goto("/login")
    submit_sign_in(page, email, password)
    if urlsplit(page.url).path == "/login/two-step":
        page.get_by_label("Code").fill(AUTHENTICATOR.code(email))
        with page.expect_navigation():
            page.get_by_role("button", name="Verify").click()
    expect(page).not_to_have_url(SIGN_IN_PAGES)


def submit_sign_in(page: Page, email: str, password: str) -> None:
    """Fill and send the sign-in form of the page, and wait for the answer."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()


def screenshot(page: Page, name: str) -> None:
    """Keep a picture of the page, in light and in dark (git-ignored; `make screenshots`
    copies the README's ones)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.evaluate("document.documentElement.getAttribute('data-bs-theme')")
    for theme in ("light", "dark"):
        page.evaluate(f"document.documentElement.setAttribute('data-bs-theme', '{theme}')")
        page.wait_for_timeout(400)  # let Bootstrap's colour transitions finish
        page.screenshot(path=SCREENSHOTS / f"{name}-{theme}.png", full_page=True)
    page.evaluate(f"document.documentElement.setAttribute('data-bs-theme', '{original}')")

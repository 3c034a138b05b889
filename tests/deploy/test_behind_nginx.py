"""README › Deploying to production, as written: the installed wheel on PostgreSQL, started by
the command of docs/deploy/rm-sms-dashboard.service with docs/deploy/gunicorn.conf.py, behind
Debian's nginx with docs/deploy/nginx-site.conf, and Chromium over https.

The browser reaches nginx over IPv6 loopback (::1) and nginx reaches gunicorn over IPv4
(127.0.0.1), so the address the dashboard records tells the client from the proxy. The
certificates come from a throwaway certificate authority made here; Chromium trusts exactly its
server key, the dashboard reaches the simulator (served over TLS too) through
REQUESTS_CA_BUNDLE."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import re
import shlex
import signal
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pyotp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from deploying import (
    DEPLOY,
    clean_environment,
    free_port,
    production_settings,
    stop,
)
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy.engine import make_url
from support import CHROMIUM, CHROMIUM_FLAGS

from dashboard.revenuemonster import keys
from dashboard.revenuemonster.testing.serving import serve_in_thread
from dashboard.revenuemonster.testing.simulator import Simulator

HOST = "dashboard.test"
PASSWORD = "a long pass phrase for the deploy test"
PG_ADMIN_URL = os.environ.get(
    "DASHBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

#: The first deployment test builds and installs the wheel; the browser journey waits out
#: the one-minute fresh sign-in window.
pytestmark = pytest.mark.timeout(300)


# --- a throwaway certificate authority --------------------------------------------------------


@dataclass
class Certificates:
    ca: Path  # the authority's certificate (REQUESTS_CA_BUNDLE)
    dashboard: tuple[Path, Path]  # certificate, key for HOST (nginx)
    simulator: tuple[Path, Path]  # certificate, key for 127.0.0.1 (the simulator)
    dashboard_spki: str  # base64 SHA-256 of the dashboard key's SubjectPublicKeyInfo


def make_certificates(folder: Path) -> Certificates:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rm-sms-dashboard test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = folder / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    def leaf(name: str, alt: x509.GeneralName) -> tuple[tuple[Path, Path], str]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return (cert_path, key_path), base64.b64encode(hashlib.sha256(spki).digest()).decode()

    dashboard, spki = leaf(HOST, x509.DNSName(HOST))
    simulator, _ = leaf("127.0.0.1", x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    return Certificates(ca_path, dashboard, simulator, spki)


# --- the parts of the deployment -------------------------------------------------------------


def substituted(text: str, replacements: list[tuple[str, str, int]]) -> str:
    """``text`` with each ``(old, new, times)`` replaced exactly ``times`` times: a deploy file
    that no longer has the shape this test expects fails it rather than passing untested."""
    for old, new, times in replacements:
        assert text.count(old) == times, f"{old!r} appears {text.count(old)} times, not {times}"
        text = text.replace(old, new)
    return text


def unit_command(venv: Path, gunicorn_conf: Path) -> list[str]:
    """The ExecStart of docs/deploy/rm-sms-dashboard.service, with its paths on this machine."""
    unit = (DEPLOY / "rm-sms-dashboard.service").read_text()
    (line,) = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    command = substituted(
        line.removeprefix("ExecStart="),
        [
            ("/opt/rm-sms-dashboard", str(venv), 1),
            ("/etc/rm-sms-dashboard/gunicorn.conf.py", str(gunicorn_conf), 1),
        ],
    )
    assert "EnvironmentFile=/etc/rm-sms-dashboard/env" in unit
    return shlex.split(command)


def nginx_config(folder: Path, certificates: Certificates, https: int, http: int, upstream: int):
    """nginx's main file for a run in ``folder``, including the site file of docs/deploy."""
    site = substituted(
        (DEPLOY / "nginx-site.conf").read_text(),
        [
            ("server_name sms.example.com;", f"server_name {HOST};", 2),
            ("https://sms.example.com$request_uri", f"https://{HOST}:{https}$request_uri", 1),
            ("listen 443 ssl", f"listen 127.0.0.1:{https} ssl", 2),
            ("listen [::]:443 ssl", f"listen [::1]:{https} ssl", 2),
            ("listen 80;", f"listen 127.0.0.1:{http};", 1),
            ("listen [::]:80;", f"listen [::1]:{http};", 1),
            ("/etc/ssl/certs/sms.example.com.pem", str(certificates.dashboard[0]), 1),
            ("/etc/ssl/private/sms.example.com.key", str(certificates.dashboard[1]), 1),
            ("http://127.0.0.1:8000", f"http://127.0.0.1:{upstream}", 1),
        ],
    )
    # ssl_reject_handshake needs a certificate to exist in that server block's context
    (folder / "site.conf").write_text(site)
    temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    user = "user root root;\n" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\n"
        f"error_log {folder}/error.log info;\nevents {{}}\n"
        "http {\n"
        "  include /etc/nginx/mime.types;\n"
        f"  access_log {folder}/access.log;\n"
        f"  client_body_temp_path {temp['body']};\n  proxy_temp_path {temp['proxy']};\n"
        f"  fastcgi_temp_path {temp['fastcgi']};\n  uwsgi_temp_path {temp['uwsgi']};\n"
        f"  scgi_temp_path {temp['scgi']};\n"
        f"  include {folder}/site.conf;\n"
        "}\n"
    )
    return folder / "nginx.conf"


def wait_for_port(host: str, port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited:\n{log.read_text()}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nothing listens on {host}:{port}:\n{log.read_text()}")


@dataclass
class Deployment:
    url: str  # https://dashboard.test:PORT/
    database_url: str
    spki: str
    https_port: int
    http_port: int
    ca: Path
    accounts: dict[str, str]
    nginx_log: Path

    def query(self, sql: str, *params) -> list[tuple]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql, params).fetchall()


@dataclass(frozen=True)
class Database:
    """README › Deploying, step 2: a database and the roles of docs/deploy/postgresql-roles.sql
    (suffixed, so that runs side by side do not share them)."""

    owner_url: str  # runs the migrations
    app_url: str  # what the dashboard connects as: it may only read and append to the audit log
    grant: Callable[[], None]  # runs the roles file again, as after every upgrade


@pytest.fixture
def postgres_url() -> Iterator[Database]:
    suffix = uuid.uuid4().hex[:12]
    name, owner, app_role = (
        f"dashboard_deploy_{suffix}",
        f"dashboard_owner_{suffix}",
        f"dashboard_app_{suffix}",
    )
    roles = (DEPLOY / "postgresql-roles.sql").read_text()
    roles = roles.replace("dashboard_owner", owner).replace("dashboard_app", app_role)
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {error}")

    def grant() -> None:
        with psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
            conn.execute(roles)

    try:
        grant()
        url = make_url(PG_ADMIN_URL).set(database=name)
        yield Database(
            url.set(username=owner).render_as_string(hide_password=False),
            url.set(username=app_role).render_as_string(hide_password=False),
            grant,
        )
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for role in (app_role, owner):
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture
def deployment(installed, nginx, postgres_url, serve_gunicorn, tmp_path) -> Iterator[Deployment]:
    certificates = make_certificates(tmp_path)

    # RevenueMonster, over TLS as production requires.
    simulator = Simulator()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*certificates.simulator)
    rm_server, rm_url = serve_in_thread(simulator, ssl_context=tls)

    # The operator's settings (what /etc/rm-sms-dashboard/env would hold).
    env = clean_environment(
        **production_settings(
            postgres_url.app_url,
            HOST,
            PROXY_COUNT="1",
            FRESH_SIGN_IN_MINUTES="1",
            **{
                f"RM_{e}_{p}_URL": rm_url
                for e in ("SANDBOX", "PRODUCTION")
                for p in ("OAUTH", "API")
            },
        ),
        REQUESTS_CA_BUNDLE=str(certificates.ca),
    )
    work = tmp_path / "srv"
    work.mkdir()

    # README › Deploying to production, command by command: the owner migrates, the roles file
    # grants the app what the tables need, and everything else runs as the app's role.
    installed.flask(
        "db", "upgrade", env={**env, "DASHBOARD_DATABASE_URL": postgres_url.owner_url}, cwd=work
    )
    postgres_url.grant()
    accounts = {"admin": "ops@example.com", "support": "agent@example.com"}
    for role, email in accounts.items():
        installed.flask(
            "users",
            "create",
            email,
            "--role",
            role,
            "--password-stdin",
            env=env,
            cwd=work,
            stdin=PASSWORD + "\n",
        )
    private_key = keys.generate_private_key()
    key_file = tmp_path / "private.pem"
    key_file.write_bytes(keys.private_key_pem(private_key))
    for environment in ("sandbox", "production"):
        client_id, secret = f"deploy-{environment}", uuid.uuid4().hex
        simulator.register_client(client_id, secret, keys.public_key_pem(private_key))
        secret_file = tmp_path / f"{environment}-secret.txt"
        secret_file.write_text(secret + "\n")
        installed.configure_provider(
            environment, client_id, secret_file, key_file, env=env, cwd=work
        )

    # gunicorn as the systemd unit starts it, on a port of this run's own.
    upstream = free_port()
    command = unit_command(installed.venv, DEPLOY / "gunicorn.conf.py")
    serve_gunicorn(
        [*command[1:], "--bind", f"127.0.0.1:{upstream}", "--workers", "2"],
        env,
        work,
        f"http://127.0.0.1:{upstream}/healthz",
    )

    # nginx with the site file.
    https_port, http_port = free_port("::1"), free_port("::1")
    folder = tmp_path / "nginx"
    folder.mkdir()
    config = nginx_config(folder, certificates, https_port, http_port, upstream)
    checked = subprocess.run(
        [nginx, "-t", "-c", str(config), "-p", str(folder)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    log = folder / "nginx.out"
    with log.open("w") as out:
        proxy = subprocess.Popen(
            [nginx, "-c", str(config), "-p", str(folder)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port("::1", https_port, proxy, log)
        yield Deployment(
            f"https://{HOST}:{https_port}",
            postgres_url.app_url,
            certificates.dashboard_spki,
            https_port,
            http_port,
            certificates.ca,
            accounts,
            folder / "error.log",
        )
    finally:
        proxy.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        try:
            proxy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop(proxy)
        rm_server.shutdown()


@pytest.fixture
def chromium(deployment: Deployment):
    """Debian's Chromium that resolves HOST to ::1 and trusts exactly the dashboard's key."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: 'make browser' installs it.")
    flags = [
        *CHROMIUM_FLAGS,
        f"--host-resolver-rules=MAP {HOST} [::1]",
        f"--ignore-certificate-errors-spki-list={deployment.spki}",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        yield browser
        browser.close()


# --- the journey ------------------------------------------------------------------------------


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def enrol_two_step(page: Page) -> pyotp.TOTP:
    """Admins must sign in with two steps: set it up as a new admin does, from the page's key."""
    expect(page).to_have_url(re.compile(r"/account/two-step$"))
    page.get_by_role("button", name="Start the set-up").click()
    totp = pyotp.TOTP(page.locator("[data-two-step-secret]").inner_text().strip())
    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    return totp


def next_code(totp: pyotp.TOTP, used: set[str]) -> str:
    """A code not given before (the dashboard refuses a code twice)."""
    while (code := totp.now()) in used:
        time.sleep(1)
    used.add(code)
    return code


def ask(deployment: Deployment, host: str, *, sni: str | None = HOST, tls: bool = True) -> bytes:
    """A GET / for ``host`` sent to nginx over ::1 as a client that names ``sni`` would send
    it (plain HTTP when not ``tls``); what came back before nginx closed the connection."""
    raw = socket.create_connection(("::1", deployment.https_port if tls else deployment.http_port))
    if tls:
        context = ssl.create_default_context(cafile=str(deployment.ca))
        context.check_hostname = sni == HOST
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        raw = context.wrap_socket(raw, server_hostname=sni)
    with raw:
        raw.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
        return answer


def test_nginx_answers_only_its_own_host_name(deployment):
    own = f"{HOST}:{deployment.https_port}"
    assert ask(deployment, own).startswith(b"HTTP/1.1 302 ")  # over TLS 1.3, to the sign-in
    assert b"\r\nStrict-Transport-Security: max-age=" in ask(deployment, own)
    assert ask(deployment, "evil.example.net") == b""  # no answer at all, no nginx page
    with pytest.raises(ssl.SSLError):
        ask(deployment, "evil.example.net", sni="evil.example.net")
    redirect = ask(deployment, "evil.example.net", tls=False)
    assert redirect.startswith(b"HTTP/1.1 301 ")
    assert f"\r\nLocation: https://{own}/\r\n".encode() in redirect
    assert b"nginx/" not in redirect  # no version


def test_sign_in_send_switch_and_sign_out_over_https_behind_nginx(deployment, chromium):
    admin_context = chromium.new_context(base_url=deployment.url)
    admin = admin_context.new_page()
    sign_in(admin, deployment.accounts["admin"])
    signed_in_at = time.monotonic()
    totp = enrol_two_step(admin)
    used = {totp.now()}
    expect(admin.get_by_role("button", name="Sign out")).to_be_visible()

    # A support agent sends a code.
    agent_context = chromium.new_context(base_url=deployment.url)
    agent = agent_context.new_page()
    sign_in(agent, deployment.accounts["support"])
    expect(agent).not_to_have_url(re.compile(r"/login"))
    agent.get_by_role("navigation", name="Main").get_by_role("link", name="Send code").click()
    agent.get_by_label("Phone number").fill("123456789")
    agent.get_by_label("Reason").fill("Deploy check, ticket 1")
    agent.get_by_role("button", name="Send code").click()
    expect(agent.get_by_role("heading", level=1)).to_have_text(
        re.compile(r"^Send to .*: Accepted$")
    )

    # The session cookie is bound to this host over HTTPS.
    for context in (admin_context, agent_context):
        (cookie,) = [c for c in context.cookies() if c["name"].endswith("session")]
        assert cookie["name"] == "__Host-session"
        assert cookie["secure"] and cookie["httpOnly"] and cookie["path"] == "/"
        assert cookie["domain"] == HOST  # a host-only cookie: no Domain attribute

    # What nginx forwarded (the browser's ::1), not nginx's own 127.0.0.1.
    assert deployment.query("SELECT status, client_ip FROM attempts") == [("accepted", "::1")]
    addresses = deployment.query(
        "SELECT DISTINCT ip FROM audit_events WHERE action = 'auth.success'"
    )
    assert addresses == [("::1",)]

    # After the fresh sign-in window (DASHBOARD_FRESH_SIGN_IN_MINUTES=1), switching to
    # production asks the admin to confirm, then brings them back to the provider page.
    time.sleep(max(0, signed_in_at + 62 - time.monotonic()))
    admin.goto("/admin/provider")

    def switch() -> None:
        admin.get_by_label("Environment", exact=True).select_option(label="Production")
        admin.get_by_label("Reason").fill("Go-live, change CHG-1")
        admin.get_by_label("Type production to confirm").fill("production")
        admin.get_by_role("button", name="Switch environment").click()

    switch()
    expect(admin).to_have_url(re.compile(r"/account/confirm\?"))
    expect(admin.get_by_text("To switch the environment, confirm it is you")).to_be_visible()
    admin.get_by_label("Password").fill(PASSWORD)
    admin.get_by_label("Code").fill(next_code(totp, used))
    admin.get_by_role("button", name="Confirm").click()
    expect(admin).to_have_url(f"{deployment.url}/admin/provider")
    assert deployment.query(
        "SELECT count(*) FROM audit_events WHERE action = 'provider.switch'"
    ) == [(0,)]
    switch()
    expect(admin.get_by_text("Sends now go through production (was sandbox).")).to_be_visible()
    assert deployment.query("SELECT ip FROM audit_events WHERE action = 'provider.switch'") == [
        ("::1",)
    ]

    # Signing out ends both sessions.
    for page in (admin, agent):
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login"))
        page.goto("/send")
        expect(page).to_have_url(re.compile(r"/login"))
    assert "[error]" not in deployment.nginx_log.read_text()
    admin_context.close()
    agent_context.close()

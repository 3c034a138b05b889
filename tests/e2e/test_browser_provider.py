"""The provider page in a real browser: an admin sets up production (generates a key pair, hands
its public key to RevenueMonster, saves the client ID and secret, tests the connection),
switches to production with a typed confirmation, and back; and, on a server of its own with
two gunicorn workers on PostgreSQL, every send after the switch reaches the production URL,
whichever worker serves it.

The simulator plays RevenueMonster's merchant portal too: registering a client there is
``register_client``. On the shared server both environments' URLs lead to the session's
simulator, so the client ID in its inbox tells which credentials a send used. The journey sends
to ``+60 12-345 24xx`` only: other tests' numbers have limits and history rows of their own.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from conftest import LiveServer, configure_environment, screenshot, seed, serve, sign_in
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import delete, func, select
from support import PASSWORD, base_config, csrf_token
from test_sending import mobile, shown

from dashboard import create_app
from dashboard.database import write_transaction
from dashboard.domain import messages
from dashboard.extensions import db
from dashboard.models import Attempt, AuditEvent, ProviderAccount, ProviderToken
from dashboard.revenuemonster import keys
from dashboard.revenuemonster.testing.serving import serve_in_thread
from dashboard.revenuemonster.testing.simulator import Simulator
from dashboard.services import audit, environments, provider_accounts

SANDBOX_BANNER = "Sandbox environment: RevenueMonster's test system. No real SMS is delivered."
PRODUCTION_BANNER = "Production environment: codes go to real phones and cost money."
RED = "rgb(176, 42, 55)"  # .env-production
AMBER = "rgb(255, 193, 7)"  # .env-sandbox


def banner(page: Page) -> Locator:
    """The environment banner every page opens with."""
    return page.get_by_role("status").first


def card(page: Page, environment: str) -> Locator:
    """The section of one environment ("Sandbox", "Production")."""
    return page.get_by_role("region", name=re.compile(rf"^{environment}\b"))


def open_provider(page: Page, server: LiveServer) -> None:
    sign_in(page, server.accounts["admin"])
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Admin", exact=True
    ).click()
    page.get_by_role("link", name="Provider", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/provider$"))
    expect(page.get_by_role("heading", name=re.compile("^Active environment"))).to_be_visible()


def switch_to(page: Page, environment: str, reason: str, confirmation: str = "") -> None:
    """Fill and send the switch form."""
    page.get_by_label("Environment", exact=True).select_option(label=environment)
    page.get_by_label("Reason").fill(reason)
    page.get_by_label("Type production to confirm").fill(confirmation)
    page.get_by_role("button", name="Switch environment").click()


def fingerprint_of(public_key: RSAPublicKey) -> str:
    """``SHA256:`` and the unpadded base64 of the SHA-256 of the DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def version_of(environment: str) -> int | None:
    """The version of an environment's stored credentials (None: none stored)."""
    row = provider_accounts.account(environment)
    return row.version if row is not None else None


@pytest.fixture
def restore_provider(live_server) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The shared server back in sandbox afterwards, however the test ends, and production's
    credentials gone again if it had none (the sandbox ones are never touched)."""
    with live_server.app.app_context():
        assert environments.active_environment() == "sandbox"
        had_production = version_of("production") is not None
        sandbox_version = version_of("sandbox")
    yield
    with live_server.app.app_context():
        if environments.active_environment() != "sandbox":
            environments.use_environment("sandbox", "e2e tests", reason="e2e clean-up")
        if not had_production:
            with write_transaction(audit.CHAIN_LOCK, "provider:production"):
                db.session.execute(
                    delete(ProviderToken).where(ProviderToken.environment == "production")
                )
                db.session.execute(
                    delete(ProviderAccount).where(ProviderAccount.environment == "production")
                )
        assert version_of("sandbox") == sandbox_version


def test_an_admin_sets_up_production_switches_to_it_and_back(
    watched, live_server, simulator, restore_provider
):
    national = "12-345 2401"
    with live_server.app.app_context():
        audited_before = db.session.scalar(select(func.max(AuditEvent.id)))
    page = watched()
    open_provider(page, live_server)
    expect(banner(page)).to_have_text(SANDBOX_BANNER)
    expect(page.locator("[data-active-environment]")).to_have_text("Sandbox")
    production = card(page, "Production")
    sandbox_fingerprint = card(page, "Sandbox").locator("[data-fingerprint]").inner_text()

    # A key pair made here; the public key is shown, to be copied into the merchant portal.
    production.get_by_role("button", name="Generate a key pair for production").click()
    expect(page.get_by_role("alert")).to_contain_text("A new key pair is stored for production:")
    production.get_by_text("Public key to register with RevenueMonster").click()
    shown_pem = production.locator("[data-public-key]")
    expect(shown_pem).to_be_visible()
    expect(shown_pem).to_contain_text("-----BEGIN PUBLIC KEY-----")
    pem = shown_pem.inner_text().strip() + "\n"
    public_key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public_key, RSAPublicKey)
    assert public_key.key_size == 2048
    expect(production.locator("[data-fingerprint]")).to_have_text(fingerprint_of(public_key))
    assert card(page, "Sandbox").locator("[data-fingerprint]").inner_text() == sandbox_fingerprint
    assert "PRIVATE KEY" not in page.content()

    # The same key, downloaded.
    with page.expect_download() as download_info:
        production.get_by_role("link", name="Download the public key of production").click()
    download = download_info.value
    assert download.suggested_filename == "revenuemonster-production-public.pem"
    downloaded = Path(download.path()).read_bytes()
    assert serialization.load_pem_public_key(downloaded).public_numbers() == (
        public_key.public_numbers()
    )
    assert downloaded.strip() == pem.strip().encode()

    # RevenueMonster's merchant portal registers the key and gives a client ID and secret.
    client_id = f"e2e-production-{uuid.uuid4().hex[:8]}"
    secret = f"prod-secret-{uuid.uuid4().hex}"
    simulator.simulator.register_client(client_id, secret, pem)

    # The credentials form is folded away under the status until asked for.
    expect(production.get_by_label("Client ID")).to_be_hidden()
    production.get_by_text("Change the production credentials").click()
    production.get_by_label("Client ID").fill(client_id)
    production.get_by_label("Client secret").fill(secret)
    production.get_by_role("button", name="Save credentials").click()
    expect(page.get_by_role("alert")).to_have_text("Production credentials saved.")
    expect(production).to_contain_text(client_id)
    expect(production).to_contain_text("set (hidden)")
    expect(production.get_by_role("heading", level=2)).to_contain_text("ready")
    expect(production.get_by_label("Client secret")).to_have_value("")  # write-only
    assert secret not in page.content()

    production.get_by_role("button", name="Test connection to production").click()
    expect(page.get_by_role("alert")).to_contain_text("Connected to production: token valid until")
    expect(production.get_by_text(re.compile("^Token: valid until"))).to_be_visible()
    screenshot(page, "admin-provider")

    # Production needs the word typed: without it, nothing changes and the field says why.
    switch_to(page, "Production", "Go-live, change CHG-2401")
    confirmation = page.get_by_label("Type production to confirm")
    expect(confirmation).to_have_attribute("aria-invalid", "true")
    expect(confirmation).to_have_accessible_description(
        re.compile("Type production to switch to production.")
    )
    expect(banner(page)).to_have_text(SANDBOX_BANNER)
    expect(page.locator("[data-active-environment]")).to_have_text("Sandbox")
    expect(page.get_by_label("Reason")).to_have_value("Go-live, change CHG-2401")

    confirmation.fill("production")
    page.get_by_role("button", name="Switch environment").click()
    expect(page.get_by_role("alert")).to_have_text("Sends now go through production (was sandbox).")
    expect(banner(page)).to_have_text(PRODUCTION_BANNER)
    expect(banner(page)).to_have_css("background-color", RED)
    expect(page.locator("[data-active-environment]")).to_have_text("Production")

    # A support agent's send now goes through production, with its credentials.
    agent = watched()
    sign_in(agent, live_server.create_user("support"))
    agent.get_by_role("navigation", name="Main").get_by_role("link", name="Send code").click()
    expect(banner(agent)).to_have_text(PRODUCTION_BANNER)
    screenshot(agent, "production-banner")
    agent.get_by_label("Phone number").fill(national)
    agent.get_by_label("Reason").fill("Ticket 2401")
    agent.get_by_role("button", name="Send code").click()
    expect(agent.get_by_role("heading", level=1)).to_have_text(
        f"Send to {shown(national)}: Accepted"
    )
    digits = mobile(national).removeprefix("+60")
    assert [m["client_id"] for m in simulator.simulator.inbox if m["phone_number"] == digits] == [
        client_id
    ]
    agent.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    agent.get_by_label("Search").fill("2401")
    agent.get_by_role("button", name="Find").click()
    row = agent.get_by_role("row").filter(has_text=shown(national))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("production")

    # Back to sandbox: no word to type.
    page.reload()
    switch_to(page, "Sandbox", "Go-live postponed")
    expect(page.get_by_role("alert")).to_have_text("Sends now go through sandbox (was production).")
    expect(banner(page)).to_have_text(SANDBOX_BANNER)
    expect(banner(page)).to_have_css("background-color", AMBER)
    expect(page.locator("[data-active-environment]")).to_have_text("Sandbox")
    agent.reload()
    expect(banner(agent)).to_have_text(SANDBOX_BANNER)

    # Both switches are on record, with who, why, and from what to what; the refused one is not.
    with live_server.app.app_context():
        switches = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "provider.switch", AuditEvent.id > audited_before)
            .order_by(AuditEvent.id)
        ).all()
    assert [
        (e.actor_label, e.target, e.details["old"], e.details["new"], e.details["reason"])
        for e in switches
    ] == [
        (
            live_server.accounts["admin"],
            "production",
            "sandbox",
            "production",
            "Go-live, change CHG-2401",
        ),
        (live_server.accounts["admin"], "sandbox", "production", "sandbox", "Go-live postponed"),
    ]


# -- two gunicorn workers on PostgreSQL, each environment with its own simulator ---------------


@dataclass
class TwoEnvironments:
    server: LiveServer
    production: Simulator  # sandbox is the session's simulator
    production_client_id: str


@pytest.fixture
def postgres_server(
    postgres_database, simulator, private_key, tmp_path: Path
) -> Iterator[TwoEnvironments]:
    """A server of this test's own: two gunicorn workers on a PostgreSQL database, sandbox on
    the session's simulator and production on a second one, both configured."""
    production = Simulator(slow_seconds=3.0)
    production_http, production_url = serve_in_thread(production)
    config = base_config(postgres_database.url, simulator.url, tmp_path / "instance")
    config["RM_PRODUCTION_OAUTH_URL"] = production_url
    config["RM_PRODUCTION_API_URL"] = production_url
    app = create_app(config)
    try:
        accounts = seed(app, simulator.simulator, private_key, domain="pg.e2e.example.com")
        client_id = configure_environment(
            app, "production", production, keys.generate_private_key()
        )
        with serve(config, tmp_path, workers=2) as url:
            yield TwoEnvironments(LiveServer(url, accounts, app, tmp_path), production, client_id)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        production_http.shutdown()


def send_as(url: str, email: str, national: str, ready: threading.Barrier) -> str:
    """Sign in as ``email`` and send a code to ``national`` with plain HTTP, the send when
    every other agent of ``ready`` is about to send too; the attempt's address."""
    with requests.Session() as http:
        login = http.get(f"{url}/login", timeout=10)
        signed_in = http.post(
            f"{url}/login",
            data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(login.text)},
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 302, signed_in.text
        form = http.get(f"{url}/send", timeout=10)
        ready.wait(timeout=30)
        sent = http.post(
            f"{url}/send",
            data={
                "csrf_token": csrf_token(form.text),
                "country_code": "60",
                "phone_number": national,
                "reason": f"Ticket {national[-4:]}",
                "message": messages.DEFAULT_TEMPLATE,
                "idempotency_key": str(uuid.uuid4()),
            },
            allow_redirects=False,
            timeout=30,
        )
        assert sent.status_code == 302, sent.text
        return sent.headers["Location"]


@pytest.mark.postgres
def test_after_a_switch_every_worker_sends_through_production(watched, postgres_server, simulator):
    server, production = postgres_server.server, postgres_server.production
    page = watched(server=server)
    open_provider(page, server)
    expect(banner(page)).to_have_text(SANDBOX_BANNER)
    expect(card(page, "Production").get_by_role("heading", level=2)).to_contain_text("ready")
    switch_to(page, "Production", "Go-live, change CHG-2301", confirmation="production")
    expect(page.get_by_role("alert")).to_have_text("Sends now go through production (was sandbox).")
    expect(banner(page)).to_have_text(PRODUCTION_BANNER)

    # Six agents send at the same moment: while one worker is busy with a send, the other
    # takes the next, so both serve some.
    numbers = [f"12-345 23{i:02d}" for i in range(1, 7)]
    agents = [server.create_user("support") for _ in numbers]
    ready = threading.Barrier(len(numbers))
    sandbox_sms_requests = simulator.simulator.sms_requests
    with ThreadPoolExecutor(len(numbers)) as pool:
        attempts = list(
            pool.map(lambda a: send_as(server.url, *a, ready), zip(agents, numbers, strict=True))
        )
    assert all(re.fullmatch(r"/attempts/[^/]+", attempt) for attempt in attempts), attempts

    workers = server.served_by(r"POST /send ")
    assert len(workers) == len(numbers)
    assert len(set(workers)) == 2, f"one worker served every send: {workers}"

    digits = {mobile(national).removeprefix("+60") for national in numbers}
    reached = [m for m in production.inbox if m["phone_number"] in digits]
    assert sorted(m["phone_number"] for m in reached) == sorted(digits)
    assert {m["client_id"] for m in reached} == {postgres_server.production_client_id}
    assert production.token_requests == 1  # one shared token, fetched once for both workers
    assert simulator.simulator.sms_requests == sandbox_sms_requests
    assert not [m for m in simulator.simulator.inbox if m["phone_number"] in digits]
    with server.app.app_context():
        recorded = db.session.execute(
            select(Attempt.phone_e164, Attempt.environment, Attempt.status)
        ).all()
    assert sorted(recorded) == sorted((mobile(n), "production", "accepted") for n in numbers)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    rows = page.get_by_role("row").filter(has_text=re.compile(r"\+60 12-345 23\d\d"))
    expect(rows).to_have_count(len(numbers))
    for national in numbers:
        row = rows.filter(has_text=shown(national))
        expect(row).to_contain_text("production")
        expect(row).to_contain_text("Accepted")

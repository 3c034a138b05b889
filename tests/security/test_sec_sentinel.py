"""LG-2 and OTP-2: with marked secrets, sign in (two steps), send, and administer users; then
look for every secret in the logs, a dump of the database and every page that was served."""

from __future__ import annotations

import logging
import re
import uuid

import pyotp
from sqlalchemy import text
from support import csrf_token, totp_code

from dashboard.extensions import db
from dashboard.revenuemonster import keys
from dashboard.services import provider_accounts, users

ADMIN_PASSWORD = "SENTINEL admin passphrase 7743"
AGENT_PASSWORD = "SENTINEL agent passphrase 5512"
CLIENT_SECRET = "SENTINEL-CS-5c1e7d"


class RecordingClient:
    """A test client that keeps every page it was served."""

    def __init__(self, client):
        self.client, self.pages = client, []

    def get(self, url, **kwargs):
        return self._keep(url, self.client.get(url, **kwargs))

    def post(self, url, **kwargs):
        return self._keep(url, self.client.post(url, **kwargs))

    def _keep(self, url, response):
        self.pages.append((url, response.get_data(as_text=True)))
        return response


def database_dump(app) -> str:
    with app.app_context():
        return "\n".join(
            repr(row)
            for table in db.metadata.sorted_tables
            for row in db.session.execute(text(f"SELECT * FROM {table.name}"))  # noqa: S608
        )


def form(page) -> dict[str, str]:
    return {"csrf_token": csrf_token(page)}


def test_LG2_no_secret_in_logs_database_or_pages(app, simulator, private_key, caplog):
    caplog.set_level(logging.DEBUG)
    client_id = f"sentinel-{uuid.uuid4().hex[:8]}"
    simulator.simulator.register_client(client_id, CLIENT_SECRET, keys.public_key_pem(private_key))
    pem = keys.private_key_pem(private_key).decode()
    key_line = pem.splitlines()[5]  # a line from the middle of the key material
    with app.app_context():
        users.create_user("boss@example.com", "admin", "test", password=ADMIN_PASSWORD)
        provider_accounts.configure(
            "sandbox",
            "test",
            client_id=client_id,
            client_secret=CLIENT_SECRET,
            private_key_pem=pem.encode(),
        )
    browser = RecordingClient(app.test_client())

    # The admin signs in and enrols in two-step sign-in.
    page = browser.get("/login").get_data(as_text=True)
    browser.post(
        "/login", data={"email": "boss@example.com", "password": ADMIN_PASSWORD, **form(page)}
    )
    page = browser.get("/account/two-step").get_data(as_text=True)
    browser.post("/account/two-step/start", data=form(page))
    setup_page = browser.get("/account/two-step").get_data(as_text=True)
    totp_secret = re.search(r"data-two-step-secret>([A-Z2-7]+)<", setup_page).group(1)
    codes_page = browser.post(
        "/account/two-step", data={"code": pyotp.TOTP(totp_secret).now(), **form(setup_page)}
    ).get_data(as_text=True)
    recovery_codes = re.findall(r'<li class="col">([a-z0-9-]{11})</li>', codes_page)

    # It creates a support user, who signs in with the one-time password and changes it.
    page = browser.get("/admin/users").get_data(as_text=True)
    created = browser.post(
        "/admin/users", data={"email": "agent@example.com", "role": "support", **form(page)}
    ).get_data(as_text=True)
    one_time = re.search(r"data-one-time-password>([^<]+)<", created).group(1)
    agent = RecordingClient(app.test_client())
    page = agent.get("/login").get_data(as_text=True)
    agent.post("/login", data={"email": "agent@example.com", "password": one_time, **form(page)})
    page = agent.get("/account/password").get_data(as_text=True)
    agent.post(
        "/account/password",
        data={
            "current_password": one_time,
            "new_password": AGENT_PASSWORD,
            "confirm_password": AGENT_PASSWORD,
            **form(page),
        },
    )

    # The agent sends a code; the admin signs in again later, with two steps.
    page = agent.get("/send").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
    result = agent.post(
        "/send",
        data={
            "country_code": "60",
            "phone_number": "163877652",
            "reason": "Ticket 1",
            "message": "Code {code}",
            "idempotency_key": key,
            **form(page),
        },
    )
    agent.get(result.headers["Location"])
    agent.get("/history")
    sms = [m for m in simulator.simulator.inbox if m["client_id"] == client_id][-1]
    verification_code = re.search(r"\d{6}", sms["message"]).group(0)
    access_tokens = [
        t for t, issued in simulator.simulator._tokens.items() if issued.client_id == client_id
    ]
    second = RecordingClient(app.test_client())
    page = second.get("/login").get_data(as_text=True)
    second.post(
        "/login", data={"email": "boss@example.com", "password": ADMIN_PASSWORD, **form(page)}
    )
    page = second.get("/login/two-step").get_data(as_text=True)
    second.post("/login/two-step", data={"code": totp_code_for(app, totp_secret), **form(page)})
    second.get("/admin/users")

    secrets_shown_once = {
        one_time: "/admin/users",  # the one answer that gives it to the admin
        totp_secret: "/account/two-step",  # the enrolment page, for typing into the app
        **{code: "/account/two-step" for code in recovery_codes},  # shown once, after enrolment
    }
    never_shown = [
        ADMIN_PASSWORD,
        AGENT_PASSWORD,
        CLIENT_SECRET,
        key_line,
        "BEGIN RSA PRIVATE",
        verification_code,
        *access_tokens,
    ]
    logs = caplog.text + repr([r.__dict__ for r in caplog.records])
    dump = database_dump(app)
    pages = browser.pages + agent.pages + second.pages
    assert len(pages) > 15 and len(access_tokens) == 1 and len(recovery_codes) == 10
    for secret in [*never_shown, *secrets_shown_once]:
        assert secret not in logs, f"in the logs: {secret[:12]}"
        assert secret not in dump, f"in the database: {secret[:12]}"
    for url, html in pages:
        for secret in never_shown:
            assert secret not in html, f"{secret[:12]} on {url}"
        for secret, allowed_url in secrets_shown_once.items():
            assert secret not in html or url == allowed_url, f"{secret[:12]} on {url}"


def totp_code_for(app, secret: str) -> str:
    from support import TOTP_SECRETS

    TOTP_SECRETS["boss@example.com"] = secret
    return totp_code(app, "boss@example.com")

"""Passkeys in a real browser: Chromium's virtual authenticator (Chrome DevTools Protocol,
``WebAuthn.addVirtualAuthenticator``) registers and signs in, as a platform authenticator with
user verification would.

WebAuthn needs a secure context and an rp id that is a domain name: these tests use a server
of their own opened as ``http://localhost:<port>`` (127.0.0.1 cannot be an rp id), with
``DASHBOARD_TRUSTED_HOSTS=localhost,127.0.0.1`` (the second for the health check) and a fresh
sign-in window of one minute (so that "confirm it is you" is seen without waiting ten)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from conftest import AUTHENTICATOR, LiveServer, seed, serve, sign_in, submit_sign_in
from playwright.sync_api import Page, expect
from support import PASSWORD, base_config, migrate

from dashboard import create_app
from dashboard.services import runtime_settings, users

FRESH_SIGN_IN_MINUTES = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory, simulator, private_key) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("e2e-passkeys")
    config = base_config(
        f"sqlite:///{workdir / 'passkeys.sqlite'}", simulator.url, workdir / "instance"
    )
    config.update(TRUSTED_HOSTS="localhost,127.0.0.1", FRESH_SIGN_IN_MINUTES=FRESH_SIGN_IN_MINUTES)
    migrate(str(config["DATABASE_URL"]), workdir)
    app = create_app(config)
    accounts = seed(app, simulator.simulator, private_key, domain="passkeys.example.com")
    with serve(config, workdir) as url:
        yield LiveServer(url.replace("127.0.0.1", "localhost"), accounts, app, workdir)


def virtual_authenticator(page: Page) -> tuple[object, str]:
    """A platform authenticator with resident keys and user verification, in ``page``'s
    browser context: the CDP session and the authenticator's id."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def stored_credentials(cdp, authenticator_id: str) -> list[dict]:
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]


def sign_out(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def add_passkey(page: Page, name: str) -> None:
    page.goto("/account/passkeys")
    page.get_by_label("Passkey name").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("alert").filter(has_text="is added")).to_be_visible()
    expect(page.get_by_role("list", name="Your passkeys")).to_contain_text(name)


def sign_in_with_passkey(page: Page) -> None:
    page.goto("/login")
    page.get_by_role("button", name="Sign in with a passkey").click()


def test_a_person_adds_a_passkey_after_confirming_it_is_them_then_signs_in_with_it(watched, server):
    email = server.create_user("support")
    page = watched(server=server)
    cdp, authenticator_id = virtual_authenticator(page)
    sign_in(page, email)
    time.sleep(FRESH_SIGN_IN_MINUTES * 60 + 1)  # the sign-in is no longer fresh

    page.goto("/account")
    expect(page.get_by_role("heading", name="Passkeys")).to_be_visible()
    page.get_by_label("Passkey name").fill("Work laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page).to_have_url(re.compile(r"/account/confirm\?"))
    expect(page.get_by_text("To add a passkey, confirm it is you")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/account/passkeys$"))

    add_passkey(page, "Work laptop")
    expect(page.get_by_text("not used yet")).to_be_visible()
    (credential,) = stored_credentials(cdp, authenticator_id)
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"

    sign_out(page)
    sign_in_with_passkey(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    page.goto("/account")
    expect(page.get_by_text(re.compile("last used"))).to_be_visible()


def test_an_admin_enrols_with_a_passkey_and_uses_it_as_the_second_step(watched, server):
    email = server.create_user("admin")
    page = watched(server=server)
    virtual_authenticator(page)
    sign_in(page, email)  # the password alone: no second step yet
    expect(page).to_have_url(re.compile(r"/account/two-step$"))
    add_passkey(page, "Security key")  # a passkey is enrolment too
    page.goto("/admin/users")
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    sign_out(page)

    submit_sign_in(page, email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/login/two-step"))
    expect(page.get_by_label("Code")).to_have_count(0)  # no authenticator app to give one
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")


def test_a_removed_passkey_is_refused(watched, server):
    email = server.create_user("support")
    page = watched(server=server, allow_error_status=True)
    virtual_authenticator(page)
    sign_in(page, email)
    add_passkey(page, "Old phone")
    page.get_by_role("button", name="Remove the passkey Old phone").click()
    expect(page.get_by_role("alert").filter(has_text="is removed")).to_be_visible()
    expect(page.get_by_text("You have no passkeys yet.")).to_be_visible()
    sign_out(page)

    sign_in_with_passkey(page)  # the authenticator still holds it; the dashboard does not
    expect(page.get_by_role("alert").filter(has_text="not registered here")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_the_admin_passkey_policy_is_enforced(watched, server):
    admin = server.accounts["admin"]  # two-step by an authenticator app, no passkey
    page = watched(server=server, allow_error_status=True)
    virtual_authenticator(page)
    try:
        sign_in(page, admin)
        page.goto("/admin/settings")
        page.get_by_label("Admins must use a passkey").check()
        page.get_by_role("button", name="Save settings").click()
        # No passkey yet: the admin is sent to add one before anything else.
        expect(page).to_have_url(re.compile(r"/account/passkeys$"))
        expect(page.get_by_text("Admins must use a passkey: add one to continue.")).to_be_visible()
        page.goto("/history")
        expect(page).to_have_url(re.compile(r"/account/passkeys$"))
        add_passkey(page, "Admin key")
        sign_out(page)

        # Now a code from the app is refused; the passkey signs in.
        submit_sign_in(page, admin, PASSWORD)
        expect(page).to_have_url(re.compile(r"/login/two-step"))
        expect(page.get_by_text("codes from the app are not accepted")).to_be_visible()
        expect(page.get_by_label("Code")).to_have_count(0)
        token = page.locator("[data-passkey-use]").get_attribute("data-csrf-token")
        refused = page.request.post(
            "/login/two-step", form={"code": AUTHENTICATOR.code(admin), "csrf_token": token}
        )
        assert "Admins must use a passkey as the second step" in refused.text()
        page.goto("/history")
        expect(page).to_have_url(re.compile(r"/login"))  # not signed in by the code
        page.goto("/login/two-step")
        page.get_by_role("button", name="Use a passkey").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    finally:
        with server.app.app_context():
            runtime_settings.require_passkeys_for_admins(False, "test")
            assert users.find_by_email(admin) is not None

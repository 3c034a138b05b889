"""Accounts in a real browser: two-step enrolment, a new user's first sign-in, a locked account."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from conftest import (
    AUTHENTICATOR,
    screenshot,
    sign_in,
    submit_sign_in,
)
from playwright.sync_api import Page, expect
from support import PASSWORD

from dashboard.auth.views import minute_after
from dashboard.services import throttling

NEW_PASSWORD = "violet tractor maple sunrise 42"
WRONG_PASSWORD = "not the password at all 7"


def sign_out(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("alert")).to_have_text("You are signed out.")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_an_admin_enrols_in_two_step_and_signs_in_with_it(watched, live_server):
    email = live_server.create_user("admin")
    page = watched()
    sign_in(page, email)  # the password alone: two-step is not set up yet

    # An admin cannot go anywhere before two-step sign-in is on.
    expect(page).to_have_url(re.compile(r"/account/two-step$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-step sign-in")
    expect(page.get_by_text("Your account must sign in with two steps.")).to_be_visible()
    page.goto("/history")
    expect(page).to_have_url(re.compile(r"/account/two-step$"))

    page.get_by_role("button", name="Start the set-up").click()
    qr_code = page.get_by_role("img", name="QR code to scan with your authenticator app")
    expect(qr_code).to_be_visible()
    assert qr_code.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    secret = page.locator("[data-two-step-secret]").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    screenshot(page, "two-step-setup")

    code_field = page.get_by_label("Code from the app")
    expect(code_field).to_be_focused()
    code_field.fill("12345")  # one digit short
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(code_field).to_have_attribute("aria-invalid", "true")
    expect(code_field).to_have_accessible_description(re.compile("That code is not right"))
    expect(page.locator("[data-two-step-secret]")).to_have_text(secret)  # still the same key

    AUTHENTICATOR.add(email, secret)  # scanned into the app
    code_field.fill(AUTHENTICATOR.code(email))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-step sign-in is on")
    recovery_codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(recovery_codes).to_have_count(10)
    for code in recovery_codes.all_inner_texts():
        assert re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code), code
    page.get_by_role("link", name="I have kept them; continue").click()
    expect(page).to_have_url(re.compile(r"/$"))  # the overview
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    sign_out(page)

    # Signing in now takes a code after the password; a code already used is refused.
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login/two-step$"))
    code_field = page.get_by_label("Code")
    expect(code_field).to_be_focused()
    code_field.fill(AUTHENTICATOR.last_code(email))
    page.get_by_role("button", name="Verify").click()
    expect(code_field).to_have_accessible_description(
        "That code is not right, or it was already used."
    )
    expect(page).to_have_url(re.compile(r"/login/two-step$"))
    code_field.fill(AUTHENTICATOR.code(email))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/$"))  # the overview

    page.goto("/account")
    two_step = page.get_by_text("Two-step sign-in", exact=True).locator(
        "xpath=following-sibling::dd[1]"
    )
    expect(two_step).to_have_text("On")


def test_an_admin_creates_a_support_user_who_must_choose_a_password(watched, live_server):
    admin = watched()
    sign_in(admin, live_server.accounts["admin"])
    navigation = admin.get_by_role("navigation", name="Main")
    navigation.get_by_role("link", name="Admin", exact=True).click()
    expect(admin).to_have_url(re.compile(r"/admin/users$"))
    expect(admin.get_by_role("heading", name="Create a user")).to_be_visible()

    email = "nur.aisyah@e2e.example.com"
    admin.get_by_label("Email").fill(email)
    admin.get_by_label("Name").fill("Nur Aisyah")
    admin.get_by_label("Role").select_option(label="Support")
    admin.get_by_role("button", name="Create user").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"One-time password for {email}")
    one_time_password = admin.locator("[data-one-time-password]").inner_text().strip()
    assert len(one_time_password) >= 16, one_time_password

    admin.get_by_role("link", name="Done").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(email)
    admin.get_by_role("link", name="Users", exact=True).click()
    row = admin.get_by_role("row").filter(has=admin.get_by_role("link", name=email))
    expect(row).to_contain_text("Nur Aisyah")
    expect(row).to_contain_text("support")
    expect(row).to_contain_text("one-time password")
    screenshot(admin, "admin-users")

    # The new user signs in with the one-time password, in a browser of their own.
    page = watched()
    sign_in(page, email, one_time_password)
    expect(page).to_have_url(re.compile(r"/account/password$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Change your password")
    expect(page.get_by_role("alert")).to_have_text("Choose your own password before you continue.")
    page.goto("/send")
    expect(page).to_have_url(re.compile(r"/account/password$"))  # nothing else until it is done

    current = page.get_by_label("Current password")
    new = page.get_by_label("New password", exact=True)
    repeat = page.get_by_label("Repeat the new password")
    current.fill(one_time_password)
    new.fill("password1234")
    repeat.fill("password1234")
    page.get_by_role("button", name="Change password").click()
    expect(new).to_have_attribute("aria-invalid", "true")
    expect(new).to_have_accessible_description(re.compile("Choose a harder password"))

    current.fill(one_time_password)
    new.fill(NEW_PASSWORD)
    repeat.fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page).to_have_url(re.compile(r"/$"))  # the overview
    expect(page.get_by_role("alert")).to_contain_text("Your password is changed.")
    expect(page.get_by_role("link", name="Nur Aisyah · support")).to_be_visible()
    sign_out(page)

    # The one-time password is spent; the chosen one signs in straight to the work.
    submit_sign_in(page, email, one_time_password)
    expect(page.get_by_label("Password")).to_have_accessible_description(
        "The email or the password is wrong."
    )
    sign_in(page, email, NEW_PASSWORD)
    expect(page).to_have_url(re.compile(r"/$"))  # the overview

    admin.reload()
    expect(row).not_to_contain_text("one-time password")


@pytest.mark.parametrize("account_exists", [True, False], ids=["account", "unknown-email"])
def test_a_locked_account_is_told_how_long_to_wait(watched, live_server, account_exists):
    email = live_server.create_user("support") if account_exists else "nobody-here@e2e.example.com"
    page = watched()
    page.goto("/login")
    password = page.get_by_label("Password")

    for _ in range(throttling.ACCOUNT.free_failures):
        submit_sign_in(page, email, WRONG_PASSWORD)
        expect(password).to_have_accessible_description("The email or the password is wrong.")

    started = datetime.now(UTC)
    submit_sign_in(page, email, WRONG_PASSWORD)  # one failure too many: the lock starts
    ended = datetime.now(UTC)
    lock_ends = {
        minute_after(at + throttling.ACCOUNT.first_lock).strftime("%H:%M")
        for at in (started, ended)
    }
    notice = re.compile(
        r"^Too many failed sign-ins\. Sign-in is paused for 1 minute; "
        rf"try again after ({'|'.join(lock_ends)}) UTC\.$"
    )
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description(notice)
    expect(page.locator("#password-error")).to_be_visible()
    if account_exists:
        screenshot(page, "sign-in-locked")

    # While the lock holds even the right password is refused, and the lock does not grow.
    said = page.locator("#password-error").inner_text()
    submit_sign_in(page, email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(password).to_have_accessible_description(said)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

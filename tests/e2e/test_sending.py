"""Sending journeys in a real browser: send and resend from history (and the cooldown that
refuses a resend too soon), rewording a message where admins allow it, checking the code a
customer reads back, and an admin pausing sending.

Every test sends to numbers of its own (``+60 12-345 21xx``) as a support user of its own, so the
per-number and per-user limits of other tests never interfere. The limits are shared by the
whole server: a test that changes them restores them, whatever happens.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import phonenumbers
import pytest
from conftest import screenshot, sign_in
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from dashboard.database import write_transaction
from dashboard.extensions import db
from dashboard.models import Attempt, utcnow
from dashboard.services import limits, message_templates, runtime_settings
from dashboard.templating import utc_time

SHORT_TEMPLATE = "Kod pengesahan anda: {code}"


def mobile(national: str) -> str:
    """The E.164 form of a Malaysian mobile number, which must be valid (the simulator
    accepts any valid number that is not one of its magic ones)."""
    number = phonenumbers.parse(national, "MY")
    assert phonenumbers.is_valid_number(number), national
    assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE, national
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def shown(national: str) -> str:
    """The number as the dashboard shows it to whoever sent to it: ``+60 12-345 2101``."""
    return phonenumbers.format_number(
        phonenumbers.parse(national, "MY"), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def messages_to(simulator, national: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The messages in the simulator's inbox for the number, oldest first."""
    digits = mobile(national).removeprefix("+60")
    return [m["message"] for m in simulator.simulator.inbox if m["phone_number"] == digits]


def codes_sent_to(simulator, national: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The codes in the simulator's inbox for the number, oldest first."""
    return [
        re.search(r"\b\d{6}\b", text).group()  # type: ignore[union-attr]
        for text in messages_to(simulator, national)
    ]


def detail(page: Page, term: str):  # type: ignore[no-untyped-def]
    """The value beside ``term`` on an attempt page."""
    return page.locator("dt", has_text=re.compile(f"^{re.escape(term)}$")).locator(
        "xpath=following-sibling::dd[1]"
    )


def send_code(page: Page, national: str, reason: str) -> None:
    """Send a code through the send page, with the template it offers first."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Send code").click()
    page.get_by_label("Phone number").fill(national)
    page.get_by_label("Reason").fill(reason)
    page.get_by_role("button", name="Send code").click()
    expect(page).to_have_url(re.compile(r"/attempts/[^/]+$"))


def open_admin_limits(page: Page, live_server) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, live_server.accounts["admin"])
    navigation = page.get_by_role("navigation", name="Main")
    navigation.get_by_role("link", name="Admin", exact=True).click()
    page.get_by_role("link", name="Limits", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/limits$"))


@pytest.fixture
def restore_limits(live_server) -> Iterator[limits.Limits]:  # type: ignore[no-untyped-def]
    """The limits as they were; put back after the test, however it ends."""
    with live_server.app.app_context():
        saved = limits.current()
    yield saved
    with live_server.app.app_context():
        if limits.current() != saved:
            limits.save(saved, "e2e tests")


@pytest.fixture
def second_template(live_server) -> Iterator[message_templates.Template]:  # type: ignore[no-untyped-def]
    """A second message template, as an admin would add it; removed after the test."""
    with live_server.app.app_context():
        template = message_templates.add("Short (Malay)", SHORT_TEMPLATE, "e2e tests")
    yield template
    with live_server.app.app_context():
        message_templates.remove(template.id, "e2e tests")


def test_support_sends_resends_from_history_and_a_resend_too_soon_waits_for_the_cooldown(
    watched, live_server, simulator, restore_limits, second_template
):
    assert restore_limits.cooldown_seconds == 60  # the default the cooldown message relies on
    national = "12-345 2101"
    number = shown(national)
    page = watched()
    sign_in(page, live_server.create_user("support"))

    # Send, with the second template picked.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Send code").click()
    page.get_by_label("Phone number").fill(national)
    page.get_by_label("Reason").fill("Ticket 2101")
    picker = page.get_by_label("Template")
    expect(picker.get_by_role("option")).to_have_text(["Standard", "Short (Malay)"])
    message = page.get_by_label("Message")
    expect(message).to_have_value(message_templates.DEFAULT.text)
    expect(message).not_to_be_editable()  # admins have not let senders edit the message
    picker.select_option(label="Short (Malay)")
    expect(message).to_have_value(SHORT_TEMPLATE)
    expect(page.locator("[data-preview-text]")).to_have_text("Kod pengesahan anda: 123456")
    expect(page.locator("[data-preview-count]")).to_have_text("27 characters (GSM-7), 1 SMS")
    screenshot(page, "send-template")
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Send to {number}: Accepted")
    original_url = page.url
    expect(detail(page, "From template")).to_have_text("Short (Malay)")
    [first_code] = codes_sent_to(simulator, national)
    assert messages_to(simulator, national) == [f"Kod pengesahan anda: {first_code}"]

    # Resend from history, right away: the cooldown refuses it, and says until when.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    page.get_by_label("Search").fill("2101")
    page.get_by_role("button", name="Find").click()
    rows = page.get_by_role("row").filter(has_text=number)
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name=f"Resend to {number}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Resend a code to {number}")
    expect(page.get_by_label("Reason")).to_be_focused()
    expect(page.get_by_label("Message")).to_have_value(SHORT_TEMPLATE)  # as it was sent
    expect(page.get_by_label("Message")).not_to_be_editable()
    page.get_by_label("Reason").fill("Customer got nothing")
    page.get_by_role("button", name="Resend code").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Send to {number}: Blocked")
    expect(detail(page, "Response code")).to_have_text("LIMIT_COOLDOWN")
    with live_server.app.app_context():
        sent_at = db.session.scalar(
            select(Attempt.created_at)
            .where(Attempt.phone_e164 == mobile(national))
            .order_by(Attempt.id)
            .limit(1)
        )
    allowed_from = utc_time(sent_at + timedelta(seconds=60))  # the browser's zone is UTC
    expect(page.locator("[data-retry-at]")).to_contain_text(
        f"The next send to this number is allowed from {allowed_from}"
    )
    expect(page.locator("[data-outcome]")).to_contain_text("RevenueMonster was not called.")
    expect(detail(page, "Message from the dashboard")).to_have_text(
        "A code was sent to this number less than 60 seconds ago."
    )
    expect(detail(page, "Resend of")).to_be_visible()
    screenshot(page, "result-cooldown")
    assert codes_sent_to(simulator, national) == [first_code]  # nothing more was sent

    # An admin lowers the cooldown; the resend, from the attempt's own page, now goes out.
    admin = watched()
    open_admin_limits(admin, live_server)
    cooldown = admin.get_by_label("Seconds between two sends to one number")
    expect(cooldown).to_have_value("60")
    cooldown.fill("0")
    admin.get_by_role("button", name="Save limits").click()
    expect(admin.get_by_role("alert")).to_have_text("Limits saved.")
    expect(cooldown).to_have_value("0")

    detail(page, "Resend of").get_by_role("link").click()
    expect(page).to_have_url(original_url)
    page.get_by_role("link", name="Resend", exact=True).click()
    page.get_by_label("Reason").fill("Customer got nothing, second try")
    page.get_by_role("button", name="Resend code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Send to {number}: Accepted")
    expect(detail(page, "Response code")).to_have_text("SUCCESS")
    expect(detail(page, "Reason")).to_have_text("Customer got nothing, second try")
    resend_url = page.url
    codes = codes_sent_to(simulator, national)
    assert len(codes) == 2 and codes[0] == first_code

    # The resend links to the original, and the original lists its resends.
    expect(detail(page, "Resend of")).to_contain_text("the send of")
    detail(page, "Resend of").get_by_role("link").click()
    expect(page).to_have_url(original_url)
    resends = page.locator("dd").filter(has=page.locator("a[href^='/attempts/']"))
    expect(resends).to_have_count(2)
    expect(resends.nth(0)).to_contain_text("(Blocked)")
    expect(resends.nth(1)).to_contain_text("(Accepted)")
    resends.nth(1).get_by_role("link").click()
    expect(page).to_have_url(resend_url)

    # History shows all three, the newest first.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    page.get_by_label("Search").fill("2101")
    page.get_by_role("button", name="Find").click()
    expect(rows).to_have_count(3)
    expect(rows.get_by_role("cell").filter(has=page.locator(".status-badge"))).to_have_text(
        ["Accepted", "Blocked", "Accepted"]
    )


@pytest.fixture
def message_editing(live_server) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Admins let senders edit the message (off by default); put back after the test."""
    with live_server.app.app_context():
        runtime_settings.allow_message_editing(True, "e2e tests")
    yield
    with live_server.app.app_context():
        runtime_settings.allow_message_editing(False, "e2e tests")


def test_where_admins_allow_it_an_agent_rewords_the_message_but_adds_no_link(
    watched, live_server, simulator, message_editing
):
    national = "12-345 2105"
    page = watched()
    sign_in(page, live_server.create_user("support"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Send code").click()
    page.get_by_label("Phone number").fill(national)
    page.get_by_label("Reason").fill("Ticket 2105")
    message = page.get_by_label("Message")
    expect(message).to_be_editable()
    message.fill("Your code is {code}. Unlock your account at rm-unlock.example")
    expect(page.locator("[data-preview-text]")).to_contain_text("Your code is 123456.")
    page.get_by_role("button", name="Send code").click()
    expect(message).to_have_attribute("aria-invalid", "true")
    expect(message).to_have_accessible_description(
        re.compile("cannot have a link or web address the template does not have")
    )
    expect(message).to_have_value("Your code is {code}. Unlock your account at rm-unlock.example")
    assert messages_to(simulator, national) == []

    message.fill("Hi! Your code is {code}. It expires in 10 minutes.")
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Send to {shown(national)}: Accepted"
    )
    expect(detail(page, "From template")).to_have_text("Standard (edited)")
    expect(detail(page, "Message")).to_have_text(
        "Hi! Your code is ••••••. It expires in 10 minutes."
    )
    [code] = codes_sent_to(simulator, national)
    assert messages_to(simulator, national) == [
        f"Hi! Your code is {code}. It expires in 10 minutes."
    ]


def test_support_checks_the_code_a_customer_reads_back(watched, live_server, simulator):
    national = "12-345 2102"
    page = watched()
    sign_in(page, live_server.create_user("support"))
    send_code(page, national, "Ticket 2102: identity check")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Accepted")
    attempt_url = page.url
    [code] = codes_sent_to(simulator, national)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Check a code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check a code")
    expect(page.get_by_label("Phone number")).to_be_focused()
    result = page.locator("[data-check-result]")
    expect(result).to_have_count(0)

    def check(code: str) -> None:
        page.get_by_label("Country code").select_option(label="Malaysia (+60)")
        page.get_by_label("Phone number").fill(national)
        page.get_by_label("Code", exact=True).fill(code)
        page.get_by_role("button", name="Check the code").click()

    check(wrong)
    expect(result).to_contain_text("Not verified. The code is wrong: 4 more tries for this number.")
    check(f" {code} ")  # read out with stray spaces around it
    expect(result).to_contain_text("Right code. The customer has this phone.")
    screenshot(page, "check-code")
    check(code)  # a code works once
    expect(result).to_contain_text("Not verified. That code was already used: send a new one.")

    # A malformed code is a field error, not a try.
    code_field = page.get_by_label("Code", exact=True)
    code_field.fill("12 34")
    page.get_by_role("button", name="Check the code").click()
    expect(code_field).to_have_attribute("aria-invalid", "true")
    expect(code_field).to_have_accessible_description("A code is 6 digits.")
    expect(result).to_have_count(0)

    # The outcome is kept on the attempt.
    page.goto(attempt_url)
    expect(detail(page, "Code checked")).to_contain_text("Right, at ")


def test_a_code_older_than_ten_minutes_has_expired(watched, live_server, simulator):
    national = "12-345 2103"
    page = watched()
    sign_in(page, live_server.create_user("support"))
    send_code(page, national, "Ticket 2103")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Accepted")
    [code] = codes_sent_to(simulator, national)

    # Ten minutes cannot be waited for: the attempt's code expires now (the server, another
    # process on the same database file, sees the committed change).
    with live_server.app.app_context(), write_transaction():
        expired = db.session.execute(
            update(Attempt)
            .where(Attempt.phone_e164 == mobile(national))
            .values(code_expires_at=utcnow() - timedelta(seconds=1))
        )
        assert expired.rowcount == 1  # type: ignore[attr-defined]

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Check a code").click()
    page.get_by_label("Country code").select_option(label="Malaysia (+60)")
    page.get_by_label("Phone number").fill(national)
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_role("button", name="Check the code").click()
    expect(page.locator("[data-check-result]")).to_contain_text(
        "Not verified. That code has expired: send a new one."
    )


def test_an_admin_pauses_sending_and_the_agent_sees_why(
    watched, live_server, simulator, restore_limits
):
    assert not restore_limits.paused
    national = "12-345 2104"
    reason = "Provider incident INC-42, until 15:00"
    admin = watched()
    open_admin_limits(admin, live_server)
    switch = admin.get_by_role("switch", name="Pause all sending")
    expect(switch).not_to_be_checked()
    switch.check()
    admin.get_by_label("Why sending is paused").fill(reason)
    admin.get_by_role("button", name="Save limits").click()
    expect(admin.get_by_role("alert")).to_have_text("Limits saved; sending is paused.")
    expect(switch).to_be_checked()
    expect(admin.get_by_label("Why sending is paused")).to_have_value(reason)
    screenshot(admin, "admin-limits")

    page = watched()
    sign_in(page, live_server.create_user("support"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Send code").click()
    paused = page.get_by_role("alert").filter(has_text="Sending is paused by an admin.")
    expect(paused).to_contain_text(reason)
    page.get_by_label("Phone number").fill(national)
    page.get_by_label("Reason").fill("Ticket 2104")
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Send to {shown(national)}: Blocked")
    expect(detail(page, "Response code")).to_have_text("SENDING_PAUSED")
    expect(detail(page, "Message from the dashboard")).to_have_text(
        f"Sending is paused by an admin: {reason}"
    )
    assert codes_sent_to(simulator, national) == []

    # The admin resumes; the agent's send goes out.
    switch.uncheck()
    admin.get_by_label("Why sending is paused").fill("")
    admin.get_by_role("button", name="Save limits").click()
    expect(admin.get_by_role("alert")).to_have_text("Limits saved.")
    expect(switch).not_to_be_checked()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Send code").click()
    expect(page.get_by_label("Phone number")).to_be_visible()
    expect(paused).to_have_count(0)
    send_code(page, national, "Ticket 2104, again")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Send to {shown(national)}: Accepted"
    )
    assert len(codes_sent_to(simulator, national)) == 1

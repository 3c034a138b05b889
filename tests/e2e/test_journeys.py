"""The main journeys of each role, in a real browser."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import DESKTOP, PHONE, screenshot, sign_in
from playwright.sync_api import expect

from dashboard.services import runtime_settings


def test_support_sends_a_code_reads_the_result_and_finds_it_in_history(
    watched, live_server, simulator
):
    page = watched()
    page.goto("/login")
    expect(page.get_by_label("Email")).to_be_focused()
    screenshot(page, "sign-in")
    sign_in(page, live_server.accounts["support"])
    navigation = page.get_by_role("navigation", name="Main")
    navigation.get_by_role("link", name="Send code").click()
    expect(page).to_have_title(re.compile("Send code · RM SMS Dashboard"))
    expect(page.get_by_role("status").first).to_contain_text("Sandbox environment")
    expect(page.get_by_label("Phone number")).to_be_focused()  # the one choice is made
    expect(page.get_by_label("Country code")).to_have_value("60")
    page.get_by_label("Phone number").fill("016-387 7652")
    page.get_by_label("Reason").fill("Ticket 1234")
    expect(page.get_by_text("What the customer receives")).to_be_visible()
    expect(page.locator("[data-preview-count]")).to_contain_text("(GSM-7), 1 SMS")
    screenshot(page, "send")
    page.get_by_label("Reason").press("Enter")  # Enter submits

    expect(page.get_by_role("heading", level=1)).to_contain_text("Accepted")
    expect(page.get_by_text("SUCCESS")).to_be_visible()
    screenshot(page, "result")
    assert any(m["phone_number"] == "163877652" for m in simulator.simulator.inbox)

    navigation.get_by_role("link", name="History").click()
    page.wait_for_load_state("load")
    page.keyboard.press("/")
    expect(page.get_by_label("Search")).to_be_focused()
    page.keyboard.type("7652")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/history\?q=7652"))
    row = page.get_by_role("row").filter(has_text="+60 16-387 7652").first
    expect(row).to_contain_text("Accepted")
    expect(row).to_contain_text("SUCCESS")
    expect(row).to_contain_text("sandbox")
    expect(row).to_contain_text("E2E Support")
    headers = page.get_by_role("columnheader")
    expect(headers).to_have_text(
        ["Time", "Number", "Status", "Response code", "Environment", "Sender", "Actions"]
    )
    expect(row.get_by_role("link", name="Resend to +60 16-387 7652")).to_be_visible()
    screenshot(page, "history")


def test_auditor_searches_history_and_finds_no_way_to_send(watched, live_server):
    attempt = live_server.send(live_server.accounts["support"], "12-345 2109")
    page = watched(allow_error_status=True)
    sign_in(page, live_server.accounts["auditor"])
    expect(page).to_have_url(re.compile(r"/$"))  # the overview
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Send code")).to_have_count(0)
    expect(navigation.get_by_role("link", name="Check a code")).to_have_count(0)
    navigation.get_by_role("link", name="History").click()
    page.get_by_label("Search").fill("2109")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="+60 12-345 2109")
    expect(row).to_have_count(1)
    expect(page.get_by_role("columnheader")).to_have_text(
        ["Time", "Number", "Status", "Response code", "Environment", "Sender"]
    )  # no "Actions" column
    expect(page.get_by_role("link", name=re.compile("^Resend"))).to_have_count(0)
    row.get_by_role("link").click()  # the attempt itself: still nothing to resend
    expect(page).to_have_url(re.compile(f"/attempts/{attempt}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Accepted")
    expect(page.get_by_role("link", name=re.compile("^Resend"))).to_have_count(0)
    expect(page.get_by_role("link", name="Send another code")).to_have_count(0)
    page.goto(f"/attempts/{attempt}/resend")
    expect(page.get_by_role("heading", level=1)).to_have_text("Forbidden")
    page.goto("/send")
    expect(page.get_by_role("heading", level=1)).to_have_text("Forbidden")
    expect(page.get_by_text("Your role does not allow")).to_be_visible()
    expect(page.get_by_label("Phone number")).to_have_count(0)


def test_a_bad_number_shows_the_error_next_to_the_field(watched, live_server):
    page = watched()
    sign_in(page, live_server.accounts["support"])
    page.goto("/send")
    page.get_by_label("Phone number").fill("12345")
    page.get_by_label("Reason").fill("Ticket 99")
    page.get_by_role("button", name="Send code").click()
    field = page.get_by_label("Phone number")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(
        re.compile("That is not a valid phone number for country code \\+60")
    )
    expect(field).to_have_value("12345")  # what was typed stays, to be corrected
    error = page.locator("#phone_number-error")
    expect(error).to_be_visible()
    field_box, error_box = field.bounding_box(), error.bounding_box()
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 40  # right below it
    screenshot(page, "send-error")


@pytest.fixture
def message_editing(live_server) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Admins let senders edit the message (off by default); put back after the test."""
    with live_server.app.app_context():
        runtime_settings.allow_message_editing(True, "e2e tests")
    yield
    with live_server.app.app_context():
        runtime_settings.allow_message_editing(False, "e2e tests")


def test_support_on_a_phone_sends_reads_the_result_and_finds_it(watched, live_server):
    """The agent's day on a 390 px phone in Kuala Lumpur (the README's phone pictures)."""
    page = watched(viewport=PHONE, timezone_id="Asia/Kuala_Lumpur")
    sign_in(page, live_server.accounts["support"])
    page.goto("/send")
    page.get_by_label("Phone number").fill("012-345 9911")
    page.get_by_label("Reason").fill("Ticket 5120: new phone")
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Accepted")
    expect(page.get_by_role("button", name="Check the code")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "result-phone")
    page.goto("/history?q=9911")
    card = page.get_by_role("row").filter(has_text="+60 12-345 9911").first
    expect(card).to_contain_text("Accepted")
    expect(card).to_contain_text("+08")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "history-phone")


def test_the_preview_counts_segments_as_the_agent_types(watched, live_server, message_editing):
    page = watched()
    sign_in(page, live_server.accounts["support"])
    page.goto("/send")
    message = page.get_by_label("Message")
    count = page.locator("[data-preview-count]")
    message.fill("Kod anda {code}")
    expect(page.locator("[data-preview-text]")).to_have_text("Kod anda 123456")
    expect(count).to_have_text("15 characters (GSM-7), 1 SMS")
    message.fill("Kod {code} " + "€" * 80)  # € costs two GSM-7 septets
    expect(count).to_have_text("171 characters (GSM-7), 2 SMS segments")
    message.fill("验证码 {code}")
    expect(count).to_have_text("10 characters (UCS-2), 1 SMS")
    message.fill("{code} " + "x" * 470)
    expect(count).to_contain_text("4 SMS segments: too long")


def test_every_navigation_page_renders_on_desktop_and_phone(watched, live_server):
    for role, email in live_server.accounts.items():
        for viewport in (DESKTOP, PHONE):
            page = watched(viewport=viewport)
            sign_in(page, email)
            expect(page).not_to_have_url(re.compile("/account/"))  # no set-up left to do
            if viewport is PHONE and role == "support":
                screenshot(page, "send-phone")
            navigation = page.get_by_role("navigation", name="Main")
            if viewport is PHONE:
                menu = navigation.get_by_role("button", name="Menu")
                expect(menu).to_be_visible()
                menu.click()
            links = navigation.get_by_role("link").filter(has_not_text="RM SMS Dashboard")
            expect(links.first).to_be_visible()
            labels = links.all_inner_texts()
            assert ("Send code" in labels) == (role != "auditor")
            assert ("Admin" in labels) == (role == "admin")
            for label in labels:
                link = navigation.get_by_role("link", name=label, exact=True)
                page.goto(link.get_attribute("href"))
                expect(page.get_by_role("heading", level=1)).to_be_visible()
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 0, f"{label} scrolls sideways at {viewport['width']} px"
                if viewport is PHONE:
                    navigation.get_by_role("button", name="Menu").click()


def test_the_theme_switch_is_remembered(watched, live_server):
    page = watched()
    sign_in(page, live_server.accounts["auditor"])
    html = page.locator("html")
    expect(html).to_have_attribute("data-bs-theme", "light")
    toggle = page.get_by_role("button", name="Dark mode", exact=True)
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_role("button", name="Use system setting")).to_be_hidden()
    toggle.click()
    expect(html).to_have_attribute("data-bs-theme", "dark")
    page.reload()
    expect(html).to_have_attribute("data-bs-theme", "dark")
    # The name stays; the pressed state says the dark theme is on.
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Use system setting")).to_be_visible()


def test_the_theme_can_follow_the_system_again(watched, live_server):
    page = watched(color_scheme="dark")
    sign_in(page, live_server.accounts["auditor"])
    html = page.locator("html")
    toggle = page.get_by_role("button", name="Dark mode", exact=True)
    expect(html).to_have_attribute("data-bs-theme", "dark")  # as the system prefers
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(html).to_have_attribute("data-bs-theme", "light")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    page.reload()
    expect(html).to_have_attribute("data-bs-theme", "light")  # the choice beats the system
    page.get_by_role("button", name="Use system setting").click()
    expect(html).to_have_attribute("data-bs-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_be_focused()
    expect(page.get_by_role("button", name="Use system setting")).to_be_hidden()
    # Following the system again means following its changes too.
    page.emulate_media(color_scheme="light")
    expect(html).to_have_attribute("data-bs-theme", "light")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    page.reload()
    expect(html).to_have_attribute("data-bs-theme", "light")


def test_error_pages_keep_the_dashboard_look(watched, live_server):
    page = watched(allow_error_status=True)
    sign_in(page, live_server.accounts["support"])
    page.goto("/no-such-page")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not Found")
    expect(page.get_by_text("There is nothing at this address.")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("Sandbox environment")

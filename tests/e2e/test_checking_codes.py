"""The send flow at speed and checking codes the way a call goes (issue 17), in a real browser
set to Asia/Kuala_Lumpur: send, resend, check the FIRST code from the resend's result page
(accepted, and it says which send it came from); the cooldown result with its countdown in
+08; an Unknown result asking the customer first; the send form's error summary; and an
expired session that brings the agent back to the form as they left it, nothing sent.

Every test sends to numbers of its own (``+60 12-345 26xx``) as a support user of its own; a
test that changes the shared limits puts them back, whatever happens.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from support import PASSWORD
from test_sending import codes_sent_to, detail, shown

from dashboard.services import limits

KL = "Asia/Kuala_Lumpur"
PICTURES = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PLUS_08 = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08$")


def picture(page: Page, name: str) -> None:
    """Keep a full-page picture of the page (git-ignored), to look at what a test saw."""
    PICTURES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=PICTURES / f"{name}.png", full_page=True)


def sign_in_here(page: Page, email: str) -> None:
    """Fill and send the sign-in form the page shows (a support account: no second step)."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()


def signed_in(watched, live_server, **context) -> Page:  # type: ignore[no-untyped-def]
    page = watched(**context)
    page.goto("/login")
    sign_in_here(page, live_server.create_user("support"))
    expect(page).not_to_have_url(re.compile(r"/login"))
    return page


def open_send_form(page: Page, national: str, reason: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Send code").click()
    page.get_by_label("Phone number").fill(national)
    page.get_by_label("Reason").fill(reason)


def send_code(page: Page, national: str, reason: str) -> None:
    open_send_form(page, national, reason)
    page.get_by_role("button", name="Send code").click()
    expect(page).to_have_url(re.compile(r"/attempts/[^/]+$"))


@pytest.fixture
def no_cooldown(live_server) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Resends go at once; the limits put back after the test."""
    with live_server.app.app_context():
        saved = limits.current()
        limits.save(dataclasses.replace(saved, cooldown_seconds=0), "e2e tests")
    yield
    with live_server.app.app_context():
        limits.save(saved, "e2e tests")


def test_an_agent_resends_then_checks_the_first_code_from_the_resends_result(
    watched, live_server, simulator, no_cooldown
):
    national = "12-345 2601"
    page = signed_in(watched, live_server, timezone_id=KL)
    send_code(page, national, "Ticket 2201")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Send to {shown(national)}: Accepted"
    )
    first_url = page.url
    first_sent = detail(page, "Attempt id").inner_text()
    # The first action of an accepted send is to check its code, right there.
    expect(page.get_by_label("Code", exact=True)).to_be_focused()
    expect(page.get_by_role("button", name="Check the code")).to_be_visible()
    picture(page, "result-accepted-check")

    page.get_by_role("link", name="Resend", exact=True).click()
    page.get_by_label("Reason").fill("Customer got nothing")
    page.get_by_role("button", name="Resend code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Send to {shown(national)}: Accepted"
    )
    first_code, second_code = codes_sent_to(simulator, national)
    if first_code == second_code:
        pytest.skip("both sends drew the same code (one chance in a million)")

    # The customer reads out the code of the FIRST SMS: it is right, and says which send.
    page.get_by_label("Code", exact=True).fill(first_code)
    page.get_by_role("button", name="Check the code").click()
    result = page.locator("[data-check-result]")
    expect(result).to_contain_text(
        "Right code. The customer has this phone; the other codes sent to this number no "
        "longer work."
    )
    expect(result).to_contain_text("The code is from the send of")
    sent_at = result.locator("[data-check-refers] time")
    expect(sent_at).to_have_text(PLUS_08)
    expect(page.locator("[data-check-number]")).to_contain_text(shown(national))
    picture(page, "check-first-code")
    recent = page.locator("[data-recent-checks] tbody tr")
    expect(recent).to_have_count(1)
    expect(recent.first).to_contain_text("Right")

    result.get_by_role("link").click()
    expect(page).to_have_url(first_url)
    expect(detail(page, "Attempt id")).to_have_text(first_sent)
    expect(detail(page, "Code checked")).to_contain_text("+08")
    checks = page.locator("[data-code-checks] tbody tr")
    expect(checks).to_have_count(1)
    expect(checks.first).to_contain_text("Right")

    # The resend's code stopped working when the first one was used.
    page.goto(first_url)
    page.get_by_label("Code", exact=True).fill(second_code)
    page.get_by_role("button", name="Check the code").click()
    expect(result).to_contain_text(
        "That code stopped working when another code for this number was used"
    )


def test_a_resend_too_soon_says_when_in_the_agents_zone_with_a_countdown(
    watched, live_server, simulator
):
    national = "12-345 2602"
    page = signed_in(watched, live_server, timezone_id=KL)
    send_code(page, national, "Ticket 2202")
    page.get_by_role("link", name="Resend", exact=True).click()
    page.get_by_label("Reason").fill("Again")
    page.get_by_role("button", name="Resend code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Send to {shown(national)}: Blocked")
    retry = page.locator("[data-retry-at]")
    expect(retry).to_contain_text("The next send to this number is allowed from")
    countdown = retry.locator("time[data-countdown]")
    expect(countdown).to_have_text(PLUS_08)
    expect(retry.locator("[data-relative-text]")).to_have_text(re.compile(r"^\(in \d+ s\)$"))
    picture(page, "result-cooldown-countdown")
    # After when, the way to send again.
    expect(page.locator("[data-first-step] [data-send-actions]")).to_be_visible()
    expect(detail(page, "Response code")).to_have_text("LIMIT_COOLDOWN")
    assert len(codes_sent_to(simulator, national)) == 1


def test_an_unknown_result_asks_the_customer_first(watched, live_server):
    page = signed_in(watched, live_server, timezone_id=KL)
    send_code(page, "12-000 0500", "Ticket 2203")  # the simulator answers HTTP 500
    expect(page.get_by_role("heading", level=1)).to_contain_text("Unknown")
    first = page.locator("[data-first-step]")
    expect(first.locator("[data-ask-first]")).to_have_text(
        "Ask the customer whether the SMS arrived first: if it did, check its code here; "
        "if not, resend."
    )
    expect(first.get_by_role("button", name="Check the code")).to_be_visible()
    expect(first.get_by_role("link", name="Resend", exact=True)).to_be_visible()
    picture(page, "result-unknown")
    expect(page.locator("[data-outcome]")).not_to_contain_text("Ask the customer whether the SMS")


def test_the_send_form_sums_up_its_errors_and_focuses_the_summary(watched, live_server):
    page = signed_in(watched, live_server)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Send code").click()
    expect(page.get_by_label("Phone number")).to_be_focused()
    expect(page.get_by_role("button", name="Send code")).to_have_attribute(
        "data-submitting", "Sending…"
    )
    page.get_by_role("button", name="Send code").click()  # no number, no reason
    expect(page).to_have_title(re.compile(r"^Error: Send code"))
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    links = summary.get_by_role("link")
    expect(links).to_have_count(2)
    links.filter(has_text="Say why").click()
    expect(page.get_by_label("Reason")).to_be_focused()
    expect(page.get_by_label("Phone number")).to_have_attribute("aria-invalid", "true")


def test_an_expired_session_brings_the_agent_back_to_the_form_as_typed(
    watched, live_server, simulator
):
    national = "12-345 2604"
    page = watched(timezone_id=KL)
    page.goto("/login")
    email = live_server.create_user("support")
    sign_in_here(page, email)
    open_send_form(page, national, "Ticket 2204: locked out")

    # The session ends in another tab of the same browser.
    other = page.context.new_page()
    other.goto("/")
    with other.expect_navigation():
        other.get_by_role("button", name="Sign out").click()
    other.close()

    page.get_by_role("button", name="Send code").click()
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("alert").filter(has_text="Your session expired")).to_have_text(
        "Your session expired, so nothing was sent: sign in to get back to the send form as "
        "you left it."
    )
    assert national.replace(" ", "") not in page.url and "Ticket" not in page.url
    sign_in_here(page, email)

    expect(page).to_have_url(re.compile(r"/send\?draft="))
    expect(page.locator("[data-draft-restored]")).to_have_text(
        "Your session had expired, so nothing was sent: check what you typed and press Send code."
    )
    expect(page.get_by_label("Phone number")).to_have_value(national)
    expect(page.get_by_label("Reason")).to_have_value("Ticket 2204: locked out")
    expect(page.get_by_label("Country code")).to_have_value("60")
    picture(page, "send-draft-restored")
    assert codes_sent_to(simulator, national) == []  # nothing went without a click

    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Send to {shown(national)}: Accepted"
    )
    assert len(codes_sent_to(simulator, national)) == 1

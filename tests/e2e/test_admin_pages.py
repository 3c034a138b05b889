"""The admin pages in a real browser: editing a template with its live preview, the
confirmation steps of destructive actions, a user's links to their sends and audit events,
and the pages on a 390 px phone (the provider page's credential forms folded away)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import select
from support import PASSWORD

from dashboard.extensions import db
from dashboard.models import AuditEvent
from dashboard.services import message_templates, users

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def signed_in_admin(page: Page, live_server) -> str:  # type: ignore[no-untyped-def]
    """Sign ``page`` in as a new admin of this test's own (enrolled in two-step sign-in with an
    authenticator of its own, so no other test's codes are spent); the admin's email."""
    email = f"admin-{uuid.uuid4().hex[:8]}@admin-pages.example.com"
    with live_server.app.app_context():
        user, _ = users.create_user(email, "admin", "test", name="Pages Admin", password=PASSWORD)
        totp = pyotp.TOTP(users.begin_two_step(user))
        users.confirm_two_step(user, totp.now())
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login/two-step$"))
    page.get_by_label("Code").fill(totp.at(time.time() + totp.interval))  # the step not used
    page.get_by_role("button", name="Verify").click()
    expect(page).not_to_have_url(re.compile(r"/login"))
    return email


def events(live_server, action: str, target: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with live_server.app.app_context():
        found = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.target == target)
            .order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
        return list(found)


def user_id_of(live_server, email: str) -> int:  # type: ignore[no-untyped-def]
    with live_server.app.app_context():
        user = users.find_by_email(email)
        assert user is not None
        return user.id


@pytest.fixture
def template(live_server) -> Iterator[message_templates.Template]:  # type: ignore[no-untyped-def]
    """A template of this test's own, removed afterwards (if the test left it)."""
    with live_server.app.app_context():
        added = message_templates.add(
            f"E2E {uuid.uuid4().hex[:6]}", "Your code is {code}.", "e2e tests"
        )
    yield added
    with live_server.app.app_context():
        if message_templates.find(added.id) is not None:
            message_templates.remove(added.id, "e2e tests")


def test_an_admin_edits_a_template_with_a_live_preview(watched, live_server, template):
    page = watched()
    admin = signed_in_admin(page, live_server)
    page.goto("/admin/templates")
    page.get_by_role("link", name=f"Edit {template.name}", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/admin/templates/{template.id}/edit$"))
    text = page.get_by_label("Text")
    expect(text).to_have_value(template.text)
    preview = page.locator("#message-preview")
    expect(preview.locator("[data-preview-text]")).to_have_text("Your code is 123456.")

    # The preview follows the typing, as the send page's does.
    text.fill("Kod anda ialah {code}. Jangan kongsi.")
    expect(preview.locator("[data-preview-text]")).to_have_text(
        "Kod anda ialah 123456. Jangan kongsi."
    )
    expect(preview.locator("[data-preview-count]")).to_have_text("37 characters (GSM-7), 1 SMS")

    # A text without {code}: refused next to the field, with the summary, and nothing changes.
    text.fill("Kod anda ialah rahsia.")
    page.get_by_role("button", name="Save template").click()
    expect(text).to_have_attribute("aria-invalid", "true")
    expect(text).to_have_accessible_description(re.compile("must contain {code} exactly once"))
    expect(page.locator("[data-error-summary]")).to_contain_text("must contain {code} exactly once")
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(text).to_have_value("Kod anda ialah rahsia.")  # what was typed stays, to correct
    with live_server.app.app_context():
        assert message_templates.find(template.id) == template
    assert events(live_server, "template.edit", template.name) == []

    text.fill("Kod anda ialah {code}.")
    page.get_by_label("Name").fill(f"{template.name} (Malay)")
    page.get_by_role("button", name="Save template").click()
    expect(page).to_have_url(re.compile(r"/admin/templates$"))
    expect(page.get_by_role("alert")).to_have_text(f"Template “{template.name} (Malay)” saved.")
    item = page.locator(f"[data-template='{template.id}']")
    expect(item).to_contain_text("Kod anda ialah {code}.")
    with live_server.app.app_context():
        assert message_templates.find(template.id) == message_templates.Template(
            template.id, f"{template.name} (Malay)", "Kod anda ialah {code}."
        )
    [edit] = events(live_server, "template.edit", f"{template.name} (Malay)")
    assert edit.actor_label == admin
    assert edit.details["old"] == {"name": template.name, "text": "Your code is {code}."}
    assert edit.details["new"]["text"] == "Kod anda ialah {code}."


def test_removing_a_template_asks_first(watched, live_server, template):
    page = watched()
    signed_in_admin(page, live_server)
    page.goto("/admin/templates")
    page.get_by_role("link", name=f"Remove {template.name}", exact=True).click()
    question = f"Remove the template “{template.name}”?"
    expect(page.get_by_role("heading", level=1)).to_have_text(question)
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(r"/admin/templates$"))
    expect(page.locator(f"[data-template='{template.id}']")).to_be_visible()
    assert events(live_server, "template.remove", template.name) == []

    page.get_by_role("link", name=f"Remove {template.name}", exact=True).click()
    page.get_by_role("button", name="Remove", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(f"Template “{template.name}” removed.")
    expect(page.locator(f"[data-template='{template.id}']")).to_have_count(0)
    assert len(events(live_server, "template.remove", template.name)) == 1


def test_disabling_and_resetting_a_password_ask_first(watched, live_server):
    agent = live_server.create_user("support")
    page = watched()
    admin = signed_in_admin(page, live_server)
    page.goto(f"/admin/users/{user_id_of(live_server, agent)}")
    status = page.locator("dt", has_text=re.compile("^Status$")).locator(
        "xpath=following-sibling::dd[1]"
    )

    # Cancel changes nothing.
    page.get_by_role("link", name="Disable", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Disable E2E New Support?")
    expect(page.get_by_text("They are signed out everywhere and cannot sign in")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(agent)
    expect(status).to_have_text("Active")
    assert events(live_server, "user.disable", agent) == []

    # Confirming does it, and it is on record.
    page.get_by_role("link", name="Disable", exact=True).click()
    page.get_by_role("button", name="Disable", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(
        f"{agent} is disabled and signed out everywhere."
    )
    expect(status).to_have_text("Disabled")
    [disabled] = events(live_server, "user.disable", agent)
    assert disabled.actor_label == admin

    page.get_by_role("link", name="Reset password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Reset the password of E2E New Support?"
    )
    page.get_by_role("link", name="Cancel").click()
    assert events(live_server, "user.password_reset", agent) == []
    page.get_by_role("link", name="Reset password").click()
    page.get_by_role("button", name="Reset password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"One-time password for {agent}")
    assert len(events(live_server, "user.password_reset", agent)) == 1


def test_a_users_page_links_to_their_sends_and_their_audit_events(watched, live_server):
    agent = live_server.create_user("support")
    agent_id = user_id_of(live_server, agent)
    live_server.send(agent, "12-345 2701")
    live_server.send(live_server.accounts["support"], "12-345 2702")  # someone else's
    with live_server.app.app_context():
        users.sign_out(users.get(agent_id))  # an event of theirs in the audit log
    page = watched()
    signed_in_admin(page, live_server)
    page.goto(f"/admin/users/{agent_id}")

    page.get_by_role("link", name="Codes sent by E2E New Support").click()
    expect(page).to_have_url(re.compile(r"/history\?"))
    assert parse_qs(urlsplit(page.url).query) == {"sender": [str(agent_id)]}
    expect(page.get_by_label("Sender")).to_have_value(str(agent_id))
    results = page.locator("tbody tr")
    expect(results).to_have_count(1)
    expect(results).to_contain_text("+60 12-345 2701")

    page.go_back()
    page.get_by_role("link", name="Audit events by E2E New Support").click()
    expect(page).to_have_url(re.compile(r"/audit\?"))
    assert parse_qs(urlsplit(page.url).query) == {"actor": [agent]}
    expect(page.get_by_label("Actor")).to_have_value(agent)
    expect(page.locator("[data-event]")).to_have_count(1)


def no_horizontal_scroll(page: Page, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width} px wide in {width} px"


def test_the_provider_page_shows_the_status_first_on_a_phone(watched, live_server):
    page = watched(viewport=PHONE)
    signed_in_admin(page, live_server)
    page.goto("/admin/provider")
    sandbox = page.get_by_role("region", name=re.compile(r"^Sandbox\b"))
    expect(sandbox.get_by_text(re.compile("^Last success:"))).to_be_visible()
    expect(sandbox.get_by_label("Client ID")).to_be_hidden()  # folded away
    no_horizontal_scroll(page, PHONE["width"])
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 2600, f"the provider page is {height} px tall on a phone"

    sandbox.get_by_text("Change the sandbox credentials").click()
    expect(sandbox.get_by_label("Client ID")).to_be_visible()
    no_horizontal_scroll(page, PHONE["width"])

    # A refused change opens its form again, with the message beside the field.
    sandbox.get_by_label("Private key (PEM)").fill("not a key")
    sandbox.get_by_role("button", name="Save credentials").click()
    sandbox = page.get_by_role("region", name=re.compile(r"^Sandbox\b"))
    key = sandbox.get_by_label("Private key (PEM)")
    expect(key).to_be_visible()
    expect(key).to_have_attribute("aria-invalid", "true")
    expect(
        page.get_by_role("region", name=re.compile(r"^Production\b")).get_by_label("Client ID")
    ).to_be_hidden()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_admin_sections_fit_the_screen(watched, live_server, viewport):
    page = watched(viewport=viewport)
    signed_in_admin(page, live_server)
    sections = page.get_by_role("navigation", name="Admin sections")
    for path in ("users", "provider", "limits", "templates", "settings"):
        page.goto(f"/admin/{path}")
        expect(sections.get_by_role("link")).to_have_count(5)
        no_horizontal_scroll(page, viewport["width"])
        links = sections.get_by_role("link").all()
        boxes = [link.bounding_box() for link in links]
        tops = {round(box["y"]) for box in boxes if box}
        assert len(tops) == 1, f"the admin sections wrap on /admin/{path}: {boxes}"


AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"],
    },
    "resultTypes": ["violations"],
}


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical WCAG 2.2 AA violations on the page as it is."""
    found = Axe().run(page, options=AXE_OPTIONS).response["violations"]
    return [
        f"{page.url}: {v['id']} at {' > '.join(map(str, node['target']))}"
        for v in found
        if v["impact"] in ("serious", "critical")
        for node in v["nodes"]
    ]


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_new_admin_pages_pass_axe(watched, live_server, template, viewport, theme):
    """The pages this change adds (the edit page, with an error too, and the confirmation
    pages), which the navigation does not reach."""
    page = watched(viewport=viewport, color_scheme=theme)
    signed_in_admin(page, live_server)
    agent_id = user_id_of(live_server, live_server.create_user("support"))
    found = []
    for path in (
        f"/admin/templates/{template.id}/edit",
        f"/admin/templates/{template.id}/remove",
        f"/admin/users/{agent_id}/disable",
        "/admin/provider/sandbox/generate",
    ):
        page.goto(path)
        found += serious_violations(page)
    page.goto(f"/admin/templates/{template.id}/edit")
    page.get_by_label("Text").fill("no code")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_label("Text")).to_have_attribute("aria-invalid", "true")
    found += serious_violations(page)
    assert not found, "\n".join(found)

"""The overview and the audit log as auditors read them: "Needs attention" linking to what
needs it, a chart whose labels stay readable at 390 and 1280 px, a clean empty state on a
server with no attempts, and the audit log in words with its action filter."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from browsing import DESKTOP, PHONE, fits_the_screen, screenshot, sign_in_as
from playwright.sync_api import expect
from support import PASSWORD, base_config, migrate

from dashboard import create_app
from dashboard.domain.phone_numbers import parse_mobile_number
from dashboard.extensions import db
from dashboard.models import Attempt
from dashboard.services import users

E2E_CONFTEST = Path(__file__).with_name("conftest.py")


def add_unknown_attempt(live_server, sender_email: str, national: str) -> None:
    """An attempt whose outcome is unknown (RevenueMonster's answer never came), recorded as a
    send would, without waiting for a timeout."""
    parsed = parse_mobile_number("60", national)
    with live_server.app.app_context():
        db.session.add(
            Attempt(
                user_id=users.find_by_email(sender_email).id,
                environment="sandbox",
                country_code="60",
                national_number=parsed.national_number,
                phone_e164=parsed.e164,
                phone_reversed=parsed.reversed_digits,
                message_masked="Your code is ••••••",
                reason="E2E unknown outcome",
                status="unknown",
                response_code="READ_TIMEOUT",
                idempotency_key=str(uuid.uuid4()),
            )
        )
        db.session.commit()


def test_needs_attention_links_to_the_unknown_outcomes_and_the_chart_fits_any_width(
    watched, live_server
):
    sender = live_server.create_user("support")
    live_server.send(sender, "123453001")
    add_unknown_attempt(live_server, sender, "123453002")
    page = watched(viewport=PHONE)
    sign_in_as(page, live_server.create_user("auditor"))

    card = page.locator("[data-attention]")
    expect(card.get_by_role("heading", name="Needs attention")).to_be_visible()
    unknown = card.locator('[data-attention-item^="unknown"]')
    expect(unknown).to_contain_text("unknown outcome")
    assert int(unknown.locator(".badge").inner_text().replace(",", "")) >= 1
    labels = page.locator("[data-hour-label]:visible")
    expect(labels).to_have_count(4)  # every 6 hours on a phone
    fits_the_screen(page)
    screenshot(page, "overview-phone")

    unknown.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"status=unknown"))
    rows = page.locator("[data-history] tbody tr")
    expect(rows.first.locator(".status-badge")).to_have_text("Unknown")

    page.set_viewport_size(DESKTOP)
    page.goto("/")
    expect(page.locator("[data-hour-label]:visible")).to_have_count(8)  # every 3 hours
    font = page.locator("[data-hour-label]:visible").first.evaluate(
        "label => parseFloat(getComputedStyle(label).fontSize)"
    )
    assert 11 <= font <= 16  # the same text size at any width, not the SVG's scaled one
    screenshot(page, "overview-desktop")


def test_the_audit_log_says_who_revealed_which_number_and_links_the_attempt(watched, live_server):
    sender = live_server.create_user("support")
    public_id = live_server.send(sender, "123453003")
    agent = live_server.create_user("support")
    page = watched()
    sign_in_as(page, agent)
    page.goto(f"/attempts/{public_id}")
    page.get_by_label("Why you need the full number").fill("Ticket 3003, caller confirmed")
    page.get_by_role("button", name="Show the full number").click()
    expect(page.locator("[data-number]")).to_have_text("+60 12-345 3003")

    auditor = watched(viewport=PHONE)
    sign_in_as(auditor, live_server.create_user("auditor"))
    auditor.goto("/audit")
    auditor.get_by_text("Filters (0)").click()
    options = auditor.get_by_label("Action").locator("option")
    expect(options.first).to_have_text("Any action")
    assert "number.reveal" not in options.all_inner_texts()  # actions in words, not ids
    auditor.get_by_label("Action").select_option(label="Number revealed")
    auditor.get_by_role("button", name="Find").click()
    words = auditor.locator("[data-words]").first
    expect(words).to_have_text(
        "E2E New Support revealed +60 12-345 3003: Ticket 3003, caller confirmed."
    )
    assert public_id not in words.inner_text()
    fits_the_screen(auditor)
    words.get_by_role("link", name="+60 12-345 3003").click()
    expect(auditor).to_have_url(re.compile(f"/attempts/{public_id}$"))


def this_conftest(config: pytest.Config):  # type: ignore[no-untyped-def]
    """The e2e conftest as pytest loaded it (its server helpers), found without importing
    it by name."""
    for plugin in config.pluginmanager.get_plugins():
        file = getattr(plugin, "__file__", None)
        if file is not None and Path(file).resolve() == E2E_CONFTEST:
            return plugin
    raise LookupError(E2E_CONFTEST)


@pytest.fixture
def empty_server(request, tmp_path: Path, simulator) -> Iterator[object]:
    """A server of this test's own, with one auditor and not a single attempt."""
    served = this_conftest(request.config)
    config = base_config(f"sqlite:///{tmp_path / 'empty.sqlite'}", simulator.url, tmp_path / "i")
    migrate(str(config["DATABASE_URL"]), tmp_path)
    app = create_app(config)
    email = "auditor@empty.e2e.example.com"
    with app.app_context():
        users.create_user(email, "auditor", "test", name="Empty Auditor", password=PASSWORD)
    try:
        with served.serve(config, tmp_path, workers=1) as url:
            yield served.LiveServer(url, {"auditor": email}, app, tmp_path)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_overview_of_a_server_without_attempts_says_so_plainly(watched, empty_server):
    page = watched(viewport=PHONE, server=empty_server)
    sign_in_as(page, empty_server.accounts["auditor"])
    expect(page.locator("[data-nothing-needs-attention]")).to_have_text("Nothing needs attention.")
    expect(page.locator("[data-overview-empty]")).to_contain_text("No attempts in the last 7 days.")
    expect(page.locator("[data-per-hour]")).to_have_count(0)  # no chart of zeros
    expect(page.get_by_text("None", exact=True)).to_have_count(0)
    fits_the_screen(page)
    screenshot(page, "overview-empty-phone")

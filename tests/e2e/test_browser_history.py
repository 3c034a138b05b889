"""History journeys: an auditor filters, opens an attempt, exports and checks the audit log; a
support agent sees masked numbers and reveals one."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from browsing import PHONE, fits_the_screen, screenshot, sign_in_as, within_the_first_screen
from playwright.sync_api import expect
from sqlalchemy import text

from dashboard.extensions import db


def test_an_auditor_filters_opens_exports_and_checks_the_audit_log(watched, live_server):
    sender = live_server.create_user("support")
    live_server.send(sender, "123452201")
    live_server.send(sender, "123452202")
    auditor = live_server.create_user("auditor")
    page = watched()
    sign_in_as(page, auditor)
    navigation = page.get_by_role("navigation", name="Main")
    navigation.get_by_role("link", name="History", exact=True).click()
    today = datetime.now(UTC).date().isoformat()
    page.get_by_label("Search").fill("2201")
    page.get_by_text("Filters (0)").click()
    page.get_by_label("From").fill(today)
    page.get_by_label("To").fill(today)
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(r"q=2201.*date_from=" + today))
    rows = page.get_by_role("row").filter(has_text="+60 12-345 2201")
    expect(rows).to_have_count(1)
    expect(page.get_by_role("row").filter(has_text="2202")).to_have_count(0)
    expect(page.locator("[data-matching]")).to_have_text("1 attempt")
    expect(page.locator("[data-filters] > summary")).to_have_text("Filters (2)")
    screenshot(page, "history-filtered")

    rows.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("+60 12-345 2201")
    expect(page.get_by_text("Timeline")).to_be_visible()
    page.go_back()

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    exported = Path(download.value.path()).read_bytes()
    lines = exported.decode().splitlines()
    assert len(lines) == 2 and "'+60123452201" in lines[1]

    navigation.get_by_role("link", name="Audit log").click()
    expect(page.locator("[data-chain]")).to_contain_text("Chain verified up to event")
    page.get_by_label("Actor").fill(auditor)
    page.get_by_role("button", name="Find").click()
    export_event = page.locator("[data-event]").filter(has_text="exported 1 attempt as CSV")
    manifest_link = export_event.get_by_role("link", name="manifest")
    expect(manifest_link).to_be_visible()
    screenshot(page, "audit-log")
    manifest_url = manifest_link.get_attribute("href")
    manifest = json.loads(page.request.get(manifest_url).text())
    assert manifest["rows"] == 1 and manifest["complete"] is True
    assert manifest["sha256"] == hashlib.sha256(exported).hexdigest()


def test_a_support_agent_sees_masked_numbers_and_reveals_one(watched, live_server):
    colleague = live_server.create_user("support")
    public_id = live_server.send(colleague, "123452203")
    agent = live_server.create_user("support")
    page = watched()
    sign_in_as(page, agent)
    page.goto("/history?q=2203")
    row = page.get_by_role("row").filter(has_text="2203")
    expect(row.first).to_contain_text("+60 •••••2203")
    expect(page.get_by_text("12-345 2203")).to_have_count(0)
    page.goto(f"/attempts/{public_id}")
    expect(page.locator("[data-number]")).to_have_text("+60 •••••2203")
    page.get_by_role("button", name="Show the full number").click()
    expect(page.get_by_text("Say why you need the full number.")).to_be_visible()
    page.get_by_label("Why you need the full number").fill("Customer asked to confirm the number")
    page.get_by_role("button", name="Show the full number").click()
    expect(page.locator("[data-number]")).to_have_text("+60 12-345 2203")
    with live_server.app.app_context():
        reveals = db.session.execute(
            text(
                "SELECT count(*) FROM audit_events WHERE action = 'number.reveal' AND target = :id"
            ),
            {"id": public_id},
        ).scalar()
    assert reveals == 1


def test_an_auditor_on_a_phone_searches_opens_an_attempt_and_reads_the_audit_log(
    watched, live_server
):
    """At 390 px: the results come first (the search is there, the other filters folded),
    nothing is wider than the screen, and the audit log reads as sentences with their
    targets linked."""
    sender = live_server.create_user("support")
    live_server.send(sender, "123452901")
    auditor = live_server.create_user("auditor")
    page = watched(viewport=PHONE)
    sign_in_as(page, auditor)
    page.goto("/history")
    expect(page.get_by_label("Search")).to_be_visible()
    expect(page.get_by_label("Status")).to_be_hidden()  # folded under Filters (0)
    page.get_by_label("Search").fill("2901")
    page.get_by_role("button", name="Find").click()
    card = page.locator("[data-history] tbody tr").first
    within_the_first_screen(page, "[data-history] tbody tr")
    expect(card).to_contain_text("+60 12-345 2901")
    expect(card.locator(".status-badge")).to_be_visible()
    fits_the_screen(page)
    screenshot(page, "history-phone-auditor")

    card.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("+60 12-345 2901")
    fits_the_screen(page)

    page.goto("/audit")
    within_the_first_screen(page, "[data-event]")
    fits_the_screen(page)
    page.get_by_text("Filters (0)").click()
    page.get_by_label("Action").select_option(label="Signed in")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("[data-filters] > summary")).to_have_text("Filters (1)")
    events = page.locator("[data-event]")
    expect(events.first.locator("[data-words]")).to_contain_text("signed in.")
    expect(events.filter(has_text="exported")).to_have_count(0)
    details = events.first.get_by_text("Recorded details")
    details.click()
    expect(events.first.locator("code").first).to_have_text("auth.success")
    fits_the_screen(page)
    screenshot(page, "audit-log-phone")


def test_a_support_agent_on_a_phone_sees_status_and_resend_on_each_card(watched, live_server):
    agent = live_server.create_user("support")
    live_server.send(agent, "123452902")
    live_server.send(agent, "123452903")
    page = watched(viewport=PHONE)
    sign_in_as(page, agent)
    page.goto("/history")
    cards = page.locator("[data-history] tbody tr").filter(has_text=re.compile(r"290[23]"))
    expect(cards).to_have_count(2)
    for n in range(2):
        expect(cards.nth(n).locator(".status-badge")).to_be_visible()
        expect(cards.nth(n).get_by_role("link", name=re.compile("^Resend to"))).to_be_visible()
    within_the_first_screen(page, "[data-history] tbody tr")
    fits_the_screen(page)
    screenshot(page, "history-phone-support")


def test_the_filters_fold_away_count_what_is_set_and_open_on_an_error(watched, live_server):
    page = watched(allow_error_status=True)  # the refused dates answer 400
    sign_in_as(page, live_server.create_user("auditor"))
    page.goto("/history?status=accepted&environment=sandbox")
    summary = page.locator("[data-filters] > summary")
    expect(summary).to_have_text("Filters (2)")
    expect(page.get_by_label("Status")).to_be_hidden()  # folded: the results come first
    summary.click()
    expect(page.get_by_label("Status")).to_have_value("accepted")
    page.get_by_label("From").fill("2026-03-02")
    page.get_by_label("To").fill("2026-03-01")
    page.get_by_role("button", name="Find").click()
    expect(summary).to_have_text("Filters (4)")
    expect(page.get_by_text("The end date is before the start date.")).to_be_visible()
    page.get_by_role("link", name="Clear these filters").click()
    expect(summary).to_have_text("Filters (0)")

"""History journeys: an auditor filters, opens an attempt, exports and checks the audit log; a
support agent sees masked numbers and reveals one."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from conftest import screenshot, sign_in
from playwright.sync_api import expect
from sqlalchemy import text

from dashboard.extensions import db


def test_an_auditor_filters_opens_exports_and_checks_the_audit_log(watched, live_server):
    sender = live_server.create_user("support")
    live_server.send(sender, "123452201")
    live_server.send(sender, "123452202")
    auditor = live_server.create_user("auditor")
    page = watched()
    sign_in(page, auditor)
    navigation = page.get_by_role("navigation", name="Main")
    navigation.get_by_role("link", name="History", exact=True).click()
    today = datetime.now(UTC).date().isoformat()
    page.get_by_label("Search").fill("2201")
    page.get_by_label("From").fill(today)
    page.get_by_label("To").fill(today)
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(r"q=2201.*date_from=" + today))
    rows = page.get_by_role("row").filter(has_text="+60 12-345 2201")
    expect(rows).to_have_count(1)
    expect(page.get_by_role("row").filter(has_text="2202")).to_have_count(0)
    expect(page.locator("[data-matching]")).to_have_text("1 attempt")
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
    manifest_link = page.get_by_role("link", name="1 attempts (manifest)")
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
    sign_in(page, agent)
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

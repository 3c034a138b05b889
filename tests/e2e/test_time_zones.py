"""Times in the viewer's zone, in a browser set to Kuala Lumpur (UTC+8, so every hour shown
differs from UTC's, and for eight hours a day so does the date): history and its date filter,
the attempt's timeline, the cooldown message, the overview's hours and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from browsing import KUALA_LUMPUR, screenshot, sign_in_as
from playwright.sync_api import Page, expect
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Attempt, AuditEvent

ZONE = ZoneInfo(KUALA_LUMPUR)
NATIONAL = "12-345 2801"
SHOWN = "+60 12-345 2801"


def in_kl(moment: datetime) -> str:
    """How the dashboard writes a time for this browser: ``2026-12-03 04:31:05 +08``."""
    return moment.astimezone(ZONE).strftime("%Y-%m-%d %H:%M:%S +08")


def sent_at(live_server, e164: str) -> list[datetime]:
    with live_server.app.app_context():
        return list(
            db.session.scalars(
                select(Attempt.created_at).where(Attempt.phone_e164 == e164).order_by(Attempt.id)
            )
        )


def send(page: Page, reason: str) -> None:
    page.goto("/send")
    page.get_by_label("Phone number").fill(NATIONAL)
    page.get_by_label("Reason").fill(reason)
    page.get_by_role("button", name="Send code").click()


def open_filters(page: Page) -> None:
    page.locator("[data-filters] > summary").click()


def test_a_browser_in_kuala_lumpur_sees_and_filters_by_its_own_times(watched, live_server):
    page = watched(timezone_id=KUALA_LUMPUR)
    agent = live_server.create_user("support")
    sign_in_as(page, agent)

    # Two sends to one number, at once: the second waits for the cooldown, until a KL time.
    send(page, "Ticket 2801")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Send to {SHOWN}: Accepted")
    send(page, "Ticket 2801, again")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Send to {SHOWN}: Blocked")
    first, second = sent_at(live_server, "+60123452801")
    allowed_from = in_kl(first + timedelta(seconds=60))
    expect(page.locator("[data-retry-at]")).to_contain_text(allowed_from)
    screenshot(page, "time-zone-cooldown")

    # The attempt's timeline.
    expect(page.get_by_text(f"Created: {in_kl(second)}")).to_be_visible()

    # History: each row at its KL time.
    page.goto("/history?q=2801")
    rows = page.locator("[data-history] tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(in_kl(second))
    expect(rows.nth(1)).to_contain_text(in_kl(first))
    expect(page.locator("[data-history] caption")).to_have_text(f"Times in {KUALA_LUMPUR}.")

    # Today, in Kuala Lumpur, holds both sends; the UTC date, when it is another day, neither.
    now = datetime.now(UTC)
    today_here, today_in_utc = now.astimezone(ZONE).date(), now.date()
    for day, expected in ((today_here, 2), (today_in_utc, 2 if today_here == today_in_utc else 0)):
        page.goto("/history?q=2801")
        open_filters(page)
        page.get_by_label("From").fill(day.isoformat())
        page.get_by_label("To").fill(day.isoformat())
        page.get_by_role("button", name="Find").click()
        expect(page.locator("[data-filters] > summary")).to_have_text("Filters (2)")
        if expected:
            expect(page.locator("[data-history] tbody tr")).to_have_count(expected)
        else:
            expect(page.get_by_text("No attempts match these filters.")).to_be_visible()
    screenshot(page, "time-zone-history")

    # The overview's hours are KL's: its last bar is the current hour here (UTC's is 8 off).
    before = datetime.now(ZONE).strftime("%H:00")
    page.goto("/")
    after = datetime.now(ZONE).strftime("%H:00")
    last_hour = page.locator("[data-per-hour] rect").last.get_attribute("data-hour")
    assert last_hour in {before, after}, (last_hour, before, after)
    assert last_hour != now.strftime("%H:00")
    expect(page.locator("#per-hour-heading")).to_contain_text(KUALA_LUMPUR)

    # The audit log, as an auditor in the same zone: the agent's sign-in at its KL time.
    auditor = watched(timezone_id=KUALA_LUMPUR)
    sign_in_as(auditor, live_server.create_user("auditor"))
    auditor.goto(f"/audit?actor={agent}")
    with live_server.app.app_context():
        signed_in = db.session.scalar(
            select(AuditEvent.created_at).where(
                AuditEvent.actor_label == agent, AuditEvent.action == "auth.success"
            )
        )
    event = auditor.locator("[data-event]").filter(has_text="signed in")
    expect(event.locator("[data-event-time]")).to_contain_text(in_kl(signed_in))
    expect(auditor.locator("[data-chain]")).to_contain_text("+08")
    screenshot(auditor, "time-zone-audit-log")

"""The overview: hours as its reader's clock has them (half-hour zones too), a plain empty
state, and the "Needs attention" card."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from freezegun import freeze_time

from dashboard.domain.phone_numbers import parse_mobile_number
from dashboard.extensions import db
from dashboard.models import Attempt
from dashboard.services import overview
from dashboard.services.users import find_by_email

NOW = datetime(2026, 12, 2, 10, 40, tzinfo=UTC)  # 16:10 in Kolkata, 18:40 in Kuala Lumpur


def add_attempt(app, created_at: datetime, status: str = "accepted") -> None:
    parsed = parse_mobile_number("60", "163877652")
    with app.app_context():
        db.session.add(
            Attempt(
                user_id=find_by_email("auditor@example.com").id,
                environment="sandbox",
                country_code="60",
                national_number=parsed.national_number,
                phone_e164=parsed.e164,
                phone_reversed=parsed.reversed_digits,
                message_masked="Code ••••••",
                status=status,
                response_code="SUCCESS" if status == "accepted" else "READ_TIMEOUT",
                idempotency_key=str(uuid.uuid4()),
                created_at=created_at,
            )
        )
        db.session.commit()


def test_the_hours_are_the_viewers_own_even_half_an_hour_off_utc(app, auditor):
    add_attempt(app, datetime(2026, 12, 2, 9, 50, tzinfo=UTC))  # 15:20 in Kolkata
    add_attempt(app, datetime(2026, 12, 2, 10, 20, tzinfo=UTC))  # 15:50 in Kolkata
    with app.app_context(), freeze_time(NOW):
        kolkata = overview.overview(ZoneInfo("Asia/Kolkata")).per_hour
        utc = overview.overview(ZoneInfo("UTC")).per_hour
    assert len(kolkata) == 24
    assert [(h.strftime("%H:%M"), n) for h, n in kolkata[-2:]] == [("15:00", 2), ("16:00", 0)]
    assert [(h.strftime("%H:%M"), n) for h, n in utc[-2:]] == [("09:00", 1), ("10:00", 1)]


def test_a_week_without_attempts_is_said_in_words_not_drawn(app, auditor):
    with app.app_context():
        assert overview.overview(ZoneInfo("UTC")).empty
    page = auditor.get("/").get_data(as_text=True)
    assert "No attempts in the last 7 days." in page and "Nothing needs attention." in page
    assert "data-per-hour" not in page and ">None<" not in page


def test_needs_attention_lists_unknown_outcomes_with_a_link_to_them(app, auditor):
    add_attempt(app, datetime.now(UTC), status="unknown")
    page = auditor.get("/").get_data(as_text=True)
    assert 'data-attention-item="unknown' in page
    assert 'href="/history?status=unknown' in page and "Nothing needs attention." not in page
    assert "Sends per hour" in page and "Busiest hour: 1 send" in page

"""History: newest first, found by the last digits, numbers masked for other people's sends."""

from __future__ import annotations

import re
import uuid

from support import sign_in

from dashboard.domain.phone_numbers import parse_mobile_number
from dashboard.extensions import db
from dashboard.models import Attempt, User, utcnow


def add_attempt(app, user_email: str, number: str, status: str = "accepted", code="SUCCESS"):
    from dashboard.services.users import find_by_email

    with app.app_context():
        parsed = parse_mobile_number("60", number)
        db.session.add(
            Attempt(
                user_id=find_by_email(user_email).id,
                environment="sandbox",
                country_code=parsed.country_code,
                national_number=parsed.national_number,
                phone_e164=parsed.e164,
                phone_reversed=parsed.reversed_digits,
                message_masked="Code ••••••",
                reason="test",
                status=status,
                response_code=code,
                idempotency_key=str(uuid.uuid4()),
                created_at=utcnow(),
            )
        )
        db.session.commit()


def rows_of(page: str) -> int:
    return len(re.findall(r"<tr[ >]", page)) - 1  # minus the header row


def test_search_by_last_digits(app, auditor, make_user):
    make_user("agent@example.com", "support")
    add_attempt(app, "agent@example.com", "163877652")
    add_attempt(app, "agent@example.com", "123456789", status="rejected", code="SMS_FAIL")
    everything = auditor.get("/history").get_data(as_text=True)
    assert rows_of(everything) == 2
    assert everything.index("+60 12-345 6789") < everything.index("+60 16-387 7652")  # newest first

    page = auditor.get("/history?q=7652").get_data(as_text=True)
    assert rows_of(page) == 1
    assert "+60 16-387 7652" in page and "Accepted" in page and "SUCCESS" in page
    assert "Demo" not in page and "agent@example.com" in page
    assert "sandbox" in page

    nothing = auditor.get("/history?q=0000").get_data(as_text=True)
    assert rows_of(nothing) == -1 and "No attempts match these filters." in nothing


def test_the_table_names_its_columns(app, auditor, make_user):
    make_user("agent@example.com", "support")
    add_attempt(app, "agent@example.com", "163877652")
    page = auditor.get("/history").get_data(as_text=True)
    for column in ("Time", "Number", "Status", "Response code", "Environment", "Sender"):
        assert re.search(f'<th scope="col"[^>]*>{column}</th>', page)
    assert re.search(r'<label [^>]*for="q"[^>]*>Search</label>', page)


def test_support_sees_only_the_last_four_digits_of_others_sends(app, client, make_user):
    make_user("agent@example.com", "support")
    make_user("other@example.com", "support")
    add_attempt(app, "other@example.com", "163877652")
    add_attempt(app, "agent@example.com", "123456789")
    sign_in(client, "agent@example.com")
    page = client.get("/history").get_data(as_text=True)
    assert "+60 •••••7652" in page and "163877652" not in page and "387 7652" not in page
    assert "+60 12-345 6789" in page  # their own send


def test_keyset_paging_reaches_older_attempts(app, auditor, make_user):
    make_user("agent@example.com", "support")
    for _ in range(55):
        add_attempt(app, "agent@example.com", "163877652")
    first = auditor.get("/history").get_data(as_text=True)
    assert rows_of(first) == 50 and "55 attempts" in first
    link = re.search(r'href="(/history\?after=[^"]+)">Older attempts', first).group(1)
    second = auditor.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert rows_of(second) == 5
    assert "Older attempts" not in second


def test_a_tampered_cursor_is_a_clear_400(app, auditor, make_user):
    make_user("agent@example.com", "support")
    for _ in range(3):
        add_attempt(app, "agent@example.com", "163877652")
    with app.app_context():
        from dashboard.services.history import Filters, make_cursor

        good = make_cursor(3, 3, Filters())
    assert auditor.get(f"/history?after={good}").status_code == 200
    for bad in (good[:-2] + "xx", "abc", "MTAw", "NQ." + good.split(".", 1)[1]):
        response = auditor.get(f"/history?after={bad}")
        assert response.status_code == 400
        assert "That page link is not valid." in response.get_data(as_text=True)


def test_the_page_size_is_capped(app, auditor):
    assert auditor.get("/history?limit=100").status_code == 200
    response = auditor.get("/history?limit=100000")
    assert response.status_code == 400 and "At most 100 rows a page." in response.text


def test_provider_text_and_names_are_escaped(app, auditor, make_user):
    """The rows are drawn in Python (history.views.table_rows), not by the template's escaping."""
    user_id = make_user("agent@example.com", "support")
    with app.app_context():
        db.session.get(User, user_id).name = '<img src=x onerror="alert(2)">'
        db.session.commit()
    add_attempt(app, "agent@example.com", "163877652", code="<script>alert(1)</script>")
    page = auditor.get("/history").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in page
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;</td>" in page

"""Input validation (SECURITY.md A6, IV-2): an input out of range is refused with a 4xx and a
message, never a 500. Dates are filtered as days in the viewer's zone, which must be instants
that every zone and both databases hold (days.FIRST_DAY to LAST_DAY); an id in a path beyond
what the database holds (64 bits) is no row: a 404 (routing.IdConverter)."""

from __future__ import annotations

import re
import uuid

import pytest
from support import csrf_token, query_scalar
from werkzeug.routing import ValidationError

from dashboard.domain.phone_numbers import parse_mobile_number
from dashboard.extensions import db
from dashboard.models import Attempt, utcnow
from dashboard.routing import MAX_ID
from dashboard.services.users import find_by_email

PAGES = ["/history", "/audit"]
RANGE = "Choose a date between 2000-01-01 and 9998-12-31."
#: The zones furthest east and west of UTC (Etc/GMT+12 is UTC-12).
ZONES = ["Pacific/Kiritimati", "Etc/GMT-14", "Etc/GMT+12", "UTC"]


@pytest.fixture
def auditor_with_an_attempt(app, auditor, make_user):
    make_user("agent@example.com", "support")
    with app.app_context():
        parsed = parse_mobile_number("60", "163877652")
        db.session.add(
            Attempt(
                user_id=find_by_email("agent@example.com").id,
                environment="sandbox",
                country_code=parsed.country_code,
                national_number=parsed.national_number,
                phone_e164=parsed.e164,
                phone_reversed=parsed.reversed_digits,
                message_masked="Code ••••••",
                reason="Ticket 1",
                status="accepted",
                response_code="SUCCESS",
                idempotency_key=str(uuid.uuid4()),
                created_at=utcnow(),
            )
        )
        db.session.commit()
    return auditor


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("date_to=9999-12-31", "date_to"),
        ("date_from=9999-12-31", "date_from"),
        ("date_from=0001-01-01", "date_from"),
        ("date_to=0001-01-01", "date_to"),
        ("date_from=1999-12-31&date_to=2026-01-01", "date_from"),
        ("date_from=2026-01-01&date_to=9999-01-01", "date_to"),
    ],
)
def test_IV2_a_date_out_of_range_is_explained_next_to_its_field(
    app, auditor, path, zone, query, field
):
    auditor.set_cookie("tz", zone)
    response = auditor.get(f"{path}?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert re.search(rf'id="{field}-error">{re.escape(RANGE)}</div>', page)
    assert "before the start date" not in page  # one message, the one that says what to do


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("zone", ZONES)
def test_IV2_the_first_and_last_days_of_the_range_are_searched(
    app, auditor_with_an_attempt, path, zone
):
    client = auditor_with_an_attempt
    client.set_cookie("tz", zone)
    response = client.get(f"{path}?date_from=2000-01-01&date_to=9998-12-31")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    if path == "/history":
        assert "data-matching>1 attempt<" in page
    else:
        assert "<code>auth.success</code>" in page
    assert 'min="2000-01-01"' in page and 'max="9998-12-31"' in page  # the date picker's range
    for day in ("2000-01-01", "9998-12-31"):
        assert client.get(f"{path}?date_from={day}&date_to={day}").status_code == 200
        assert client.get(f"{path}?date_from={day}").status_code == 200
        assert client.get(f"{path}?date_to={day}").status_code == 200


def test_IV2_an_inverted_date_range_on_the_audit_log_is_explained(app, auditor):
    response = auditor.get("/audit?date_from=2026-03-02&date_to=2026-03-01")
    assert response.status_code == 400
    assert 'id="date_to-error">The end date is before the start date.' in response.text


@pytest.mark.parametrize("event_id", ["99999999999999999999", str(2**63), str(2**64 + 1)])
def test_IV2_an_export_id_beyond_64_bits_is_a_404(app, auditor, event_id):
    response = auditor.get(f"/history/exports/{event_id}/manifest.json")
    assert response.status_code == 404


def test_IV2_ids_in_paths_are_what_the_database_holds(app, auditor):
    """The largest id a path takes is the largest a BigInteger (or SQLite's INTEGER) holds,
    and an export's manifest is still found by its id."""
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "history.export_manifest")
    converter = rule._converters["event_id"]
    assert converter.to_python(str(MAX_ID)) == MAX_ID == 2**63 - 1
    for beyond in (MAX_ID + 1, 0):
        with pytest.raises(ValidationError):
            converter.to_python(str(beyond))
    for no_row in (0, 5, MAX_ID):
        assert auditor.get(f"/history/exports/{no_row}/manifest.json").status_code == 404
    page = auditor.get("/history").get_data(as_text=True)
    auditor.post("/history/export", data={"csrf_token": csrf_token(page), "format": "csv"})
    event = query_scalar(app, "SELECT max(id) FROM audit_events WHERE action = 'history.export'")
    assert auditor.get(f"/history/exports/{event}/manifest.json").json["export"] == event

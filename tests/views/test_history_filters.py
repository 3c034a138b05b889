"""Every history filter on both databases, exports with their manifests, reveal, the audit log
page, the overview and the purge."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
from datetime import timedelta

import pytest
from freezegun import freeze_time
from support import csrf_token, db_kind, query_scalar, sign_in

from dashboard.domain.phone_numbers import parse_mobile_number
from dashboard.extensions import db
from dashboard.models import Attempt, utcnow
from dashboard.services.users import find_by_email

NUMBERS = ("163877652", "123456789", "191234567")


@pytest.fixture
def seeded(app, make_user):
    """Six attempts: three numbers, two senders, statuses, codes, environments, reasons, days."""
    with app.app_context():
        if find_by_email("agent@example.com") is None:  # the support fixture may have made it
            make_user("agent@example.com", "support")
    make_user("other@example.com", "support")
    now = utcnow()
    rows = [
        ("agent@example.com", NUMBERS[0], "accepted", "SUCCESS", "sandbox", "Ticket 4711", 3),
        ("agent@example.com", NUMBERS[1], "rejected", "SMS_FAIL", "sandbox", "Ticket 4712", 2),
        ("other@example.com", NUMBERS[2], "unknown", "READ_TIMEOUT", "production", "Chat 99", 2),
        ("other@example.com", NUMBERS[0], "accepted", "SUCCESS", "production", "=HYPERLINK(x)", 1),
        (
            "agent@example.com",
            NUMBERS[2],
            "failed",
            "CONNECTION_REFUSED",
            "sandbox",
            "Call back",
            0,
        ),
        ("agent@example.com", NUMBERS[1], "blocked", "LIMIT_COOLDOWN", "sandbox", "Ticket 4713", 0),
    ]
    with app.app_context():
        for email, number, status, code, env, reason, days_ago in rows:
            parsed = parse_mobile_number("60", number)
            db.session.add(
                Attempt(
                    user_id=find_by_email(email).id,
                    environment=env,
                    country_code="60",
                    national_number=parsed.national_number,
                    phone_e164=parsed.e164,
                    phone_reversed=parsed.reversed_digits,
                    message_masked="Code ••••••",
                    reason=reason,
                    status=status,
                    response_code=code,
                    idempotency_key=str(uuid.uuid4()),
                    created_at=now - timedelta(days=days_ago, minutes=10),
                )
            )
            db.session.commit()
    return now - timedelta(minutes=10)  # when "today's" attempts were made, midnight or not


def found(client, query: str) -> list[str]:
    page = client.get(f"/history?{query}")
    assert page.status_code == 200, page.text[:300]
    return re.findall(r"<code>([A-Z_]*)</code></td>", page.get_data(as_text=True))


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        (
            "",
            [
                "LIMIT_COOLDOWN",
                "CONNECTION_REFUSED",
                "SUCCESS",
                "READ_TIMEOUT",
                "SMS_FAIL",
                "SUCCESS",
            ],
        ),
        ("q=7652", ["SUCCESS", "SUCCESS"]),
        ("q=3877652&match=ends", ["SUCCESS", "SUCCESS"]),
        ("q=%2B6012&match=starts", ["LIMIT_COOLDOWN", "SMS_FAIL"]),
        ("q=6019&match=starts", ["CONNECTION_REFUSED", "READ_TIMEOUT"]),
        ("q=789&match=contains", ["LIMIT_COOLDOWN", "SMS_FAIL"]),
        ("q=877&match=contains", ["SUCCESS", "SUCCESS"]),
        ("q=%2B60163877652&match=exact", ["SUCCESS", "SUCCESS"]),
        ("q=60163877652&match=exact", ["SUCCESS", "SUCCESS"]),
        ("status=rejected", ["SMS_FAIL"]),
        ("response_code=success", ["SUCCESS", "SUCCESS"]),
        ("environment=production", ["SUCCESS", "READ_TIMEOUT"]),
        ("reason=ticket", ["LIMIT_COOLDOWN", "SMS_FAIL", "SUCCESS"]),
        ("reason=%3DHYP", ["SUCCESS"]),
        ("status=accepted&environment=sandbox", ["SUCCESS"]),
        ("q=7652&environment=production&status=accepted", ["SUCCESS"]),
        ("reason=%25_%27", []),  # LIKE's wildcards are taken literally
        ("reason=t_4", []),  # as a wildcard, "_" would find "Ticket 4711"
        ("reason=t%254", []),  # and "%" too
        ("reason=4712", ["SMS_FAIL"]),  # no letters: LIKE on PostgreSQL, not ILIKE
    ],
)
def test_every_filter(app, auditor, seeded, query, codes):
    assert found(auditor, query) == codes


def test_sender_and_date_filters(app, auditor, seeded):
    other = find_id(app, "other@example.com")
    assert found(auditor, f"sender={other}") == ["SUCCESS", "READ_TIMEOUT"]
    today = seeded.date()
    two_days_ago = (seeded - timedelta(days=2)).date()
    assert found(auditor, f"date_from={today}") == ["LIMIT_COOLDOWN", "CONNECTION_REFUSED"]
    assert found(auditor, f"date_from={two_days_ago}&date_to={two_days_ago}") == [
        "READ_TIMEOUT",
        "SMS_FAIL",
    ]
    assert found(auditor, "date_from=2001-01-01&date_to=2001-01-02") == []


def find_id(app, email):
    with app.app_context():
        return find_by_email(email).id


def test_dates_are_days_in_the_viewers_zone(app, auditor, make_user):
    from test_history import add_attempt

    make_user("agent@example.com", "support")
    with freeze_time("2026-03-01 17:30:00"):  # 01:30 on 2 March in Kuala Lumpur (UTC+8)
        add_attempt(app, "agent@example.com", "163877652")
    auditor.set_cookie("tz", "Asia/Kuala_Lumpur")
    assert len(found(auditor, "date_from=2026-03-02&date_to=2026-03-02")) == 1
    assert found(auditor, "date_from=2026-03-01&date_to=2026-03-01") == []
    page = auditor.get("/history").get_data(as_text=True)
    assert "2026-03-02" in page and "+08" in page and "Asia/Kuala_Lumpur" in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("q=12&match=contains", "at least 3 digits"),
        ("q=abc", "Type digits of the number"),
        ("status=sent", "Not a valid choice"),
        ("date_from=yesterday", "Not a valid date value"),
        ("date_from=2026-03-02&date_to=2026-03-01", "before the start date"),
        ("reason=ab", "3 to 100 characters"),
        ("response_code=%3Cscript%3E", "Codes look like SMS_FAIL"),
    ],
)
def test_bad_filters_are_explained_with_a_400(app, auditor, query, message):
    response = auditor.get(f"/history?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_counts_stop_at_a_thousand(app, auditor, make_user):
    make_user("agent@example.com", "support")
    user_id = find_id(app, "agent@example.com")
    with app.app_context():
        db.session.execute(
            Attempt.__table__.insert(),
            [
                {
                    "public_id": str(uuid.uuid4()),
                    "created_at": utcnow(),
                    "user_id": user_id,
                    "environment": "sandbox",
                    "country_code": "60",
                    "national_number": "163877652",
                    "phone_e164": "+60163877652",
                    "phone_reversed": "25677836106",
                    "message_masked": "x",
                    "reason": "bulk",
                    "status": "accepted",
                    "idempotency_key": str(uuid.uuid4()),
                    "code_failed_checks": 0,
                }
                for _ in range(1001)
            ],
        )
        db.session.commit()
    assert "1,000+ attempts" in auditor.get("/history").get_data(as_text=True)


def export(client, fmt: str, query: str = ""):
    page = client.get(f"/history?{query}").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "format": fmt}
    data.update(dict(pair.split("=") for pair in query.split("&") if pair))
    return client.post("/history/export", data=data)


def test_csv_export_matches_the_filtered_rows_and_its_manifest(app, auditor, seeded):
    response = export(auditor, "csv", "environment=sandbox")
    body = response.get_data()
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    with app.app_context():
        expected = [
            a.public_id
            for a in db.session.query(Attempt)
            .filter(Attempt.environment == "sandbox")
            .order_by(Attempt.id.desc())
        ]
    assert [r["id"] for r in rows] == expected
    assert rows[0]["phone_e164"] == "'+60123456789"  # a leading + would be a formula
    assert all(r["created_at"].endswith("Z") for r in rows)
    event = query_scalar(app, "SELECT max(id) FROM audit_events WHERE action = 'history.export'")
    manifest = auditor.get(f"/history/exports/{event}/manifest.json").json
    assert manifest["rows"] == 4 and manifest["complete"] is True
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["filters"] == {"environment": "sandbox"} and manifest["times"] == "UTC"


def test_formula_cells_are_escaped_in_csv_but_kept_in_json_lines(app, auditor, seeded):
    rows = list(
        csv.DictReader(io.StringIO(export(auditor, "csv", "reason=HYP").get_data(as_text=True)))
    )
    assert rows[0]["reason"] == "'=HYPERLINK(x)"
    lines = export(auditor, "jsonl", "reason=HYP").get_data(as_text=True).splitlines()
    assert json.loads(lines[0])["reason"] == "=HYPERLINK(x)"


def test_support_cannot_export(app, support, seeded):
    assert export(support, "csv").status_code == 403


def test_reveal_shows_the_number_and_is_audited(app, support, seeded):
    others = query_scalar(app, "SELECT public_id FROM attempts WHERE reason = 'Chat 99'")
    page = support.get(f"/attempts/{others}").get_data(as_text=True)
    assert "+60 •••••4567" in page and "19-123 4567" not in page
    refused = support.post(f"/attempts/{others}/reveal", data={"csrf_token": csrf_token(page)})
    assert "Say why you need the full number." in refused.get_data(as_text=True)
    shown = support.post(
        f"/attempts/{others}/reveal",
        data={"reason": "Customer on the phone", "csrf_token": csrf_token(page)},
    ).get_data(as_text=True)
    assert "+60 19-123 4567" in shown
    details = query_scalar(app, "SELECT details FROM audit_events WHERE action = 'number.reveal'")
    assert "Customer on the phone" in str(details)


def test_the_attempt_page_shows_its_timeline(app, auditor, seeded):
    public_id = query_scalar(app, "SELECT public_id FROM attempts WHERE reason = 'Ticket 4711'")
    page = auditor.get(f"/attempts/{public_id}").get_data(as_text=True)
    assert "Timeline" in page and "Created:" in page and "Not finished yet" in page


def test_the_audit_log_page_filters_and_checks_the_chain(app, client, make_user):
    make_user("boss@example.com", "admin")
    make_user("auditor@example.com", "auditor")
    sign_in(client, "auditor@example.com")
    page = client.get("/audit").get_data(as_text=True)
    assert "Chain verified up to event" in page and "user.create" in page
    only = client.get("/audit?action=auth.success").get_data(as_text=True)
    assert "auth.success" in only and "<code>user.create</code>" not in only
    mine = client.get("/audit?actor=AUDITOR@example.com").get_data(as_text=True)
    assert "<code>auth.success</code>" in mine and "<code>user.create</code>" not in mine
    assert client.get("/audit?after=forged").status_code == 400


def test_the_overview(app, auditor, seeded):
    page = auditor.get("/").get_data(as_text=True)
    assert "Overview" in page and "Sends per hour" in page and "<svg" in page
    assert re.search(r"data-acceptance>\s*50\.0%", page)  # 2 accepted of 4 decided this week
    assert "<code>SUCCESS</code> 2" in page


def test_purge_deletes_by_age_and_is_audited(app, auditor, seeded):
    runner = app.test_cli_runner()
    with freeze_time(utcnow() + timedelta(days=40)):  # the attempts are now 40 to 43 days old
        first = runner.invoke(args=["attempts", "purge", "--older-than", "41"])
        assert "Deleted 4 attempts older than 41 days." in first.output
        second = runner.invoke(args=["attempts", "purge", "--older-than", "39"])
        assert "Deleted 2 attempts" in second.output
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 0
    assert (
        query_scalar(app, "SELECT count(*) FROM audit_events WHERE action = 'attempts.purge'") == 2
    )
    refused = runner.invoke(args=["attempts", "purge", "--older-than", "0"])
    assert refused.exit_code != 0


def test_purge_refreshes_the_planner_statistics(app, seeded):
    """SQLite never analyzes by itself: after a purge the planner knows the table's new size."""
    purge = ["attempts", "purge", "--older-than", "1"]
    if db_kind(app) == "sqlite":
        assert (
            query_scalar(app, "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'") == 0
        )
        assert "Deleted 3 attempts" in app.test_cli_runner().invoke(args=purge).output
        sizes = "SELECT group_concat(DISTINCT substr(stat, 1, instr(stat || ' ', ' ') - 1))"
        sizes += " FROM sqlite_stat1 WHERE tbl = 'attempts'"
    else:
        analyses = "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'attempts'"
        before = query_scalar(app, analyses)
        assert "Deleted 3 attempts" in app.test_cli_runner().invoke(args=purge).output
        assert query_scalar(app, analyses) == before + 1
        sizes = "SELECT reltuples::int::text FROM pg_class WHERE relname = 'attempts'"
    assert query_scalar(app, sizes) == str(query_scalar(app, "SELECT count(*) FROM attempts"))


def test_purge_never_deletes_the_last_30_days_unresolved(app, seeded):
    result = app.test_cli_runner().invoke(args=["attempts", "purge", "--older-than", "1"])
    assert "Deleted 3 attempts" in result.output  # the 4 older than a day, but the unknown one
    assert query_scalar(app, "SELECT count(*) FROM attempts WHERE status = 'unknown'") == 1

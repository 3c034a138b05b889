"""What a history page view costs: the same few queries for one row or a hundred, substring
searches driven by the trigram index, and the idle clock and the reconciliation of interrupted
sends done at most once a minute."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from freezegun import freeze_time
from sqlalchemy import event, text
from support import base_config, db_kind, migrate

from dashboard import create_app
from dashboard.domain.phone_numbers import parse_mobile_number
from dashboard.extensions import db
from dashboard.models import Attempt, utcnow
from dashboard.services import history, sending
from dashboard.services.users import find_by_email


def add_attempts(app, count: int, *, number: str = "123456789", **fields) -> None:
    """``count`` attempts to ``number``, sent (for the test's sake) by the auditor."""
    parsed = parse_mobile_number("60", number)
    with app.app_context():
        sender = find_by_email("auditor@example.com")
        db.session.add_all(
            Attempt(
                user_id=sender.id,
                environment="sandbox",
                country_code="60",
                national_number=parsed.national_number,
                phone_e164=parsed.e164,
                phone_reversed=parsed.reversed_digits,
                message_masked="Your code is ******",
                idempotency_key=uuid.uuid4().hex,
                **{"status": "accepted", "response_code": "SUCCESS", **fields},
            )
            for n in range(count)
        )
        db.session.commit()


@contextmanager
def selects(app) -> Iterator[list[str]]:
    """The SELECT statements run inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_page_of_a_hundred_rows_runs_the_queries_of_a_page_of_one(app, auditor):
    add_attempts(app, 120)
    auditor.get("/history")  # a first view reconciles interrupted sends; later ones need not
    with selects(app) as one:
        assert auditor.get("/history?limit=1").status_code == 200
    with selects(app) as hundred:
        page = auditor.get("/history?limit=100").get_data(as_text=True)
    assert page.count('class="badge status-badge') == 100
    # user, settings, senders, the page, its count; and the banner's set-up check (attention)
    assert len(hundred) == len(one) <= 6
    assert sum("FROM settings" in s for s in hundred) == 1
    older = re.search(r'href="(/history\?[^"]+)">Older attempts', page).group(1)
    with selects(app) as deeper:
        second = auditor.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert len(deeper) == len(hundred) - 1  # the count rides along in the cursor
    assert "120 attempts" in page and "120 attempts" in second
    assert second.count('class="badge status-badge') == 20


def test_paging_a_common_substring_visits_every_match_once_newest_first(app, auditor):
    add_attempts(app, 70, number="123456789")
    add_attempts(app, 5, number="191234567")  # "345" is in both numbers
    with app.app_context():
        expected = [a.public_id for a in db.session.query(Attempt).order_by(Attempt.id.desc())]
    seen: list[str] = []
    url = "/history?q=345&match=contains&limit=30"
    while url:
        page = auditor.get(url).get_data(as_text=True)
        seen += re.findall(r'href="/attempts/([0-9a-f-]{36})"', page)
        found = re.search(r'href="(/history\?[^"]+)">Older attempts', page)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert seen == expected


def test_sqlite_searches_start_from_the_index_of_what_is_searched(tmp_path):
    """The planner must start from the FTS5 index in its rowid order (stopping at the page's
    last row), not collect every match and sort them: 0.2 ms against 375 ms at a million.
    The capped count too, and with another filter beside the substring, on a database without
    statistics (as the app leaves it), where the status index was taken first: 138 s."""
    url = f"sqlite:///{tmp_path / 'plan.sqlite'}"
    migrate(url, tmp_path)
    app = create_app(base_config(url, "http://127.0.0.1:9", tmp_path))
    with app.app_context():
        for filters in (
            history.Filters(number="6012", match="contains"),
            history.Filters(reason="ticket"),
            history.Filters(number="229", match="contains", status="failed"),
        ):
            page = history.query(filters, before=5000).limit(51)
            count = history.capped_count(history.query(filters), history.SHOWN_AS_MANY + 1)
            for statement in (page, count):
                plan = sqlite_plan(statement)
                assert plan[0].startswith("SCAN search_attempts VIRTUAL TABLE"), plan
                assert not any("TEMP B-TREE" in step for step in plan), plan
        # Last digits are as rare as their count says: their index goes first, not the
        # status's in id order (131 ms for 14 matches among 300,000 attempts; now 14 ms).
        last_digits = history.Filters(number="2998", match="ends", status="accepted")
        plan = sqlite_plan(history.query(last_digits).limit(51))
        assert "ix_attempts_phone_reversed_id" in plan[0], plan
        db.engine.dispose()


def sqlite_plan(statement) -> list[str]:
    """The steps of SQLite's plan for ``statement`` (a subquery's CO-ROUTINE line left out)."""
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    explained = db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
    return [row[3] for row in explained if not row[3].startswith("CO-ROUTINE")]


def test_history_views_reconcile_interrupted_sends_at_most_once_a_minute(app, auditor):
    stale = utcnow() - sending.STALE_AFTER - timedelta(seconds=1)
    add_attempts(app, 1, number="123456789", status="pending", created_at=stale)
    with freeze_time(utcnow() + sending.RECONCILE_EVERY) as clock:  # after any earlier look
        page = auditor.get("/history").get_data(as_text=True)
        assert page.count("status-pending") == 0 and page.count("status-unknown") == 1
        add_attempts(app, 1, number="191234567", status="pending", created_at=stale)
        page = auditor.get("/history").get_data(as_text=True)
        assert page.count("status-pending") == 1 and page.count("status-unknown") == 1
        clock.tick(sending.RECONCILE_EVERY)
        page = auditor.get("/history").get_data(as_text=True)
    assert page.count("status-pending") == 0 and page.count("status-unknown") == 2


def test_the_idle_clock_is_re_signed_at_most_once_a_minute(app, auditor):
    with freeze_time(utcnow() + timedelta(minutes=2)) as clock:
        assert "session=" in auditor.get("/history").headers.get("Set-Cookie", "")
        clock.tick(timedelta(seconds=30))
        assert "Set-Cookie" not in auditor.get("/history").headers
        clock.tick(timedelta(seconds=31))
        assert "session=" in auditor.get("/history").headers.get("Set-Cookie", "")


def test_a_cursor_moved_to_other_filters_counts_them_afresh(app, auditor):
    add_attempts(app, 60, number="123456789")
    add_attempts(app, 5, number="191234567")
    first = auditor.get("/history").get_data(as_text=True)
    older = re.search(r'href="/history\?after=([^"&]+)"', first).group(1)
    edited = auditor.get(f"/history?q=4567&after={older}").get_data(as_text=True)
    assert "65 attempts" in first and "5 attempts" in edited


def count_shown(page: str) -> str:
    return re.search(r"data-matching>([^<]+)<", page).group(1).strip()


def test_counts_are_exact_below_the_cap_and_capped_above_it_dense_or_sparse(
    app, auditor, monkeypatch
):
    """Sparse matches are counted plainly. On PostgreSQL a page of dense matches is counted
    first among the ids just below it, and plainly when too few lie there. Every way gives
    the same answer. (A cap of 30 and a window of 60 ids keep the test small.)"""
    monkeypatch.setattr(history, "SHOWN_AS_MANY", 30)
    monkeypatch.setattr(history, "DENSE_SPAN", 2)
    windowed = 0 if db_kind(app) == "sqlite" else 1
    add_attempts(app, 300, number="198765432")  # no "345": the window never reaches id 1
    for _ in range(12):  # sparse: one match in ten
        add_attempts(app, 1, number="123456789")
        add_attempts(app, 9, number="198765432")

    def counts(limit: int) -> tuple[str, int, int]:
        with selects(app) as seen:
            page = auditor.get(f"/history?q=345&match=contains&limit={limit}")
        counted = [s for s in seen if "count(" in s]
        in_window = sum("attempts.id >" in s for s in counted)
        return count_shown(page.get_data(as_text=True)), len(counted), in_window

    assert counts(2) == ("12 attempts", 1, 0)
    add_attempts(app, 15, number="123456789")  # dense, but the window holds fewer than 31
    assert counts(5) == ("27 attempts", 1 + windowed, windowed)
    add_attempts(app, 40, number="123456789")  # dense, and the window holds enough
    assert counts(5) == ("30+ attempts", 1, windowed)


def test_postgresql_plans_each_search_for_its_own_digits(app):
    """psycopg would prepare a statement on its fifth run, after which PostgreSQL may keep one
    plan for any digits; a common substring and a rare one need different plans."""
    if db_kind(app) == "sqlite":
        assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {}
        return
    with app.app_context():
        driver_connection = db.session.connection().connection.dbapi_connection
        assert driver_connection.prepare_threshold is None

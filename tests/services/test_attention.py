"""What needs attention: the site-wide banner and the overview's card, on both databases."""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from support.bulk import seed_attempts

from dashboard.database import write_transaction
from dashboard.extensions import db
from dashboard.models import Attempt, utcnow
from dashboard.revenuemonster import keys
from dashboard.services import (
    attention,
    environments,
    limits,
    provider_accounts,
    sending,
    users,
)
from dashboard.services.attention import needs_attention, setup_problem, site_notices

KL = ZoneInfo("Asia/Kuala_Lumpur")


@pytest.fixture
def sender(app) -> int:
    with app.app_context():
        user, _ = users.create_user("sender@example.com", "support", "test")
        return user.id


def record(app, sender: int, status: str, code: str | None, *, ago=timedelta(0), env="sandbox"):
    """An attempt as the send path leaves it, ``ago`` before now (set-up, not under test)."""
    with app.app_context(), write_transaction():
        db.session.add(
            Attempt(
                created_at=utcnow() - ago,
                user_id=sender,
                environment=env,
                country_code="60",
                national_number="163877652",
                phone_e164="+60163877652",
                phone_reversed="25677836106",
                message_masked="Your code is ******",
                status=status,
                response_code=code,
                idempotency_key=str(uuid.uuid4()),
            )
        )


def kinds(app, zone=KL) -> list[str]:
    with app.app_context():
        return [item.kind for item in needs_attention(zone)]


def test_setup_codes_are_those_only_an_admin_can_fix():
    assert {
        "INVALID_CLIENT",
        "INVALID_REQUEST_SIGNATURE",
        "NO_CREDENTIALS",
    } <= attention.SETUP_CODES
    assert "INSUFFICIENT_MERCHANT_BALANCE" in attention.BALANCE_CODES
    for code in ("SUCCESS", "SMS_FAIL", "READ_TIMEOUT", "CONNECTION_REFUSED", "LIMIT_COOLDOWN"):
        assert not attention.is_setup_error(code), code


def test_nothing_needs_attention_on_a_quiet_day(app, sender):
    record(app, sender, "accepted", "SUCCESS")
    with app.app_context():
        assert site_notices() == []
        assert needs_attention(KL) == []


def test_a_setup_error_shows_until_a_later_send_is_accepted(app, sender):
    record(app, sender, "accepted", "SUCCESS", ago=timedelta(minutes=10))
    record(app, sender, "rejected", "INVALID_CLIENT", ago=timedelta(minutes=5))
    # Sends that tell nothing about the set-up do not clear it.
    record(app, sender, "failed", "CONNECTION_REFUSED", ago=timedelta(minutes=4))
    record(app, sender, "unknown", "READ_TIMEOUT", ago=timedelta(minutes=3))
    record(app, sender, "blocked", "LIMIT_COOLDOWN", ago=timedelta(minutes=2))
    with app.app_context():
        [notice] = site_notices()
        assert notice.kind == "setup" and notice.tone == "danger"
        assert notice.message == (
            "Sending is failing because of the RevenueMonster set-up: RevenueMonster does not "
            "know the client ID and secret stored here. An admin must fix it."
        )
        problem = setup_problem()
        assert problem is not None and problem.code == "INVALID_CLIENT"
        assert notice.endpoint == "sms.attempt"
        assert notice.args == {"public_id": problem.attempt_public_id}
    assert kinds(app)[0] == "setup"
    record(app, sender, "accepted", "SUCCESS")
    with app.app_context():
        assert site_notices() == []
    assert "setup" not in kinds(app)


def test_a_refusal_for_another_reason_shows_the_set_up_works(app, sender):
    record(app, sender, "rejected", "INVALID_REQUEST_SIGNATURE", ago=timedelta(minutes=1))
    record(app, sender, "rejected", "SMS_FAIL")
    with app.app_context():
        assert setup_problem() is None


def test_a_failure_here_for_missing_credentials_is_a_setup_error(app, sender):
    record(app, sender, "failed", "NO_CREDENTIALS")
    with app.app_context():
        problem = setup_problem()
        assert problem is not None and problem.code == "NO_CREDENTIALS"


def test_saving_the_account_clears_the_banner_until_the_next_failure(app, sender, sandbox):
    record(app, sender, "rejected", "UNAUTHORIZED", ago=timedelta(minutes=1))
    with app.app_context():
        assert setup_problem() is None  # the sandbox fixture saved the account just now
        account = provider_accounts.account("sandbox")
        assert account is not None
        with write_transaction():
            account.updated_at = utcnow() - timedelta(hours=1)
        assert setup_problem() is not None
    record(app, sender, "rejected", "UNAUTHORIZED")
    with app.app_context():
        assert setup_problem() is not None


def test_only_the_active_environment_counts_for_the_banner(app, sender):
    record(app, sender, "rejected", "INVALID_CLIENT", env="production")
    with app.app_context():
        assert setup_problem() is None
        assert setup_problem("production") is not None


def test_paused_sending_is_in_the_banner_with_its_reason(app, sender):
    with app.app_context():
        limits.save(dataclasses.replace(limits.current(), paused=True, paused_reason="Audit"), "t")
        [notice] = site_notices()
        assert (notice.kind, notice.message) == ("paused", "Sending is paused by an admin: Audit")
        [item] = needs_attention(KL)
        assert (item.kind, item.endpoint, item.count) == ("paused", "admin.limits_page", None)
        limits.save(dataclasses.replace(limits.current(), paused_reason=""), "t")
        assert site_notices()[0].message == "Sending is paused by an admin."


def test_the_card_counts_balance_errors_and_unknowns_of_the_last_day(app, sender):
    for _ in range(2):
        record(app, sender, "rejected", "INSUFFICIENT_MERCHANT_BALANCE", ago=timedelta(hours=2))
    record(app, sender, "rejected", "INSUFFICIENT_MERCHANT_BALANCE", ago=timedelta(hours=30))
    for _ in range(3):
        record(app, sender, "unknown", "READ_TIMEOUT", ago=timedelta(hours=1))
    record(app, sender, "unknown", "HTTP_502", ago=timedelta(hours=25))
    record(app, sender, "accepted", "SUCCESS")  # the set-up works again
    with app.app_context():
        items = {item.kind: item for item in needs_attention(KL)}
    assert set(items) == {"balance", "unknown_outcomes"}
    assert items["balance"].count == 2 and items["unknown_outcomes"].count == 3
    day = (utcnow() - attention.RECENT).astimezone(KL).date().isoformat()
    assert items["unknown_outcomes"].endpoint == "history.index"
    assert items["unknown_outcomes"].args == {"status": "unknown", "date_from": day}
    assert items["balance"].args == {
        "response_code": "INSUFFICIENT_MERCHANT_BALANCE",
        "date_from": day,
    }


def test_the_card_counts_sends_stuck_pending(app, sender):
    record(app, sender, "pending", None, ago=sending.STALE_AFTER + timedelta(seconds=5))
    record(app, sender, "pending", None)  # under way: not stuck
    with app.app_context():
        [item] = needs_attention(KL)
    assert (item.kind, item.count, item.args) == ("stuck_pending", 1, {"status": "pending"})


def test_the_card_says_when_production_is_active(app, sender, private_key):
    with app.app_context():
        provider_accounts.configure(
            "production",
            "test",
            client_id="prod",
            client_secret="secret",
            private_key_pem=keys.private_key_pem(private_key),
        )
        environments.use_environment("production", "test")
    assert kinds(app) == ["production"]


def test_the_banner_queries_stay_few(app, sender):
    """It runs on every page: one query for the settings, one for the newest telling attempt,
    one for the account only when that attempt failed for its set-up."""
    record(app, sender, "rejected", "INVALID_CLIENT")
    with app.app_context():
        statements: list[str] = []

        def count(conn, cursor, sql, *rest) -> None:  # type: ignore[no-untyped-def]
            statements.append(sql)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            site_notices()
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 3


def test_every_page_shows_the_banner(app, support, sender):
    record(app, sender, "rejected", "INVALID_CLIENT")
    with app.app_context():
        limits.save(dataclasses.replace(limits.current(), paused=True, paused_reason="Audit"), "t")
    for path in ("/", "/history", "/account"):
        page = support.get(path).get_data(as_text=True)
        assert "Sending is failing because of the RevenueMonster set-up" in page, path
        assert "Sending is paused by an admin: Audit" in page, path


def test_a_page_still_renders_when_the_banner_cannot_be_read(app, support, monkeypatch):
    def broken() -> list:
        raise OperationalError("SELECT", {}, Exception("database down"))

    monkeypatch.setattr(attention, "site_notices", broken)
    response = support.get("/account")
    assert response.status_code == 200
    assert "Sending is failing" not in response.get_data(as_text=True)


def test_the_questions_read_indexes_not_the_whole_table(app, sender):
    """Every page asks them: with many attempts, none of the statements scans the table (the
    plans are read from the database itself, after ANALYZE)."""
    seed_attempts(app, 20_000, user_id=sender, start=utcnow() - timedelta(hours=40), step=7)
    record(app, sender, "rejected", "INVALID_CLIENT")
    record(app, sender, "pending", None, ago=timedelta(hours=1))
    with app.app_context():
        dialect = db.engine.dialect.name
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        statements: list[tuple[str, object]] = []

        def keep(conn, cursor, sql, parameters, *rest) -> None:  # type: ignore[no-untyped-def]
            if "attempts" in sql:
                statements.append((sql, parameters))

        event.listen(db.engine, "before_cursor_execute", keep)
        try:
            assert site_notices()[0].kind == "setup"
            kinds_seen = {item.kind for item in needs_attention(KL)}
            assert {"setup", "unknown_outcomes", "stuck_pending"} <= kinds_seen
        finally:
            event.remove(db.engine, "before_cursor_execute", keep)
        assert len(statements) == 5  # the newest telling attempt (twice), three counts
        with db.engine.connect() as conn:
            for sql, parameters in statements:
                explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
                plan = "\n".join(
                    str(row[-1]) for row in conn.exec_driver_sql(explain + sql, parameters)
                )
                assert not re.search(r"\bSCAN attempts\b(?! USING)|Seq Scan on attempts", plan), (
                    sql,
                    plan,
                )

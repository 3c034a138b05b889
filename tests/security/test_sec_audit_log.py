"""The audit log (SECURITY.md A9: LG-4): append-only in the database, hash-chained, and
complete for sign-ins, locks, refusals and user changes."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from support import csrf_token, query_scalar, sign_in

from dashboard.extensions import db


def actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(text("SELECT action FROM audit_events ORDER BY id")))


def test_LG4_update_and_delete_are_refused_by_the_database(app, make_user):
    make_user("agent@example.com", "support")
    with app.app_context():
        for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
    assert query_scalar(app, "SELECT count(*) FROM audit_events") == 1


def test_LG4_audit_verify_finds_a_row_altered_behind_the_apps_back(app, make_user):
    for n in range(3):
        make_user(f"user{n}@example.com", "support")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    with app.app_context():
        backend = db.engine.dialect.name
        if backend == "postgresql":
            db.session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            db.session.execute(text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(text("UPDATE audit_events SET target = 'someone-else' WHERE id = 2"))
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code != 0
    assert "broken at event 2: its content was changed" in result.output


def test_sign_ins_locks_refusals_and_user_changes_are_audited(app, client, make_user):
    make_user("boss@example.com", "admin")
    agent = make_user("agent@example.com", "support")
    sign_in(client, "agent@example.com", "not the password")
    sign_in(client, "agent@example.com")
    client.get("/admin/users")  # refused
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    sign_in(client, "boss@example.com")
    page = client.get(f"/admin/users/{agent}").get_data(as_text=True)
    client.post(
        f"/admin/users/{agent}/role", data={"role": "auditor", "csrf_token": csrf_token(page)}
    )
    client.post(f"/admin/users/{agent}/disable", data={"csrf_token": csrf_token(page)})
    recorded = actions(app)
    for action in (
        "user.create",
        "two_step.enable",
        "auth.failure",
        "auth.success",
        "access.denied",
        "auth.sign_out",
        "user.role_change",
        "user.disable",
    ):
        assert action in recorded, action
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0

"""The audit log (SECURITY.md A9: LG-4; docs/security.md: LG-6, LG-7): append-only in the
database (TRUNCATE too), chained with a keyed MAC, anchored by checkpoints in the database and
outside it, and complete for sign-ins, locks, refusals and user changes."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DatabaseError
from support import PASSWORD, base_config, csrf_token, db_kind, query_scalar, sign_in

from dashboard import create_app
from dashboard.extensions import db
from dashboard.logs import JSONFormatter
from dashboard.models import AuditEvent
from dashboard.services import users
from dashboard.services.audit import GENESIS_HASH


def actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(text("SELECT action FROM audit_events ORDER BY id")))


def behind_the_apps_back(app, *statements: str) -> None:
    """Run ``statements`` as someone who may switch the append-only triggers off (a superuser
    on PostgreSQL, in one transaction that switches them on again: the database outlives the
    test; on SQLite, whoever can write the file, which is the test's own copy)."""
    with app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
        for table in ("audit_events", "audit_checkpoints"):
            if postgresql:
                db.session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                for verb in ("update", "delete"):
                    db.session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
        for statement in statements:
            db.session.execute(text(statement))
        if postgresql:
            for table in ("audit_events", "audit_checkpoints"):
                db.session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        db.session.commit()


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
    behind_the_apps_back(app, "UPDATE audit_events SET target = 'someone-else' WHERE id = 2")
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


# -- LG-6: the chain is keyed; LG-7: anchored by checkpoints, in the database and outside -----

GOOD = "a1:" + base64.b64encode(b"a" * 32).decode()  # support.AUDIT_KEY
NEWER = "a2:" + base64.b64encode(b"b" * 32).decode()


def verify(app, *args: str):
    return app.test_cli_runner().invoke(args=["audit", "verify", *args])


def take_checkpoint(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    words = result.output.split()
    assert words[:2] == ["audit", "checkpoint:"]
    sequence, mac = words[2].split(":")
    return int(sequence), mac


def make_events(make_user, count: int) -> None:
    for n in range(count):
        make_user(f"user{n}@example.com", "support")


def legacy_hash(prev: str, row) -> str:
    """The unkeyed SHA-256 of the events recorded before the keyed chain (issue 16)."""
    content = json.dumps(
        {
            "created_at": row["created_at"],
            "actor_id": row["actor_id"],
            "actor_label": row["actor_label"],
            "action": row["action"],
            "target": row["target"],
            "details": row["details"],
            "ip": row["ip"],
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(f"{prev}{content}".encode()).hexdigest()


def insert_legacy(app, event_id: int, prev: str, action: str = "legacy.event") -> str:
    """An event as the unkeyed chain wrote it (no key id); returns its hash."""
    row = {
        "id": event_id,
        "created_at": datetime(2026, 11, 1, 12, event_id % 60, tzinfo=UTC).isoformat(),
        "actor_id": None,
        "actor_label": "command line",
        "action": action,
        "target": f"t{event_id}",
        "details": {},
        "ip": None,
    }
    digest = legacy_hash(prev, row)
    with app.app_context():
        db.session.execute(
            insert(AuditEvent),
            [
                {
                    **row,
                    "created_at": datetime.fromisoformat(row["created_at"]),
                    "prev_hash": prev,
                    "hash": digest,
                }
            ],
        )
        db.session.commit()
    return digest


def test_LG6_an_edit_with_the_unkeyed_hash_recomputed_is_found(app, make_user):
    """The old chain could be recomputed by anyone who could write the table; the MAC cannot
    be without DASHBOARD_AUDIT_KEY."""
    make_events(make_user, 3)
    assert verify(app).exit_code == 0
    with app.app_context():
        row = dict(
            db.session.execute(text("SELECT * FROM audit_events WHERE id = 3")).mappings().one()
        )
    row["target"] = "someone-else"
    row["created_at"] = as_utc(row["created_at"]).isoformat()
    row["details"] = (
        json.loads(row["details"]) if isinstance(row["details"], str) else row["details"]
    )
    forged = legacy_hash(row["prev_hash"], row)
    behind_the_apps_back(
        app, f"UPDATE audit_events SET target = 'someone-else', hash = '{forged}' WHERE id = 3"
    )
    result = verify(app)
    assert result.exit_code != 0
    assert "broken at event 3: its content was changed" in result.output
    # Nor may the forger drop the key id to pass the row off as one of the old chain.
    behind_the_apps_back(app, "UPDATE audit_events SET key_id = NULL WHERE id = 3")
    result = verify(app)
    assert result.exit_code != 0
    assert "broken at event 3: it has no MAC key, yet it follows keyed events" in result.output


def test_LG6_events_name_their_key_so_a_new_key_can_come_first(app, make_user, tmp_path):
    make_events(make_user, 2)
    rotated = other_app(app, tmp_path, AUDIT_KEY=f"{NEWER},{GOOD}")
    with rotated.app_context():
        users.create_user("after@example.com", "support", "test", password=PASSWORD)
    keys = (
        query_scalar(app, "SELECT string_agg(key_id, ',') FROM audit_events")
        if db_kind(app) == "postgresql"
        else query_scalar(app, "SELECT group_concat(key_id) FROM audit_events")
    )
    assert keys.split(",")[-1] == "a2" and keys.split(",")[0] == "a1"
    assert verify(rotated).exit_code == 0
    dropped = verify(other_app(app, tmp_path, AUDIT_KEY=NEWER))
    assert dropped.exit_code != 0
    assert "its key 'a1' is not listed in DASHBOARD_AUDIT_KEY" in dropped.output


def test_LG6_the_unkeyed_events_of_before_are_accepted_only_before_the_keyed_ones(app, make_user):
    head = insert_legacy(app, 1, GENESIS_HASH)
    head = insert_legacy(app, 2, head)
    make_user("agent@example.com", "support")  # event 3, the first keyed one, covers event 2
    with app.app_context():
        first_keyed = db.session.get(AuditEvent, 3)
        assert first_keyed.key_id == "a1" and first_keyed.prev_hash == head
    result = verify(app)
    assert result.exit_code == 0 and "3 events checked" in result.output
    # An unkeyed row after a keyed one is a break, even with a correct unkeyed hash.
    with app.app_context():
        keyed_head = db.session.get(AuditEvent, 3).hash
    insert_legacy(app, 4, keyed_head)
    result = verify(app)
    assert result.exit_code != 0
    assert "broken at event 4: it has no MAC key, yet it follows keyed events" in result.output


def test_LG6_an_edited_legacy_event_is_found_once_a_keyed_event_follows(app, make_user):
    head = insert_legacy(app, 1, GENESIS_HASH)
    insert_legacy(app, 2, head)
    make_user("agent@example.com", "support")
    behind_the_apps_back(app, "UPDATE audit_events SET target = 'x' WHERE id = 1")
    result = verify(app)
    assert result.exit_code != 0 and "broken at event 1: its content was changed" in result.output


def test_LG4_truncate_is_refused_by_the_database(app, make_user):
    """PostgreSQL's TRUNCATE skips row triggers: a statement trigger refuses it. SQLite has no
    TRUNCATE; its DELETE without WHERE runs the row triggers."""
    make_events(make_user, 2)
    with app.app_context():
        take_checkpoint(app)
        for table in ("audit_events", "audit_checkpoints"):
            statement = (
                f"TRUNCATE {table}"
                if db.engine.dialect.name == "postgresql"
                else f"DELETE FROM {table}"
            )
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
    assert query_scalar(app, "SELECT count(*) FROM audit_events") == 2
    assert query_scalar(app, "SELECT count(*) FROM audit_checkpoints") == 1


def test_LG7_audit_verify_finds_a_deleted_middle_row(app, make_user):
    make_events(make_user, 4)
    behind_the_apps_back(app, "DELETE FROM audit_events WHERE id = 2")
    result = verify(app)
    assert result.exit_code != 0
    assert "broken at event 3: events before it are missing (after 1)" in result.output


def test_LG7_a_deleted_tail_is_found_by_the_checkpoint_past_it(app, make_user):
    make_events(make_user, 5)
    assert take_checkpoint(app)[0] == 5
    behind_the_apps_back(app, "DELETE FROM audit_events WHERE id > 3")
    result = verify(app)
    assert result.exit_code != 0
    assert "broken at event 5: the log ends before the checkpoint: rows were deleted" in (
        result.output
    )


def test_LG7_a_truncated_log_does_not_read_as_intact(app, make_user):
    make_events(make_user, 3)
    take_checkpoint(app)
    with app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
    # On PostgreSQL a superuser drops the TRUNCATE trigger first; on SQLite, the row triggers.
    behind_the_apps_back(app, "TRUNCATE audit_events" if postgresql else "DELETE FROM audit_events")
    assert query_scalar(app, "SELECT count(*) FROM audit_events") == 0
    result = verify(app)
    assert result.exit_code != 0
    assert "0 events checked" not in result.output
    assert "the log ends before the checkpoint: rows were deleted" in result.output


def test_LG7_a_checkpoint_kept_outside_finds_what_the_database_lost(app, make_user, caplog):
    make_events(make_user, 3)
    with caplog.at_level(logging.INFO, logger="dashboard.services.audit_chain"):
        sequence, mac = take_checkpoint(app)
    logged = next(r for r in caplog.records if r.getMessage() == "audit.checkpoint")
    entry = json.loads(JSONFormatter().format(logged))
    assert (entry["sequence"], entry["mac"]) == (sequence, mac) == (3, mac)
    make_user("later@example.com", "support")
    good = verify(app, "--from-checkpoint", f"{sequence}:{mac}")
    assert good.exit_code == 0, good.output
    assert "2 events checked from event 3, up to event 4" in good.output

    # Everything goes, the checkpoints in the database too: only the one kept outside knows.
    behind_the_apps_back(app, "DELETE FROM audit_checkpoints", "DELETE FROM audit_events")
    assert verify(app).exit_code == 0  # nothing left in the database to contradict
    result = verify(app, "--from-checkpoint", f"{sequence}:{mac}")
    assert result.exit_code != 0
    assert "the log ends before the checkpoint: rows were deleted" in result.output


def test_LG7_an_event_replaced_under_a_checkpoint_is_named(app, make_user):
    make_events(make_user, 3)
    sequence, mac = take_checkpoint(app)
    behind_the_apps_back(app, f"UPDATE audit_events SET hash = '{'f' * 64}' WHERE id = {sequence}")
    whole = verify(app)
    assert whole.exit_code != 0 and "broken at event 3: its content was changed" in whole.output
    result = verify(app, "--from-checkpoint", f"{sequence}:{mac}")
    assert result.exit_code != 0
    assert "broken at event 3: event 3's MAC differs from the checkpoint" in result.output


def test_LG7_a_forged_checkpoint_is_found(app, make_user):
    make_events(make_user, 2)
    take_checkpoint(app)
    behind_the_apps_back(
        app,
        "INSERT INTO audit_checkpoints (event_id, event_hash, created_at, source, key_id, hash)"
        f" VALUES (9, '{'0' * 64}', '2026-12-01 00:00:00', 'command', 'a1', '{'0' * 64}')",
    )
    result = verify(app)
    assert result.exit_code != 0 and "is not genuine (forged or altered)" in result.output


def other_app(app, tmp_path, **settings):
    """Another app on the same database, with settings of its own (another audit key)."""
    config = base_config(app.config["SQLALCHEMY_DATABASE_URI"], "http://127.0.0.1:9", tmp_path)
    return create_app({**config, **settings})


def as_utc(moment) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

"""The audit page verifies the chain incrementally from the newest checkpoint, a bounded
number of events per view, and says what it verified: its cost does not grow with the log.
Checkpoints come from appends (every CHECKPOINT_EVERY events) and `audit checkpoint`; a view
writes nothing (CS-2: a GET changes nothing)."""

from __future__ import annotations

import re
import time

from sqlalchemy import event, insert, select

from dashboard.database import refresh_statistics
from dashboard.extensions import db
from dashboard.models import AuditCheckpoint, AuditEvent, utcnow
from dashboard.services import audit, audit_chain

COLUMNS = [column.key for column in AuditEvent.__table__.columns]


def seed(app, count: int) -> None:
    """Append ``count`` events fast (one multi-row INSERT per batch), each MACed and chained
    exactly as audit.record does (audit.seal)."""
    with app.app_context():
        head = db.session.execute(
            select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
        ).first()
        next_id, prev = (head.id + 1, head.hash) if head else (1, audit.GENESIS_HASH)
        now = utcnow()
        batch = []
        for n in range(count):
            row = AuditEvent(
                id=next_id + n,
                created_at=now,
                actor_id=None,
                actor_label="seed",
                action="seed.event",
                target=f"target {n}",
                details={"n": n},
                ip="192.0.2.1",
                repeats_before=None,
                prev_hash=prev,
            )
            audit.seal(row)
            prev = row.hash
            batch.append({key: getattr(row, key) for key in COLUMNS})
            if len(batch) == 20_000:
                db.session.execute(insert(AuditEvent), batch)
                batch = []
        if batch:
            db.session.execute(insert(AuditEvent), batch)
        db.session.commit()
        if count > 10_000:  # as autovacuum would, after a bulk load
            refresh_statistics(AuditEvent.__table__)


def chain_words(page: str) -> str:
    match = re.search(r"data-chain>(.*?)</div>", page, re.S)
    assert match, "no chain status on the page"
    return " ".join(match.group(1).split())


def test_each_view_verifies_a_bounded_number_and_says_so(app, auditor, monkeypatch):
    monkeypatch.setattr(audit_chain, "PAGE_VERIFY_LIMIT", 5)
    seed(app, 11)  # with the auditor's own user.create and auth.success: 13 events
    with app.app_context():
        total = db.session.scalar(select(db.func.max(AuditEvent.id)))
    first = chain_words(auditor.get("/audit").get_data(as_text=True))
    assert first.startswith("Chain verified up to event 5,")
    assert f"{total - 5} newer events not yet verified" in first
    again = chain_words(auditor.get("/audit").get_data(as_text=True))
    assert again.startswith("Chain verified up to event 5,")  # a view records nothing
    with app.app_context():
        assert audit.checkpoint().verified_to == total  # the daily job, or the purge
    words = chain_words(auditor.get("/audit").text)
    assert words.startswith(f"Chain verified up to event {total},")
    assert "not yet verified" not in words


def test_appends_record_a_checkpoint_as_the_log_grows(app, make_user, monkeypatch):
    monkeypatch.setattr(audit_chain, "CHECKPOINT_EVERY", 5)
    for n in range(12):
        make_user(f"user{n}@example.com", "support")  # one user.create event each
    with app.app_context():
        rows = db.session.execute(select(AuditCheckpoint.event_id, AuditCheckpoint.source)).all()
    # Event 5's transaction verified 1-4, event 10's verified 5-9.
    assert sorted(rows) == [(4, "append"), (9, "append")]


def test_the_page_names_a_break_on_its_way(app, auditor):
    seed(app, 20)
    from test_sec_audit_log import behind_the_apps_back  # noqa: PLC0415

    behind_the_apps_back(app, "UPDATE audit_events SET target = 'x' WHERE id = 17")
    words = chain_words(auditor.get("/audit").get_data(as_text=True))
    assert "broken at event 17: its content was changed" in words
    assert "The events up to 16 were verified." in words


def test_the_page_finds_a_deleted_tail_from_its_last_checkpoint(app, auditor):
    seed(app, 10)
    with app.app_context():
        assert audit.checkpoint().intact
    from test_sec_audit_log import behind_the_apps_back  # noqa: PLC0415

    with app.app_context():
        head = db.session.scalar(select(db.func.max(AuditEvent.id)))
    behind_the_apps_back(app, f"DELETE FROM audit_events WHERE id > {head - 3}")
    words = chain_words(auditor.get("/audit").text)
    assert f"broken at event {head}: the log ends before the checkpoint: rows were deleted" in (
        words
    )


def view_cost(app, client) -> tuple[int, float]:
    """SQL statements and seconds of one view of the audit page."""
    statements = []

    def count(*_args):
        statements.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        page = client.get("/audit")
        elapsed = time.perf_counter() - started
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.status_code == 200 and "Chain verified" in page.text
    return len(statements), elapsed


def steady_cost(app, client) -> tuple[int, float]:
    """A view of 100 new events past a checkpoint, the best of three (the machine is shared)."""
    costs = []
    for _ in range(3):
        seed(app, 100)
        costs.append(view_cost(app, client))
        with app.app_context():
            assert audit.checkpoint().intact
    assert len({statements for statements, _ in costs}) == 1
    return costs[0][0], min(seconds for _, seconds in costs)


def batch_cost(app, client) -> tuple[int, float]:
    """A view that verifies the events past the checkpoint, the best of two: the page writes
    nothing, so the second view verifies the same events again (the machine is shared)."""
    costs = [view_cost(app, client) for _ in range(2)]
    assert costs[0][0] == costs[1][0]
    return costs[0][0], min(seconds for _, seconds in costs)


def test_the_page_costs_the_same_at_a_thousand_events_or_two_hundred_thousand(app, auditor):
    seed(app, 1_000)
    with app.app_context():
        assert audit.checkpoint().intact
    seed(app, 1_000)
    small_batch = batch_cost(app, auditor)  # verifies the 1,000 new ones from the checkpoint
    small = steady_cost(app, auditor)  # and 100 new ones

    seed(app, 200_000 - 2_300)
    large_batch = batch_cost(app, auditor)  # verifies 2,000 of the 197,700 new ones
    words = chain_words(auditor.get("/audit").text)
    assert "More than 10,000 newer events not yet verified" in words
    with app.app_context():
        assert audit.checkpoint().intact  # what the daily job does: all of them
    large = steady_cost(app, auditor)

    assert large_batch[0] == small_batch[0] and large[0] == small[0]  # the same statements
    assert large[1] < 5 * max(small[1], 0.02)  # and about the same time
    assert large_batch[1] < 5 * max(small_batch[1], 0.02)

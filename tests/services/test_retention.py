"""The purge, in batches, on both databases: it deletes exactly the old attempts while sends
and sign-ins go on beside it, none of them failing or waiting past the busy timeout."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text
from support import db_kind, query_scalar, sign_in
from support.bulk import seed_attempts
from test_limits import set_limits
from test_send import send

from dashboard.extensions import db
from dashboard.models import CodeCheck, utcnow
from dashboard.services import retention
from dashboard.services.users import find_by_email

OLD = 200_000


class Measured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_purge_in_batches_deletes_exactly_the_old_while_sends_and_sign_ins_go_on(
    app, support, sandbox, simulator
):
    set_limits(app, per_user_per_hour=1000, per_user_per_day=1000)
    with app.app_context():
        agent = find_by_email("agent@example.com").id
    now = utcnow()
    old = seed_attempts(app, OLD, user_id=agent, start=now - timedelta(days=300))
    # 20 days old: the unresolved ones (pending, unknown) are kept, the 2 rejected ones go.
    recent_unresolved = seed_attempts(
        app, 40, user_id=agent, start=now - timedelta(days=20), status="pending"
    )
    recent = seed_attempts(app, 50, user_id=agent, start=now - timedelta(days=2))
    with app.app_context():  # a recent resend of an old attempt: kept, unlinked
        db.session.execute(
            text("UPDATE attempts SET resend_of_id = :old WHERE id = :id"),
            {"old": old[123], "id": recent[10]},
        )
        db.session.commit()
    kept = 38 + 50

    measured = Measured()
    logger = logging.getLogger(retention.__name__)
    level = logger.level
    logger.addHandler(measured)
    logger.setLevel(logging.INFO)
    outcome: dict[str, object] = {}

    def purge() -> None:
        with app.app_context():
            try:
                outcome["deleted"] = retention.purge_older_than(10, "test")
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                outcome["error"] = error

    before = simulator.simulator.sms_requests
    worker = threading.Thread(target=purge)
    began = time.perf_counter()
    worker.start()
    sends = sign_ins = 0
    slowest = 0.0
    try:
        while worker.is_alive():
            t = time.perf_counter()
            answer = send(support, phone_number=f"13123{sends:04d}", reason=f"During {sends}")
            slowest = max(slowest, time.perf_counter() - t)
            assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
            sends += 1
            if sends % 3 == 0:
                assert sign_in(app.test_client(), "agent@example.com").status_code == 302
                sign_ins += 1
        worker.join()
    finally:
        logger.removeHandler(measured)
        logger.setLevel(level)
    seconds = time.perf_counter() - began

    assert "error" not in outcome, outcome.get("error")
    assert outcome["deleted"] == OLD + 2
    assert sends >= 3, f"the purge took {seconds:.1f} s: too short to send meanwhile"
    assert simulator.simulator.sms_requests - before == sends
    sent = "SELECT count(*) FROM attempts WHERE reason LIKE 'During %' AND status = 'accepted'"
    assert query_scalar(app, sent) == sends  # each recorded with the provider's answer
    answered = "SELECT count(*) FROM attempts WHERE reason LIKE 'During %'"
    answered += " AND response_code = 'SUCCESS' AND http_status = 200"
    assert query_scalar(app, answered) == sends
    assert query_scalar(app, "SELECT count(*) FROM attempts") == kept + sends
    oldest = query_scalar(app, "SELECT min(id) FROM attempts")
    assert oldest == recent_unresolved[1]  # its first one (rejected) went, the next (unknown) stays
    assert query_scalar(app, "SELECT count(*) FROM attempts WHERE id < :id", id=old[-1] + 1) == 0
    unlinked = "SELECT resend_of_id FROM attempts WHERE id = :id"
    assert query_scalar(app, unlinked, id=recent[10]) is None
    purges = "SELECT target FROM audit_events WHERE action = 'attempts.purge'"
    assert query_scalar(app, purges) == f"{OLD + 2} attempts"
    # ... and anchored the chain's head after it (LG-7).
    anchored = "SELECT max(event_id) FROM audit_checkpoints WHERE source = 'purge'"
    purge_event = "SELECT id FROM audit_events WHERE action = 'attempts.purge'"
    assert query_scalar(app, anchored) >= query_scalar(app, purge_event)

    (done,) = [r for r in measured.records if r.getMessage() == "attempts.purged"]
    longest = done.__dict__["longest_batch_ms"]
    print(
        f"{db_kind(app)}: purged {OLD + 2:,} in {seconds:.1f} s, {done.__dict__['batches']}"
        f" batches, the longest {longest} ms; {sends} sends (slowest {slowest:.2f} s),"
        f" {sign_ins} sign-ins meanwhile"
    )
    assert longest < 1000  # the write lock is never held for a second


def test_the_purge_refuses_to_keep_no_day(app):
    with app.app_context(), pytest.raises(ValueError, match="at least one day"):
        retention.purge_older_than(0, "test")


def test_the_purge_deletes_old_checks_with_their_attempts_and_of_numbers_never_sent_to(
    app, support
):
    """A check goes with the attempt it refers to; one of a number nothing was sent to (a
    digest of what was typed by mistake) goes when it is as old as the attempts purged."""
    now, long_ago = utcnow(), utcnow() - timedelta(days=400)
    with app.app_context():
        agent_id = find_by_email("agent@example.com").id
    old_attempt = seed_attempts(app, 1, user_id=agent_id, start=long_ago)[0]
    with app.app_context():
        rows = [
            (old_attempt, long_ago, "sent-to-old"),
            (None, long_ago, "never-sent-old"),
            (None, now, "never-sent-new"),
        ]
        for attempt_id, at, digest in rows:
            db.session.add(
                CodeCheck(
                    user_id=agent_id,
                    attempt_id=attempt_id,
                    created_at=at,
                    phone_digest=digest,
                    matched=False,
                    outcome="wrong",
                )
            )
        db.session.commit()
        retention.purge_older_than(365, "test")
        kept = db.session.scalars(text("SELECT phone_digest FROM code_checks")).all()
    assert kept == ["never-sent-new"]

"""RevenueMonster flapping between HTTP 500, answers too slow for the client and success, the
same number every time (the simulator's fault switches): every attempt's status says what the
provider did, each request went once, and the codes that reached the customer are exactly
those of the accepted sends and of the slow ones recorded unknown. On both databases."""

from __future__ import annotations

import dataclasses
import re
import time

from faulting import form_data
from sqlalchemy import select

from dashboard.domain import codes
from dashboard.encryption import derived_key
from dashboard.extensions import db
from dashboard.models import Attempt
from dashboard.services import limits

#: What the provider does with each send in turn, and what the attempt must then say.
FLAPS = [
    ("500", "unknown", "HTTP_500"),
    ("ok", "accepted", "SUCCESS"),
    ("slow", "unknown", "READ_TIMEOUT"),
    ("500", "unknown", "HTTP_500"),
    ("ok", "accepted", "SUCCESS"),
    ("slow", "unknown", "READ_TIMEOUT"),
    ("ok", "accepted", "SUCCESS"),
    ("500", "unknown", "HTTP_500"),
]
DELIVERED = {"ok", "slow"}  # a slow answer comes after the client gave up: the SMS still went
CODE_RE = re.compile(r"\b(\d{6})\b")


def test_every_attempt_says_what_the_flapping_provider_did(app, support, sandbox, simulator):
    with app.app_context():
        limits.save(
            dataclasses.replace(
                limits.current(), cooldown_seconds=0, per_number_per_hour=100, per_user_per_hour=100
            ),
            "test",
        )
    before = (simulator.simulator.token_requests, simulator.simulator.sms_requests)
    simulator.simulator.sms_faults.fail_next(*(fault for fault, _, _ in FLAPS))
    for _ in FLAPS:
        response = support.post("/send", data=form_data(support.get("/send").get_data(True)))
        assert response.status_code == 302

    after = (simulator.simulator.token_requests, simulator.simulator.sms_requests)
    assert (after[0] - before[0], after[1] - before[1]) == (1, len(FLAPS))  # none retried
    with app.app_context():
        attempts = db.session.scalars(select(Attempt).order_by(Attempt.id)).all()
        assert [(a.status, a.response_code) for a in attempts] == [
            (status, code) for _, status, code in FLAPS
        ]
        wanted = sum(fault in DELIVERED for fault, _, _ in FLAPS)
        inbox = wait_for_inbox(simulator, sandbox, wanted)
        key = derived_key(codes.HASH_KEY_PURPOSE)
        delivered = [
            index
            for index, attempt in enumerate(attempts)
            for message in inbox
            if codes.code_matches(
                CODE_RE.search(message["message"]).group(1),
                attempt.code_hash,
                attempt_public_id=attempt.public_id,
                key=key,
            )
        ]
    assert delivered == [i for i, (fault, _, _) in enumerate(FLAPS) if fault in DELIVERED]


def wait_for_inbox(simulator, client_id: str, count: int) -> list[dict[str, str]]:
    """The client's messages once ``count`` arrived (the slow ones land after 3 s)."""
    deadline = time.monotonic() + 10
    while True:
        inbox = [m for m in simulator.simulator.inbox if m["client_id"] == client_id]
        if len(inbox) >= count or time.monotonic() > deadline:
            time.sleep(0.2)  # and no more than that
            return [m for m in simulator.simulator.inbox if m["client_id"] == client_id]
        time.sleep(0.1)

"""Code run in separate processes by the concurrency tests (importable by spawned children)."""

from __future__ import annotations

import os
import uuid


def send_once(config, user_id, number, barrier, results) -> None:  # type: ignore[no-untyped-def]
    """Build the app like a gunicorn worker would, wait for the others, then send."""
    from dashboard import create_app
    from dashboard.services import sending, users

    app = create_app(config)
    with app.app_context():
        user = users.get(user_id)
        request = sending.SendRequest(
            country_code="60",
            phone_number=number,
            reason="race",
            template="Code {code}",
            idempotency_key=str(uuid.uuid4()),
        )
        barrier.wait(timeout=60)
        try:
            results.put(sending.send_verification_code(user, request, client_ip=None).status)
        except Exception as error:  # reported to the test, which fails on it
            results.put(f"error: {type(error).__name__}: {error}")


def send_then_die(config, user_id, number) -> None:  # type: ignore[no-untyped-def]
    """Send, and let the process die right after the provider answered, before the outcome
    is recorded: as a killed worker would."""
    from dashboard import create_app
    from dashboard.services import sending, users

    def die(*args, **kwargs):  # type: ignore[no-untyped-def]
        os._exit(9)

    sending._record_outcome = die  # the second commit never happens
    app = create_app(config)
    with app.app_context():
        request = sending.SendRequest(
            country_code="60",
            phone_number=number,
            reason="dies mid-send",
            template="Code {code}",
            idempotency_key=str(uuid.uuid4()),
        )
        sending.send_verification_code(users.get(user_id), request, client_ip=None)

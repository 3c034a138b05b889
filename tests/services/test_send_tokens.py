"""The shared token's renewal lease (issue 16): it has an owner, a late holder cannot clear the
next one's, a send waits for it only within its budget, a broken token store fails the send
(nothing went) rather than leaving it unknown, and one refusal makes one token request however
many workers saw it. On both databases, against the simulator over real HTTP."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import event
from test_limits import set_limits
from test_send import only_attempt, send
from test_send_outcomes import DatabaseLock, quick_refusals  # noqa: F401 (a fixture)

from dashboard.database import write_transaction
from dashboard.extensions import db
from dashboard.models import ProviderAccount, utcnow
from dashboard.services import provider_client, provider_tokens, sending, users


def lease(app) -> tuple[str | None, bool]:
    """The sandbox lease's owner, and whether it is still running."""
    with app.app_context():
        row = db.session.get(ProviderAccount, "sandbox", populate_existing=True)
        owner, until = row.token_lease_owner, row.token_lease_until
        db.session.rollback()
    return owner, until is not None and until > utcnow()


def hold_lease_elsewhere(app, seconds: int) -> None:
    """Another worker (one that died, say) holds the lease for ``seconds`` more."""
    with app.app_context(), write_transaction():
        row = db.session.get(ProviderAccount, "sandbox")
        row.token_lease_until = utcnow() + timedelta(seconds=seconds)
        row.token_lease_owner = "another-worker"


def test_a_late_renewal_leaves_the_next_owners_lease_alone(app, sandbox, monkeypatch):
    monkeypatch.setattr(provider_tokens, "TOKEN_LEASE", timedelta(seconds=0.3))
    with app.app_context():
        stores = [provider_tokens.DatabaseTokenStore("sandbox", 1) for _ in range(3)]
        late = stores[0].renewal()
        assert late.__enter__() is True
        first_owner, running = lease(app)
        assert first_owner is not None and running
        time.sleep(0.4)  # the first holder overruns its lease...
        current = stores[1].renewal()
        assert current.__enter__() is True  # ...so the next worker takes it over
        second_owner, running = lease(app)
        assert second_owner not in (None, first_owner) and running

        late.__exit__(None, None, None)  # the late holder finishes
        assert lease(app) == (second_owner, True)
        with stores[2].renewal(time.monotonic() + 0.2) as held:
            assert held is False  # still the second owner's
        current.__exit__(None, None, None)
        assert lease(app) == (None, False)


def test_a_lease_held_past_the_send_budget_fails_the_send_and_sends_nothing(
    app, support, sandbox, simulator, monkeypatch
):
    monkeypatch.setattr(provider_client, "SEND_BUDGET_SECONDS", 1.0)
    hold_lease_elsewhere(app, seconds=3600)
    before = (simulator.simulator.token_requests, simulator.simulator.sms_requests)
    started = time.monotonic()
    response = send(support)
    waited = time.monotonic() - started
    page = support.get(response.headers["Location"]).get_data(as_text=True)
    assert "Failed" in page and "TOKEN_UNAVAILABLE" in page and "nothing was sent" in page
    attempt = only_attempt(app)
    assert (attempt.status, attempt.response_code) == ("failed", "TOKEN_UNAVAILABLE")
    assert "within the send's time budget" in attempt.response_message
    assert 1.0 <= waited < 3.0  # the budget, not the 15 s lease
    assert (simulator.simulator.token_requests, simulator.simulator.sms_requests) == before
    assert lease(app) == ("another-worker", True)


@pytest.mark.usefixtures("quick_refusals")
def test_a_token_store_error_fails_the_send(app, support, sandbox, simulator):
    """The database refuses to keep the token just fetched (SQLite locked whole, PostgreSQL's
    provider_tokens table locked, by another connection): no SMS request was made, so the
    attempt is failed, not unknown. The database is free again right after that refusal."""
    lock = DatabaseLock(app, table="provider_tokens")
    simulator.simulator.on_request = lambda path: lock.take() if path == "/v1/token" else None
    with app.app_context():
        event.listen(db.engine, "handle_error", lock.release_on_error)
    before = (simulator.simulator.token_requests, simulator.simulator.sms_requests)
    try:
        response = send(support)
    finally:
        simulator.simulator.on_request = None
        lock.release()
        with app.app_context():
            event.remove(db.engine, "handle_error", lock.release_on_error)
    assert lock.refusals == 1
    page = support.get(response.headers["Location"]).get_data(as_text=True)
    assert "Failed" in page and "TOKEN_UNAVAILABLE" in page
    attempt = only_attempt(app)
    assert (attempt.status, attempt.response_code) == ("failed", "TOKEN_UNAVAILABLE")
    assert "token store" in attempt.response_message
    after = (simulator.simulator.token_requests, simulator.simulator.sms_requests)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 0)
    assert lease(app) == (None, False)


def test_threads_refused_at_once_make_one_token_request(app, make_user, sandbox, simulator):
    """Six threaded workers (one app, a session each) send with the same token, which the
    simulator revokes (120000401): all six are refused, then renewed once between them."""
    workers = 6
    user_id = make_user("agent@example.com", "support")
    set_limits(app, cooldown_seconds=0, per_number_per_hour=100, per_user_per_hour=100)
    with app.app_context():
        client, _ = provider_client.client_for("sandbox")
        with client:
            client.fetch_token()
    before = (simulator.simulator.token_requests, simulator.simulator.sms_requests)
    barrier = threading.Barrier(workers)

    def all_refused_together(path: str) -> None:
        """Answer none of the first six SMS requests before all six arrived, so that every
        worker sends with the token about to be revoked, however the threads are scheduled."""
        give_up = time.monotonic() + 0.9  # within the client's 1 s read timeout
        while simulator.simulator.sms_requests - before[1] < workers:
            if time.monotonic() > give_up:
                return
            time.sleep(0.005)

    simulator.simulator.on_request = all_refused_together

    def worker(_: int) -> str:
        with app.app_context():
            request = sending.SendRequest(
                country_code="60",
                phone_number="120000401",
                reason="race",
                template=None,
                idempotency_key=str(uuid.uuid4()),
            )
            user = users.get(user_id)
            barrier.wait(10)
            status = sending.send_verification_code(user, request, client_ip=None).status
            db.session.remove()
            return status

    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(worker, range(workers)))
    assert outcomes == ["accepted"] * workers
    after = (simulator.simulator.token_requests, simulator.simulator.sms_requests)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 2 * workers)
    assert lease(app) == (None, False)


@pytest.fixture(autouse=True)
def _no_hook_left(simulator):
    yield
    simulator.simulator.on_request = None

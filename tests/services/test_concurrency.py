"""Sends racing each other across processes and threads, on both databases: limits hold,
forms send once, and a worker dying mid-send loses nothing."""

from __future__ import annotations

import multiprocessing
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from freezegun import freeze_time
from support import base_config, csrf_token, query_scalar
from support.concurrency_worker import send_once, send_then_die
from test_limits import set_limits

from dashboard.models import utcnow
from dashboard.services import sending

SPAWN = multiprocessing.get_context("spawn")  # fresh interpreters, like separate workers


def worker_config(app, simulator, tmp_path):
    return base_config(app.config["SQLALCHEMY_DATABASE_URI"], simulator.url, tmp_path / "w")


def test_eight_processes_against_a_cap_of_three(app, make_user, sandbox, simulator, tmp_path):
    user_id = make_user("agent@example.com", "support")
    set_limits(app, cooldown_seconds=0, per_number_per_hour=3)
    config = worker_config(app, simulator, tmp_path)
    barrier, results = SPAWN.Barrier(8), SPAWN.Queue()
    before = simulator.simulator.sms_requests
    workers = [
        SPAWN.Process(target=send_once, args=(config, user_id, "163877652", barrier, results))
        for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    assert outcomes == ["accepted"] * 3 + ["blocked"] * 5  # and no "database is locked"
    assert simulator.simulator.sms_requests - before == 3
    blocked = "SELECT count(*) FROM attempts WHERE status = 'blocked'"
    assert query_scalar(app, blocked) == 5


def test_a_hundred_double_submits_send_a_hundred_times(app, support, sandbox, simulator):
    set_limits(app, per_user_per_hour=1000, per_user_per_day=1000)
    token = csrf_token(support.get("/send").get_data(as_text=True))
    cookie = support.get_cookie("session").value
    forms = [
        {
            "csrf_token": token,
            "idempotency_key": str(uuid.uuid4()),
            "country_code": "60",
            "phone_number": f"13123{n:04d}",
            "reason": "double click",
            "message": "Code {code}",
        }
        for n in range(100)
    ]
    before = simulator.simulator.sms_requests

    def submit(form):  # type: ignore[no-untyped-def]
        client = app.test_client()
        client.set_cookie("session", cookie)
        return client.post("/send", data=form).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(submit, [form for form in forms for _ in range(2)]))
    assert codes == [302] * 200
    assert simulator.simulator.sms_requests - before == 100
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 100
    assert query_scalar(app, "SELECT count(*) FROM attempts WHERE status = 'accepted'") == 100


def test_a_worker_killed_after_the_provider_call_leaves_a_pending_attempt(
    app, make_user, sandbox, simulator, tmp_path
):
    user_id = make_user("agent@example.com", "support")
    before = simulator.simulator.sms_requests
    process = SPAWN.Process(
        target=send_then_die, args=(worker_config(app, simulator, tmp_path), user_id, "163877652")
    )
    process.start()
    process.join(timeout=120)
    assert process.exitcode == 9
    assert simulator.simulator.sms_requests - before == 1
    assert query_scalar(app, "SELECT status FROM attempts") == "pending"
    with app.app_context(), freeze_time(utcnow() + sending.STALE_AFTER + timedelta(seconds=1)):
        assert sending.reconcile_stale_attempts() == 1
    assert query_scalar(app, "SELECT status FROM attempts") == "unknown"
    assert simulator.simulator.sms_requests - before == 1  # reconciling never sends

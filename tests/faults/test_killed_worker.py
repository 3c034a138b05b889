"""A gunicorn worker killed with SIGKILL while RevenueMonster is answering a send: the attempt
was committed before the call, so it is there (pending); ``attempts reconcile`` makes it
unknown once it is past the send budget; nothing ever sends it again. On both databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
from faulting import Browser, Gunicorn, settings_environment
from freezegun import freeze_time
from support import query_scalar

from dashboard.models import utcnow
from dashboard.services import sending


@pytest.fixture
def served(app, simulator, tmp_path) -> Iterator[Gunicorn]:
    env = settings_environment(
        app.config["SQLALCHEMY_DATABASE_URI"],
        simulator.url,
        tmp_path / "gunicorn-instance",
        RM_TIMEOUT_SECONDS=10,  # the worker waits for the slow answer, until it is killed
    )
    server = Gunicorn.start(env, tmp_path)
    yield server
    server.stop()
    simulator.simulator.on_request = None


def test_a_worker_killed_mid_send_leaves_a_pending_attempt_never_resent(
    app, make_user, sandbox, simulator, served
):
    make_user("agent@example.com", "support")
    browser = Browser(served.url, "agent@example.com")
    data = browser.send_form()
    arrived = threading.Event()
    simulator.simulator.on_request = lambda path: arrived.set() if path == "/v3/sms" else None
    simulator.simulator.sms_faults.fail_next("slow")  # answered after 3 s: the worker waits
    before = simulator.simulator.sms_requests
    answers: list[object] = []

    def post() -> None:
        try:
            answers.append(browser.post_send(data).status_code)
        except requests.RequestException as error:
            answers.append(type(error).__name__)

    poster = threading.Thread(target=post)
    poster.start()
    assert arrived.wait(20), served.log.read_text()
    killed = served.kill_worker()
    poster.join(20)
    assert answers == ["ConnectionError"]  # the browser gets no answer at all
    assert simulator.simulator.sms_requests - before == 1

    assert query_scalar(app, "SELECT status FROM attempts") == "pending"
    cli = app.test_cli_runner()
    assert "0 interrupted attempts" in cli.invoke(args=["attempts", "reconcile"]).output
    with freeze_time(utcnow() + sending.STALE_AFTER):
        result = cli.invoke(args=["attempts", "reconcile"])
    assert "1 interrupted attempt marked unknown." in result.output
    assert query_scalar(app, "SELECT status || ' ' || response_code FROM attempts") == (
        "unknown NO_OUTCOME"
    )

    # The new worker serves the same form again: the replay returns the attempt, sends nothing.
    served.wait_until_serving()
    assert killed not in served.workers()
    replay = browser.post_send(data)
    assert replay.status_code == 302
    page = browser.session.get(served.url + replay.headers["Location"], timeout=10).text
    assert "Unknown" in page and "NO_OUTCOME" in page
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 1
    assert simulator.simulator.sms_requests - before == 1

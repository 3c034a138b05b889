"""Sending a code through the pages, against the simulator over real HTTP, on both databases."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from support import csrf_token, query_scalar, sign_in

from dashboard.domain import codes
from dashboard.encryption import derived_key
from dashboard.extensions import db
from dashboard.models import Attempt
from dashboard.revenuemonster import RevenueMonsterClient
from dashboard.services import runtime_settings, sending

KEY_RE = re.compile(r'id="idempotency_key" name="idempotency_key" type="hidden" value="([^"]+)"')


def send_form(client, **overrides):
    page = client.get("/send").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "idempotency_key": KEY_RE.search(page).group(1),
        "country_code": "60",
        "phone_number": "016-387 7652",
        "reason": "Ticket 4711",
        "template": "default",
        "message": "Your verification code is {code}. It expires in 10 minutes.",
    }
    data.update(overrides)
    return data


def send(client, **overrides):
    return client.post("/send", data=send_form(client, **overrides))


@pytest.fixture
def editing(app) -> None:
    """Admins let senders edit the message (admin › Settings)."""
    with app.app_context():
        runtime_settings.allow_message_editing(True, "test")


def only_attempt(app) -> Attempt:
    with app.app_context():
        rows = db.session.scalars(select(Attempt)).all()
        assert len(rows) == 1
        db.session.expunge_all()
        return rows[0]


def test_accepted_send_is_recorded_and_reaches_the_inbox(app, support, sandbox, simulator):
    response = send(support)
    assert response.status_code == 302
    page = support.get(response.headers["Location"]).get_data(as_text=True)
    assert "Accepted" in page and "SUCCESS" in page and "sandbox" in page

    attempt = only_attempt(app)
    assert attempt.status == "accepted"
    assert attempt.response_code == "SUCCESS"
    assert attempt.http_status == 200
    assert (attempt.country_code, attempt.national_number) == ("60", "163877652")
    assert attempt.phone_e164 == "+60163877652"
    assert attempt.environment == "sandbox"
    assert attempt.latency_ms is not None and attempt.latency_ms >= 0
    assert attempt.finished_at is not None
    assert attempt.message_masked == "Your verification code is ••••••. It expires in 10 minutes."

    delivered = [m for m in simulator.simulator.inbox if m["client_id"] == sandbox]
    assert len(delivered) == 1
    assert delivered[0]["phone_number"] == "163877652"
    code = re.search(r"\b(\d{6})\b", delivered[0]["message"]).group(1)
    # Only a keyed hash of the code is kept, and it matches the code the customer got.
    assert code not in repr(attempt.__dict__)
    with app.app_context():
        key = derived_key(codes.HASH_KEY_PURPOSE)
    assert codes.code_matches(code, attempt.code_hash, attempt_public_id=attempt.public_id, key=key)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert not codes.code_matches(
        wrong, attempt.code_hash, attempt_public_id=attempt.public_id, key=key
    )


def test_the_same_form_submitted_twice_sends_once(app, support, sandbox, simulator):
    data = send_form(support)
    before = simulator.simulator.sms_requests
    first = support.post("/send", data=data)
    second = support.post("/send", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    assert simulator.simulator.sms_requests - before == 1
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 1


@pytest.mark.parametrize(
    ("number", "status", "code", "words"),
    [
        ("120000101", "rejected", "SMS_FAIL", "Rejected"),
        ("120000408", "unknown", "READ_TIMEOUT", "may have been sent"),
        ("120000500", "unknown", "HTTP_500", "may have been sent"),
        ("120000502", "unknown", "MALFORMED_RESPONSE", "may have been sent"),
        ("120000503", "unknown", "CONNECTION_DROPPED", "may have been sent"),
    ],
)
def test_provider_trouble_is_recorded_and_explained(
    app, support, sandbox, simulator, number, status, code, words
):
    before = simulator.simulator.sms_requests
    response = send(support, phone_number=number)
    assert response.status_code == 302
    page = support.get(response.headers["Location"]).get_data(as_text=True)
    assert words in page and code in page
    attempt = only_attempt(app)
    assert (attempt.status, attempt.response_code) == (status, code)
    assert simulator.simulator.sms_requests - before == 1  # never retried


def test_unconfigured_environment_fails_without_calling_the_provider(app, support, simulator):
    before = simulator.simulator.sms_requests
    response = send(support)
    page = support.get(response.headers["Location"]).get_data(as_text=True)
    assert "Failed" in page and "never reached RevenueMonster" in page
    attempt = only_attempt(app)
    assert (attempt.status, attempt.response_code) == ("failed", "NO_CREDENTIALS")
    assert simulator.simulator.sms_requests == before


def test_refused_connection_is_failed_not_unknown(app, support, sandbox):
    app.config["RM_URLS"] = {
        env: {"oauth": "http://127.0.0.1:9", "api": "http://127.0.0.1:9"}
        for env in ("sandbox", "production")
    }
    send(support)
    attempt = only_attempt(app)
    assert attempt.status == "failed"
    assert attempt.response_code == "CONNECTION_REFUSED"


def test_attempt_is_committed_before_the_provider_is_called(app, support, sandbox, monkeypatch):
    """If the process dies mid-call, the pending row is already on disk."""

    def die(client, **sms):
        raise SystemExit("worker killed")

    monkeypatch.setattr(RevenueMonsterClient, "send_sms", die)
    with pytest.raises(SystemExit):
        send(support)
    assert query_scalar(app, "SELECT status FROM attempts") == "pending"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone_number", "12345", "not a valid phone number for country code +60"),
        ("phone_number", "hello", "not a phone number"),
        ("phone_number", "03-2123 4567", "not a mobile number"),
        ("phone_number", "1-800-88-8888", "not a mobile number"),
        ("phone_number", "+6591234567", "belongs to country code +65"),
        ("country_code", "999", "not a country calling code"),
        ("reason", "   ", "Say why the code is sent"),
        ("reason", "\u200b", "Say why the code is sent"),  # a zero-width space says nothing
        ("template", "forged", "That template no longer exists; choose another."),
    ],
)
def test_bad_input_is_explained_next_to_the_field_and_changes_nothing(
    app, support, sandbox, simulator, field, value, message
):
    _explained_next_to_the_field(app, support, simulator, field, value, message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("No placeholder here", "must contain {code} exactly once"),
        ("{code} and {code}", "must contain {code} exactly once"),
        ("{code} " + "x" * 470, "at most 3 are allowed"),
        ("Code {code}, see https://rm-verify.example", "a link or web address"),
        ("Code {code}. Call 012-345 6789", "a phone number the template does not have"),
    ],
)
def test_a_bad_edit_is_explained_next_to_the_message_and_changes_nothing(
    app, support, sandbox, simulator, editing, value, message
):
    _explained_next_to_the_field(app, support, simulator, "message", value, message)


def _explained_next_to_the_field(app, support, simulator, field, value, message):
    before = simulator.simulator.sms_requests
    response = send(support, **{field: value})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page
    assert message in page.replace("&#43;", "+").replace("&#39;", "'")
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 0
    assert simulator.simulator.sms_requests == before


def test_post_without_csrf_token_changes_nothing(app, support, sandbox):
    data = send_form(support)
    del data["csrf_token"]
    response = support.post("/send", data=data)
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 0


def test_auditors_cannot_send(app, auditor, sandbox):
    assert auditor.get("/send").status_code == 403
    token = csrf_token(auditor.get("/history").get_data(as_text=True))
    response = auditor.post("/send", data={"csrf_token": token, "phone_number": "163877652"})
    assert response.status_code == 403
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 0
    assert "Send code" not in auditor.get("/history").get_data(as_text=True)


def test_admins_can_send(app, client, make_user, sandbox):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    assert send(client).status_code == 302
    assert only_attempt(app).status == "accepted"


def test_interrupted_attempts_become_unknown_without_a_send(app, support, sandbox, monkeypatch):
    from freezegun import freeze_time

    from dashboard.models import utcnow

    def die(client, **sms):
        raise SystemExit("worker killed")

    monkeypatch.setattr(RevenueMonsterClient, "send_sms", die)
    with pytest.raises(SystemExit):
        send(support)
    monkeypatch.undo()
    result = app.test_cli_runner().invoke(args=["attempts", "reconcile"])
    assert "0 interrupted attempts" in result.output  # still within its send budget
    with freeze_time(utcnow() + sending.STALE_AFTER):
        page = support.get("/history").get_data(as_text=True)
    assert "Unknown" in page and "NO_OUTCOME" in page
    assert query_scalar(app, "SELECT status FROM attempts") == "unknown"


def test_a_reused_form_key_with_another_number_is_refused(app, support, sandbox, simulator):
    data = send_form(support)
    assert support.post("/send", data=data).status_code == 302
    before = simulator.simulator.sms_requests
    response = support.post("/send", data={**data, "phone_number": "123456789"})
    assert response.status_code == 200
    assert "already used for another send" in response.get_data(as_text=True)
    assert simulator.simulator.sms_requests == before
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 1


def test_a_post_without_its_form_key_is_refused(app, support, sandbox):
    data = send_form(support)
    del data["idempotency_key"]
    response = support.post("/send", data=data)
    assert response.status_code == 200 and "Reload the form" in response.get_data(as_text=True)
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 0


def test_concurrent_double_submits_send_once(app, support, sandbox, simulator):
    from concurrent.futures import ThreadPoolExecutor

    data = send_form(support)
    cookie = support.get_cookie("session").value
    before = simulator.simulator.sms_requests

    def submit(_):
        client = app.test_client()
        client.set_cookie("session", cookie)
        return client.post("/send", data=data).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(submit, range(4)))
    assert statuses == [302] * 4
    assert simulator.simulator.sms_requests - before == 1
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 1


def test_a_multi_line_message_from_a_browser_is_sent_with_plain_line_breaks(
    app, support, sandbox, simulator, editing
):
    send(support, message="Your code:\r\n{code}\r\nValid 10 minutes.")
    attempt = only_attempt(app)
    assert attempt.status == "accepted"
    assert attempt.message_masked == "Your code:\n••••••\nValid 10 minutes."
    delivered = [m for m in simulator.simulator.inbox if m["client_id"] == sandbox]
    assert "\r" not in delivered[-1]["message"] and delivered[-1]["message"].count("\n") == 2


@pytest.mark.parametrize("field", ["reason", "phone_number", "message"])
def test_a_nul_byte_is_a_clear_400(app, support, sandbox, field):
    response = send(support, **{field: "Ticket\x00 1"})
    assert response.status_code == 400
    assert "not allowed (a NUL byte)" in response.get_data(as_text=True)
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 0


def test_the_code_never_reaches_the_logs(app, support, sandbox, simulator, caplog):
    import logging

    with caplog.at_level(logging.DEBUG):
        send(support)
    delivered = [m for m in simulator.simulator.inbox if m["client_id"] == sandbox]
    code = re.search(r"\b(\d{6})\b", delivered[-1]["message"]).group(1)
    assert "sending.finished" in caplog.text
    assert code not in caplog.text and code not in str([r.__dict__ for r in caplog.records])


def test_the_send_form_shows_the_template_read_only_unless_editing_is_allowed(app, support):
    page = support.get("/send").get_data(as_text=True)
    textarea = re.search(r"<textarea[^>]*>", page).group()
    assert 'name="message"' in textarea and "readonly" in textarea
    assert '<label class="form-label fw-semibold" for="message">Message</label>' in page
    with app.app_context():
        runtime_settings.allow_message_editing(True, "test")
    textarea = re.search(r"<textarea[^>]*>", support.get("/send").get_data(as_text=True)).group()
    assert "readonly" not in textarea


def test_a_refused_send_shows_the_template_not_the_posted_text(app, support, sandbox):
    page = send(support, phone_number="12345", message="Code {code} at evil.example").get_data(
        as_text=True
    )
    assert 'id="phone_number-error"' in page
    assert "evil.example" not in page
    assert re.search(r"<textarea[^>]*>\s*Your verification code is \{code\}", page)


def test_an_allowed_edit_is_sent_and_recorded_as_edited(app, support, sandbox, simulator, editing):
    response = send(support, message="Hi! Your code is {code}. It expires in 10 minutes.")
    attempt = only_attempt(app)
    assert (attempt.template_id, attempt.message_edited) == ("default", True)
    assert attempt.message_masked == "Hi! Your code is ••••••. It expires in 10 minutes."
    delivered = [m for m in simulator.simulator.inbox if m["client_id"] == sandbox]
    assert delivered[-1]["message"].startswith("Hi! Your code is ")
    page = support.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r"From template</dt><dd[^>]*>Standard \(edited\)</dd>", page)


def test_the_template_as_it_is_is_not_an_edit(app, support, sandbox, editing):
    response = send(support)
    attempt = only_attempt(app)
    assert (attempt.template_id, attempt.message_edited) == ("default", False)
    page = support.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r"From template</dt><dd[^>]*>Standard</dd>", page)

"""What an SMS may say (OTP-6: the code and the merchant's words, nothing an agent slips in;
IV-1: input is checked on the server). A send says an admin-approved template's text, chosen by
its id; the text posted with it is ignored unless admins let senders edit, and an edit may not
drop {code} nor add a link or a phone number. A resend is no way around either."""

from __future__ import annotations

import re

import pytest
from support import csrf_token, query_scalar

from dashboard.database import write_transaction
from dashboard.domain import messages
from dashboard.extensions import db
from dashboard.models import Attempt
from dashboard.services import message_templates, runtime_settings

KEY_RE = re.compile(r'name="idempotency_key" type="hidden" value="([^"]+)"')
PHISHING = "Your account is locked. Call +60 3-2345 6789 or visit rm-unlock.example: {code}"
TEMPLATE_SENT = "Your verification code is ••••••. It expires in 10 minutes."


def allow_editing(app, allowed: bool = True) -> None:
    with app.app_context():
        runtime_settings.allow_message_editing(allowed, "test")


def no_cooldown(app) -> None:
    import dataclasses

    from dashboard.services import limits

    with app.app_context():
        limits.save(dataclasses.replace(limits.current(), cooldown_seconds=0), "test")


def send(client, **fields):
    page = client.get("/send").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "idempotency_key": KEY_RE.search(page).group(1),
        "country_code": "60",
        "phone_number": "016-387 7652",
        "reason": "Ticket 4711",
        "template": "default",
        "message": messages.DEFAULT_TEMPLATE,
        **fields,
    }
    return client.post("/send", data=data)


def resend(client, public_id: str, **fields):
    page = client.get(f"/attempts/{public_id}/resend").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "idempotency_key": KEY_RE.search(page).group(1),
        "reason": "Customer got nothing",
        **fields,
    }
    return client.post(f"/attempts/{public_id}/resend", data=data)


def attempts(app) -> list[Attempt]:
    with app.app_context():
        found = list(db.session.scalars(db.select(Attempt).order_by(Attempt.id)))
        db.session.expunge_all()
        return found


def inbox(simulator, client_id: str) -> list[str]:
    return [m["message"] for m in simulator.simulator.inbox if m["client_id"] == client_id]


def the_sent_code(text: str) -> str:
    return re.search(r"\b\d{6}\b", text).group()


def page_text(response) -> str:
    return response.get_data(as_text=True).replace("&#43;", "+").replace("&#39;", "'")


def test_OTP6_posted_free_text_is_ignored_while_editing_is_off(app, support, sandbox, simulator):
    response = send(support, message=PHISHING)
    assert response.status_code == 302
    [attempt] = attempts(app)
    assert (attempt.template_id, attempt.message_edited) == ("default", False)
    assert attempt.message_masked == TEMPLATE_SENT
    [sms] = inbox(simulator, sandbox)
    assert sms == messages.render(messages.DEFAULT_TEMPLATE, the_sent_code(sms))


def test_OTP6_the_chosen_template_is_read_on_the_server(app, support, sandbox, simulator):
    with app.app_context():
        malay = message_templates.add("Malay", "Kod pengesahan anda: {code}", "test")
    send(support, template=malay.id, message=PHISHING)
    [attempt] = attempts(app)
    assert (attempt.template_id, attempt.message_masked) == (
        malay.id,
        "Kod pengesahan anda: ••••••",
    )
    [sms] = inbox(simulator, sandbox)
    assert sms == f"Kod pengesahan anda: {the_sent_code(sms)}"


@pytest.mark.parametrize("removed", [False, True], ids=["forged", "removed meanwhile"])
def test_OTP6_a_template_id_that_does_not_exist_is_refused_next_to_the_template(
    app, support, sandbox, simulator, removed
):
    template_id = "no-such-template"
    if removed:
        with app.app_context():
            template_id = message_templates.add("Soon gone", "Code {code}", "test").id
            message_templates.remove(template_id, "test")
    response = send(support, template=template_id)
    assert response.status_code == 200
    page = page_text(response)
    error = re.search(
        r'<div class="invalid-feedback d-block" id="template-error">([^<]*)</div>', page
    )
    assert error and error.group(1) == "That template no longer exists; choose another."
    assert 'aria-describedby="template-error"' in page
    assert attempts(app) == [] and inbox(simulator, sandbox) == []


@pytest.mark.parametrize(
    ("edited", "message"),
    [
        ("Your verification code is. It expires in 10 minutes.", "{code} exactly once"),
        ("Code {code}, and again {code}", "{code} exactly once"),
        ("Code ｛code｝ {code}", "{code} exactly once"),  # a look-alike placeholder
        ("Code {code}. Unlock: https://rm-unlock.example/x", "a link or web address"),
        ("Code {code}. Unlock: www.rm-unlock.example", "a link or web address"),
        ("Code {code}. Unlock: rm-unlock.example", "a link or web address"),
        ("Code {code}. Unlock: bit.ly/x1", "a link or web address"),
        ("Code {code}. Unlock: ｒｍ．ｅｘａｍｐｌｅ", "a link or web address"),  # fullwidth
        ("Code {code}. Unlock: rm\u200b.example", "a link or web address"),  # zero-width space
        ("Code {code}. Call +60 3-2345 6789", "a phone number the template does not have"),
        ("Code {code}. Call 0323456789", "a phone number the template does not have"),
        ("Code {code}. Call 03 2345 6789", "a phone number the template does not have"),
        ("Code {code}. Call +1", "a phone number the template does not have"),
        ("Code {code}99", "Keep other digits away from {code}"),
    ],
)
def test_IV1_an_edit_that_breaks_the_rule_is_refused_next_to_the_message(
    app, support, sandbox, simulator, edited, message
):
    allow_editing(app)
    response = send(support, message=edited)
    assert response.status_code == 200
    page = page_text(response)
    error = re.search(r'id="message-error">([^<]*)</div>', page)
    assert error and message in error.group(1)
    assert attempts(app) == [] and inbox(simulator, sandbox) == []


def test_IV1_an_allowed_edit_is_sent_and_auditors_see_it_was_edited(
    app, support, auditor_client, sandbox, simulator
):
    allow_editing(app)
    response = send(support, message="Hello! Your code is {code}. It expires in 10 minutes.")
    [attempt] = attempts(app)
    assert (attempt.template_id, attempt.message_edited) == ("default", True)
    assert attempt.message_masked == "Hello! Your code is ••••••. It expires in 10 minutes."
    [sms] = inbox(simulator, sandbox)
    assert sms == f"Hello! Your code is {the_sent_code(sms)}. It expires in 10 minutes."
    page = auditor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Hello! Your code is ••••••. It expires in 10 minutes." in page
    assert re.search(r"From template</dt><dd[^>]*>Standard \(edited\)</dd>", page)


def test_OTP6_a_resend_cannot_carry_free_text_while_editing_is_off(
    app, support, sandbox, simulator
):
    no_cooldown(app)
    send(support)
    [original] = attempts(app)
    form = support.get(f"/attempts/{original.public_id}/resend").get_data(as_text=True)
    assert re.search(r"<textarea[^>]*readonly[^>]*>\s*Your verification code is \{code\}", form)
    assert resend(support, original.public_id, message=PHISHING).status_code == 302
    repeated = attempts(app)[-1]
    assert (repeated.message_masked, repeated.template_id) == (TEMPLATE_SENT, "default")
    assert not repeated.message_edited
    sms = inbox(simulator, sandbox)[-1]
    assert sms == messages.render(messages.DEFAULT_TEMPLATE, the_sent_code(sms))


def test_OTP6_a_resend_of_an_edit_says_it_again_with_a_new_code_once_editing_is_off(
    app, support, sandbox, simulator
):
    no_cooldown(app)
    allow_editing(app)
    send(support, message="Hi Ana, your code is {code}.")
    allow_editing(app, False)
    [original] = attempts(app)
    resend(support, original.public_id, message=PHISHING)
    repeated = attempts(app)[-1]
    assert repeated.message_masked == "Hi Ana, your code is ••••••."
    assert (repeated.template_id, repeated.message_edited) == ("default", True)
    for sms in inbox(simulator, sandbox):
        assert sms == f"Hi Ana, your code is {the_sent_code(sms)}."


def test_IV1_a_resend_edit_while_editing_is_on_is_checked_against_the_template(
    app, support, sandbox, simulator
):
    no_cooldown(app)
    send(support)
    allow_editing(app)
    [original] = attempts(app)
    response = resend(support, original.public_id, message="Code {code}. Call 0323456789")
    assert "a phone number the template does not have" in page_text(response)
    assert len(attempts(app)) == 1 and len(inbox(simulator, sandbox)) == 1


def test_OTP6_a_resend_of_a_removed_template_is_refused(app, support, sandbox, simulator):
    no_cooldown(app)
    with app.app_context():
        gone = message_templates.add("Withdrawn", "Code {code}", "test")
    send(support, template=gone.id)
    with app.app_context():
        message_templates.remove(gone.id, "test")
    [original] = attempts(app)
    form = page_text(support.get(f"/attempts/{original.public_id}/resend"))
    assert "The template of that send was removed" in form  # said before a reason is typed
    response = resend(support, original.public_id)
    assert response.status_code == 200
    error = re.search(r'id="message-error">([^<]*)</div>', page_text(response))
    assert error and "The template of that send was removed" in error.group(1)
    assert len(attempts(app)) == 1 and len(inbox(simulator, sandbox)) == 1


@pytest.mark.parametrize(
    ("recorded", "accepted"),
    [(TEMPLATE_SENT, True), ("Unlock at rm-unlock.example: ••••••", False)],
    ids=["a template's words", "free text"],
)
def test_OTP6_a_resend_of_an_attempt_from_before_templates_were_enforced(
    app, support, sandbox, simulator, recorded, accepted
):
    no_cooldown(app)
    send(support)
    with app.app_context(), write_transaction():
        db.session.execute(db.update(Attempt).values(template_id=None, message_masked=recorded))
    [original] = attempts(app)
    response = resend(support, original.public_id)
    if accepted:
        assert response.status_code == 302
        assert attempts(app)[-1].template_id == "default"
        assert len(inbox(simulator, sandbox)) == 2
    else:
        assert "not an approved template" in page_text(response)
        assert len(attempts(app)) == 1 and len(inbox(simulator, sandbox)) == 1


def test_OTP6_a_double_submit_with_ignored_text_still_sends_once(app, support, sandbox, simulator):
    page = support.get("/send").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "idempotency_key": KEY_RE.search(page).group(1),
        "country_code": "60",
        "phone_number": "016-387 7652",
        "reason": "Ticket 4711",
        "template": "default",
        "message": PHISHING,
    }
    first, second = support.post("/send", data=data), support.post("/send", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    assert len(inbox(simulator, sandbox)) == 1
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 1


@pytest.fixture
def auditor_client(app, make_user):
    from support import sign_in

    make_user("auditor@example.com", "auditor")
    client = app.test_client()
    assert sign_in(client, "auditor@example.com").status_code == 302
    return client

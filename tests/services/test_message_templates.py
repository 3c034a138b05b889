"""Editing a message template: the rules of adding, audited before and after, and past sends
keep what they said (on SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from support import csrf_token, query_scalar, sign_in

from dashboard.domain import messages
from dashboard.extensions import db
from dashboard.models import Attempt, AuditEvent
from dashboard.services import message_templates

MALAY = "Kod pengesahan anda: {code}"


def add(app, name: str = "Malay", text: str = MALAY) -> message_templates.Template:
    with app.app_context():
        return message_templates.add(name, text, "test")


def test_an_edit_keeps_the_id_and_the_place_and_is_audited_before_and_after(app):
    first = add(app, "First", "First {code}")
    second = add(app)
    with app.app_context():
        edited = message_templates.edit(second.id, " Malay (short) ", "Kod: {code}", "admin@x")
        assert edited == message_templates.Template(second.id, "Malay (short)", "Kod: {code}")
        assert [t.id for t in message_templates.all_templates()] == [
            "default",
            first.id,
            second.id,
        ]
        assert message_templates.find(second.id) == edited
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "template.edit")
        ).one()
        assert (event.actor_label, event.target) == ("admin@x", "Malay (short)")
        assert event.details == {
            "template_id": second.id,
            "old": {"name": "Malay", "text": MALAY},
            "new": {"name": "Malay (short)", "text": "Kod: {code}"},
        }


def test_the_default_template_can_be_edited_and_stays_the_default(app):
    with app.app_context():
        message_templates.edit("default", "Standard", "Your code: {code}", "test")
        assert message_templates.all_templates() == [
            message_templates.Template("default", "Standard", "Your code: {code}")
        ]


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("Malay", "no code here", "must contain {code} exactly once"),
        ("Malay", "{code} and {code}", "must contain {code} exactly once"),
        ("Malay", "Code {code}\tnow", "control characters"),
        ("Malay", "{code} " + "x" * 480, "SMS long"),
        ("   ", "Code {code}", "Give the template a name."),
    ],
    ids=["no-code", "two-codes", "tab", "too-long", "blank-name"],
)
def test_a_bad_edit_is_refused_like_a_bad_addition_and_changes_nothing(app, name, text, words):
    template = add(app)
    with app.app_context():
        with pytest.raises(messages.InvalidTemplate, match=words.replace("{", r"\{")):
            message_templates.add(name, text, "test")
        with pytest.raises(messages.InvalidTemplate, match=words.replace("{", r"\{")):
            message_templates.edit(template.id, name, text, "test")
        assert message_templates.find(template.id) == template
    assert (
        query_scalar(app, "SELECT count(*) FROM audit_events WHERE action = 'template.edit'") == 0
    )


def test_editing_a_removed_template_says_so(app):
    with app.app_context(), pytest.raises(message_templates.TemplateGone):
        message_templates.edit("nope", "Name", "Code {code}", "test")


def test_an_edit_that_changes_nothing_records_nothing(app):
    template = add(app)
    with app.app_context():
        assert message_templates.edit(template.id, "Malay", MALAY, "test") == template
    assert (
        query_scalar(app, "SELECT count(*) FROM audit_events WHERE action = 'template.edit'") == 0
    )


def test_past_sends_keep_their_words_and_show_the_new_name(app, support, sandbox):
    from test_send import send

    template = add(app)
    sent = send(support, template=template.id, message=MALAY)
    assert sent.status_code == 302
    with app.app_context():
        message_templates.edit(template.id, "Malay, new", "Kod anda: {code}", "test")
        attempt = db.session.scalars(select(Attempt)).one()
        assert attempt.message_masked == "Kod pengesahan anda: ••••••"
        assert attempt.template_id == template.id
    shown = support.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Malay, new" in shown and "Kod pengesahan anda: ••••••" in shown


# -- the pages ---------------------------------------------------------------------------------


def test_the_edit_page_saves_a_good_edit_and_keeps_a_bad_one_with_its_message(
    app, client, make_user
):
    template = add(app)
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get(f"/admin/templates/{template.id}/edit").get_data(as_text=True)
    assert 'data-sms-preview="message-preview"' in page and MALAY in page

    refused = client.post(
        f"/admin/templates/{template.id}/edit",
        data={"name": "Malay", "text": "Kod anda", "csrf_token": csrf_token(page)},
    )
    body = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert 'id="text-error"' in body and "must contain {code} exactly once" in body
    assert "<title>Error: " in body, re.search(r"<title>.*?</title>", body, re.S).group()
    assert re.search(r">\s*Kod anda</textarea>", body), re.search(
        r"<textarea.*?</textarea>", body, re.S
    ).group()
    with app.app_context():
        assert message_templates.find(template.id) == template

    saved = client.post(
        f"/admin/templates/{template.id}/edit",
        data={"name": "Malay", "text": "Kod anda: {code}", "csrf_token": csrf_token(page)},
    )
    assert saved.headers["Location"] == "/admin/templates"
    with app.app_context():
        assert message_templates.find(template.id).text == "Kod anda: {code}"
    assert "Template “Malay” saved." in client.get("/admin/templates").get_data(as_text=True)
    assert client.get("/admin/templates/nope/edit").status_code == 404


def test_removing_a_template_asks_first_and_cancel_changes_nothing(app, client, make_user):
    template = add(app)
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    listing = client.get("/admin/templates").get_data(as_text=True)
    assert f'href="/admin/templates/{template.id}/remove"' in listing
    question = client.get(f"/admin/templates/{template.id}/remove").get_data(as_text=True)
    assert "Remove the template “Malay”?" in question
    assert 'href="/admin/templates">Cancel</a>' in question
    with app.app_context():
        assert message_templates.find(template.id) == template  # asking removed nothing

    client.post(f"/admin/templates/{template.id}/remove", data={"csrf_token": csrf_token(question)})
    with app.app_context():
        assert message_templates.find(template.id) is None
    assert query_scalar(app, "SELECT count(*) FROM audit_events WHERE action = 'template.remove'")

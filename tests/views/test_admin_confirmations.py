"""Destructive admin actions ask first: a confirmation page (GET, which changes nothing) whose
button sends the same guarded POST as before, so a fresh sign-in is still needed (AU-4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time
from support import PASSWORD, csrf_token, query_scalar, sign_in, totp_code

from dashboard.models import utcnow
from dashboard.services import users

QUESTIONS = {
    "disable": (
        "Disable Zara Ahmad?",
        "They are signed out everywhere and cannot sign in until enabled again.",
        "Disable",
    ),
    "reset-password": ("Reset the password of Zara Ahmad?", "one-time password", "Reset password"),
    "sign-out": ("Sign Zara Ahmad out everywhere?", "Every session of theirs ends", "Sign out"),
    "reset-two-step": (
        "Turn off two-step sign-in for Zara Ahmad?",
        "sign in with their password alone until they set it up again",
        "Turn off two-step",
    ),
}


def audit_count(app) -> int:
    return query_scalar(app, "SELECT count(*) FROM audit_events")


@pytest.fixture
def zara(app, make_user) -> int:
    make_user("boss@example.com", "admin")
    with app.app_context():
        user, _ = users.create_user(
            "zara@example.com", "support", "test", name="Zara Ahmad", password=PASSWORD
        )
        return user.id


@pytest.mark.parametrize("action", list(QUESTIONS))
def test_a_destructive_user_action_asks_first_and_asking_changes_nothing(app, client, zara, action):
    question, consequence, button = QUESTIONS[action]
    sign_in(client, "boss@example.com")
    user_page = client.get(f"/admin/users/{zara}").get_data(as_text=True)
    if action != "reset-two-step":  # offered only to a user who has it on
        assert f'href="/admin/users/{zara}/{action}"' in user_page  # a link: no change yet
    before = audit_count(app)
    page = client.get(f"/admin/users/{zara}/{action}").get_data(as_text=True)
    assert question in page and consequence in page
    assert f'<button type="submit" class="btn btn-danger">{button}' in page
    assert f'<a class="btn btn-outline-secondary" href="/admin/users/{zara}">Cancel</a>' in page
    assert audit_count(app) == before
    assert query_scalar(app, "SELECT active FROM users WHERE id = :id", id=zara) in (True, 1)


def test_confirming_a_disable_does_it_and_audits_it(app, client, zara):
    sign_in(client, "boss@example.com")
    page = client.get(f"/admin/users/{zara}/disable").get_data(as_text=True)
    answer = client.post(f"/admin/users/{zara}/disable", data={"csrf_token": csrf_token(page)})
    assert answer.headers["Location"] == f"/admin/users/{zara}"
    assert query_scalar(app, "SELECT active FROM users WHERE id = :id", id=zara) in (False, 0)
    action = "SELECT action FROM audit_events ORDER BY id DESC LIMIT 1"
    assert query_scalar(app, action) == "user.disable"
    shown = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "zara@example.com is disabled and signed out everywhere." in shown


def test_AU4_a_confirmation_page_is_no_way_around_a_fresh_sign_in(app, client, zara):
    """A stale admin may read the question, but its button asks who they are first, and
    brings them back to the question, not to the change."""
    with freeze_time(utcnow()) as clock:
        sign_in(client, "boss@example.com")
        clock.tick(timedelta(minutes=11))
        page = client.get(f"/admin/users/{zara}/disable").get_data(as_text=True)
        assert "Disable Zara Ahmad?" in page
        before = audit_count(app)
        answer = client.post(f"/admin/users/{zara}/disable", data={"csrf_token": csrf_token(page)})
        confirm_url = answer.headers["Location"]
        assert confirm_url.startswith("/account/confirm?")
        assert audit_count(app) == before
        assert query_scalar(app, "SELECT active FROM users WHERE id = :id", id=zara) in (True, 1)
        confirm = client.get(confirm_url).get_data(as_text=True)
        assert "To disable a user, confirm it is you" in confirm
        proved = client.post(
            confirm_url,
            data={
                "password": PASSWORD,
                "code": totp_code(app, "boss@example.com"),
                "csrf_token": csrf_token(confirm),
            },
        )
        assert proved.headers["Location"] == f"/admin/users/{zara}/disable"  # the question again
        assert query_scalar(app, "SELECT active FROM users WHERE id = :id", id=zara) in (True, 1)


def test_replacing_a_stored_key_pair_asks_first(app, client, make_user, sandbox):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    provider = client.get("/admin/provider").get_data(as_text=True)
    assert 'href="/admin/provider/sandbox/generate"' in provider
    version = "SELECT version FROM provider_accounts WHERE environment = 'sandbox'"
    stored = query_scalar(app, version)
    page = client.get("/admin/provider/sandbox/generate").get_data(as_text=True)
    assert "Replace the sandbox key pair?" in page
    assert 'href="/admin/provider#sandbox">Cancel</a>' in page
    assert query_scalar(app, version) == stored
    client.post("/admin/provider/sandbox/generate", data={"csrf_token": csrf_token(page)})
    assert query_scalar(app, version) == stored + 1
    # Production has no key: nothing to lose, so its button generates one at once.
    assert client.get("/admin/provider/production/generate").headers["Location"] == (
        "/admin/provider#production"
    )

"""The audit log in words: a sentence for every known action, a readable one for any other,
no action ids, JSON or UUIDs in them, and numbers only as the viewer may see them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest
from sqlalchemy import select
from support import PASSWORD, sign_in

from dashboard.domain import audit_words
from dashboard.domain.audit_words import Event, Link, plain, sentence
from dashboard.extensions import db
from dashboard.models import Attempt, AuditEvent
from dashboard.services import audit_reading, history, users
from dashboard.services.users import find_by_email

ATTEMPT_ID = "0b7e3a52-8f3e-4e59-9a3c-1f2d3e4f5a6b"
KL_TIME = "2026-12-02 22:15:00 +08"


def kl_time(moment: datetime) -> str:
    """A stand-in for the viewer's clock, so that a time in a sentence is seen to pass by it."""
    return KL_TIME


def words(action: str, **facts) -> str:
    facts.setdefault("actor", "Ali")
    facts.setdefault("actor_key", "ali@example.com")
    return plain(sentence(Event(action=action, time=kl_time, **facts)))


#: Every known action: the facts of one event, and its sentence.
EXAMPLES = {
    "number.reveal": (
        {"target": ATTEMPT_ID, "number": "+60 •••••7652", "details": {"reason": "ticket 1234"}},
        "Ali revealed +60 •••••7652: ticket 1234.",
    ),
    "code.check": (
        {"target": ATTEMPT_ID, "number": "+60 16-387 7652", "details": {"matched": True}},
        "Ali checked a code for +60 16-387 7652: it was right.",
    ),
    "history.export_started": (
        {"target": "csv export", "details": {"format": "csv", "filters": {"status": "unknown"}}},
        "Ali started a CSV export, filtered by status unknown.",
    ),
    "history.export": (
        {
            "target": "3 attempts",
            "event_id": 41,
            "full_numbers": True,
            "details": {
                "format": "jsonl",
                "rows": 3,
                "complete": True,
                "filters": {"number": "ends 7652", "date_from": "2026-12-02", "zone": "Asia/KL"},
            },
        },
        "Ali exported 3 attempts as JSON Lines (manifest), filtered by number ends with 7652,"
        " from 2026-12-02 (Asia/KL).",
    ),
    "attempts.purge": (
        {"target": "4 attempts", "details": {"older_than_days": 41}},
        "Ali deleted 4 attempts older than 41 days.",
    ),
    "user.create": (
        {"target": "zara@example.com", "target_name": "Zara", "details": {"role": "support"}},
        "Ali created an account for Zara (support).",
    ),
    "user.password_change": ({"target": "ali@example.com"}, "Ali changed their password."),
    "user.password_reset": (
        {"target": "zara@example.com", "target_name": "Zara"},
        "Ali gave Zara a one-time password.",
    ),
    "user.role_change": (
        {
            "target": "zara@example.com",
            "target_name": "Zara",
            "details": {"old": "support", "new": "admin"},
        },
        "Ali changed Zara’s role from support to admin.",
    ),
    "user.enable": (
        {"target": "zara@example.com", "target_name": "Zara"},
        "Ali enabled Zara’s account.",
    ),
    "user.disable": (
        {"target": "zara@example.com", "target_name": "Zara"},
        "Ali disabled Zara’s account.",
    ),
    "user.two_step_reset": (
        {"target": "zara@example.com", "target_name": "Zara"},
        "Ali turned off Zara’s two-step sign-in.",
    ),
    "user.sign_out_everywhere": (
        {"target": "zara@example.com", "target_name": "Zara"},
        "Ali signed Zara out on every device.",
    ),
    "auth.success": ({"details": {"step": "two_step"}}, "Ali signed in with a two-step code."),
    "auth.sign_out": ({}, "Ali signed out."),
    "auth.failure": (
        {
            "actor": "unknown account 0a1b2c3d4e5f6a7b",
            "actor_key": "",
            "target": "unknown account 0a1b2c3d4e5f6a7b",
            "details": {"step": "password"},
        },
        "A sign-in as an email no account has failed: wrong password.",
    ),
    "passkey.add": ({"details": {"name": "Work laptop"}}, "Ali added the passkey “Work laptop”."),
    "passkey.remove": (
        {"target": "zara@example.com", "target_name": "Zara", "details": {"name": "Old phone"}},
        "Ali removed Zara’s passkey “Old phone”.",
    ),
    "passkey.remove_all": (
        {"target": "zara@example.com", "target_name": "Zara", "details": {"count": 2}},
        "Ali removed every passkey of Zara (2).",
    ),
    "passkey.cloned": (
        {"target": "zara@example.com", "target_name": "Zara", "details": {"name": "Key"}},
        "A sign-in as Zara with the passkey “Key” was refused: its counter did not grow, as a"
        " copied authenticator's would not.",
    ),
    "auth.refused_passkey_required": (
        {"target": "zara@example.com", "target_name": "Zara"},
        "A sign-in as Zara was refused: it gave a code from the app, and admins must use a"
        " passkey.",
    ),
    "sso.account_create": (
        {
            "actor": "single sign-on",
            "actor_key": "",
            "target": "aisyah@example.com",
            "details": {"role": "support", "issuer": "https://login.example.com"},
        },
        "aisyah@example.com’s account was created at their first single sign-on, as support.",
    ),
    "sso.link": (
        {"target": "ali@example.com", "details": {"issuer": "https://login.example.com"}},
        "Ali signed in with single sign-on for the first time: the account is now tied to "
        "that identity.",
    ),
    "sso.role_change": (
        {
            "actor": "single sign-on",
            "actor_key": "",
            "target": "mei@example.com",
            "details": {"old": "support", "new": "auditor"},
        },
        "mei@example.com’s role changed from support to auditor, following their groups at "
        "the identity provider.",
    ),
    "sso.refused": (
        {"target": "ali@example.com", "details": {"reason": "unmapped", "sessions_ended": True}},
        "A single sign-on as ali@example.com was refused: they are in none of the groups that "
        "may sign in; their sessions were ended.",
    ),
    "auth.lock": (
        {
            "target": "zara@example.com",
            "target_name": "Zara",
            "details": {"until": "2026-12-02T14:15:00+00:00"},
        },
        f"Sign-in as Zara was locked until {KL_TIME} after too many failures.",
    ),
    "auth.refused_locked": (
        {"target": "zara@example.com", "target_name": "Zara", "details": {"step": "password"}},
        "A sign-in as Zara was refused: it is locked.",
    ),
    "auth.refused_expired": (
        {"target": "zara@example.com", "target_name": "Zara"},
        "A sign-in as Zara was refused: the one-time password had expired.",
    ),
    "two_step.enable": ({}, "Ali turned on two-step sign-in."),
    "two_step.recovery_code_used": (
        {"details": {"left": 9}},
        "Ali signed in with a recovery code (9 left).",
    ),
    "access.denied": (
        {"target": f"/attempts/{ATTEMPT_ID}/resend", "details": {"method": "POST"}},
        "Ali was refused when trying to send a form to /attempts/…/resend.",
    ),
    "provider.switch": (
        {
            "target": "production",
            "details": {"old": "sandbox", "new": "production", "reason": "go live"},
        },
        "Ali switched the active environment from sandbox to production: go live.",
    ),
    "provider.configure": (
        {"target": "sandbox", "details": {"changed": ["client_id", "private_key"]}},
        "Ali changed the RevenueMonster credentials of sandbox (client ID, key).",
    ),
    "provider.test": (
        {"target": "sandbox", "details": {"ok": False, "result": "The client ID is wrong."}},
        "Ali tested the connection to sandbox: it failed (The client ID is wrong).",
    ),
    "limits.change": (
        {"target": "send_limits", "details": {"changes": {"paused": {"old": False, "new": True}}}},
        "Ali changed the sending limits: sending paused from off to on.",
    ),
    "setting.change": (
        {"target": "two_step_for_everyone", "details": {"old": False, "new": True}},
        "Ali required two-step sign-in for everyone.",
    ),
    "template.add": ({"target": "Short"}, "Ali added the template “Short”."),
    "template.edit": (
        {"target": "Short", "details": {"old": {"name": "Brief"}, "new": {"name": "Short"}}},
        "Ali edited the template “Short” (formerly “Brief”).",
    ),
    "template.remove": ({"target": "Short"}, "Ali removed the template “Short”."),
    "template.default": ({"target": "Short"}, "Ali made “Short” the default template."),
    "secrets.rotate": (
        {"details": {"values": 1}},
        "Ali re-encrypted 1 secret with the newest key.",
    ),
}


def test_every_known_action_has_an_example_here():
    assert set(EXAMPLES) == set(audit_words.ACTIONS)


@pytest.mark.parametrize("action", sorted(EXAMPLES))
def test_each_known_action_reads_as_a_sentence(action):
    facts, expected = EXAMPLES[action]
    said = words(action, **facts)
    assert said == expected
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", said) and "{" not in said
    assert action not in said  # its id is in the disclosure, not in the words


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ({"step": "password"}, "Ali signed in."),
        ({"step": "single_sign_on"}, "Ali signed in with single sign-on."),
        ({"step": "passkey"}, "Ali signed in with a passkey."),
        (
            {"step": "passkey", "first_step": "single_sign_on"},
            "Ali signed in with single sign-on and a passkey.",
        ),
        (
            {"step": "two_step", "first_step": "single_sign_on"},
            "Ali signed in with single sign-on and a two-step code.",
        ),
    ],
)
def test_a_sign_in_says_how(details, expected):
    assert words("auth.success", details=details) == expected


@pytest.mark.parametrize(
    ("outcome", "matched", "expected"),
    [
        ("wrong", False, "Ali checked a code for +60 •••••7652: it was wrong."),
        ("last_try", False, "Ali checked a code for +60 •••••7652: wrong, and the last try."),
        ("earlier", False, "Ali checked a code for +60 •••••7652: it was no longer valid."),
        ("none_valid", False, "Ali checked a code for +60 •••••7652: no valid code was waiting."),
        (None, True, "Ali checked a code for +60 •••••7652: it was right."),  # before outcomes
    ],
)
def test_a_code_check_says_what_it_found(outcome, matched, expected):
    details = {"matched": matched, **({"outcome": outcome} if outcome else {})}
    assert words("code.check", target=ATTEMPT_ID, number="+60 •••••7652", details=details) == (
        expected
    )


def test_the_command_line_and_people_are_named_as_such():
    command = sentence(Event("secrets.rotate", actor="command line", details={"values": 2}))
    assert plain(command) == "The command line re-encrypted 2 secrets with the newest key."
    person = sentence(Event("auth.sign_out", actor="Zara", actor_key="zara@example.com"))
    assert person[0] == Link(audit_words.USER, "zara@example.com", "Zara")


def test_what_has_a_page_is_a_link_to_it():
    revealed = sentence(
        Event("number.reveal", actor="Ali", target=ATTEMPT_ID, number="+60 •••••7652")
    )
    assert Link(audit_words.ATTEMPT, ATTEMPT_ID, "+60 •••••7652") in revealed
    exported = sentence(Event("history.export", actor="Ali", event_id=41, details={"rows": 1}))
    assert Link(audit_words.EXPORT, "41", "manifest") in exported
    gone = sentence(Event("number.reveal", actor="Ali", target=ATTEMPT_ID))  # purged since
    assert plain(gone) == "Ali revealed an attempt that was since deleted."
    assert not any(isinstance(part, Link) and part.kind == "attempt" for part in gone)


def test_an_unknown_action_still_reads_as_a_sentence_without_ids():
    said = words("payments.refund", target=f"refund {ATTEMPT_ID}")
    assert said == "Ali recorded “payments refund” for refund …."
    assert audit_words.action_name("payments.refund") == "Payments refund"
    assert audit_words.action_name("number.reveal") == "Number revealed"


def test_details_of_another_shape_fall_back_instead_of_failing():
    said = words("user.role_change", target="zara@example.com", details={"role": "admin"})
    assert said == "Ali recorded “user role change” for zara@example.com."


def test_digits_of_their_own_are_hidden_from_a_viewer_without_full_numbers():
    export = {"rows": 1, "format": "csv", "filters": {"number": "starts 60163"}}
    hidden = words("history.export", details=export, full_numbers=False)
    shown = words("history.export", details=export, full_numbers=True)
    assert "60163" not in hidden and "number starts with (hidden)" in hidden
    assert "number starts with 60163" in shown
    partial = {"target": "+60163877••••", "details": {"matched": False}}
    assert "60163877" not in words("code.check", **partial, full_numbers=False)
    assert "+60163877••••" in words("code.check", **partial, full_numbers=True)


def add_attempt(app, sender_email: str) -> str:
    with app.app_context():
        attempt = Attempt(
            user_id=find_by_email(sender_email).id,
            environment="sandbox",
            country_code="60",
            national_number="163877652",
            phone_e164="+60163877652",
            phone_reversed="25677836106",
            message_masked="Code ••••••",
            reason="Ticket 1234",
            status="accepted",
            response_code="SUCCESS",
            idempotency_key=str(uuid.uuid4()),
        )
        db.session.add(attempt)
        db.session.commit()
        return attempt.public_id


def named_user(app, email: str, role: str, name: str) -> None:
    with app.app_context():
        users.create_user(email, role, "test", name=name, password=PASSWORD)


def test_numbers_in_the_words_are_masked_by_the_viewers_rights(app, make_user):
    """The service reads the masking rule of services.history: an auditor reads the number a
    support agent revealed in full; a viewer who sees numbers masked (support, who cannot
    open the page, but the words do not rely on that) reads only its last digits."""
    make_user("sender@example.com", "support")
    named_user(app, "aisyah@example.com", "support", "Aisyah")
    make_user("other@example.com", "support")
    make_user("auditor@example.com", "auditor")
    public_id = add_attempt(app, "sender@example.com")
    with app.app_context():
        aisyah = find_by_email("aisyah@example.com")
        attempt = db.session.scalar(select(Attempt).where(Attempt.public_id == public_id))
        history.reveal(attempt, aisyah, reason="ticket 1234")
        reveals = select(AuditEvent).where(AuditEvent.action == "number.reveal")
        events = list(db.session.scalars(reveals))
        seen = {
            email: plain(audit_reading.read(events, find_by_email(email), kl_time)[0].words)
            for email in ("auditor@example.com", "sender@example.com", "other@example.com")
        }
    assert seen["auditor@example.com"] == "Aisyah revealed +60 16-387 7652: ticket 1234."
    assert seen["sender@example.com"] == "Aisyah revealed +60 16-387 7652: ticket 1234."  # theirs
    assert seen["other@example.com"] == "Aisyah revealed +60 •••••7652: ticket 1234."


def text_of(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", page).split())


def test_the_audit_page_shows_words_links_and_the_raw_details_folded(app, client, make_user):
    make_user("boss@example.com", "admin")
    named_user(app, "zara@example.com", "support", "Zara")
    make_user("auditor@example.com", "auditor")
    with app.app_context():
        boss = find_by_email("boss@example.com")
        boss_id = boss.id
        users.set_role(find_by_email("zara@example.com"), "auditor", boss)
        zara_id = find_by_email("zara@example.com").id
    sign_in(client, "auditor@example.com")
    page = client.get("/audit?action=user.role_change").get_data(as_text=True)
    assert "boss@example.com changed Zara’s role from support to auditor." in text_of(page)
    assert "/admin/users/" not in page  # an auditor may not open users' pages: no links
    assert '<option value="user.role_change" selected>Role changed</option>' in page
    assert "Filters (1)" in page
    assert "<summary>Recorded details</summary>" in page
    assert "<code>user.role_change</code>" in page  # the id, folded away

    admin = app.test_client()
    sign_in(admin, "boss@example.com")
    page = admin.get("/audit?action=user.role_change").get_data(as_text=True)
    assert f'<a href="/admin/users/{zara_id}">Zara’s</a>' in page
    assert f'<a href="/admin/users/{boss_id}">boss@<wbr>example.<wbr>com</a>' in page


def test_an_unknown_action_from_a_link_is_offered_and_an_odd_one_refused(app, auditor):
    page = auditor.get("/audit?action=seed.event")
    assert page.status_code == 200
    assert '<option value="seed.event" selected>Seed event</option>' in page.text
    refused = auditor.get("/audit?action=<script>")
    assert refused.status_code == 400 and "Choose an action from the list." in refused.text
    assert '<details class="filters" open' in refused.text  # the disclosure opens on an error

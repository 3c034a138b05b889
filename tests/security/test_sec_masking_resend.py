"""Access control (AC-3): a support agent sees only the last 4 digits of numbers others sent
to, and pressing Resend on such an attempt is no way to unmask it. The resend is the
resender's own attempt, yet it keeps the visibility of what it repeats, whatever its outcome
(accepted, or blocked by a limit), on its page and in the history, unless the resender
revealed the original first (audited, with a reason)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from support import csrf_token, query_scalar, sign_in

from dashboard.services import limits

KEY_RE = re.compile(r'name="idempotency_key" type="hidden" value="([^"]+)"')
#: The number agent A sends to, in every way a page could write it in full.
IN_FULL = ("016-387 7652", "16-387 7652", "163877652", "+60163877652", "60163877652")
MASKED = "+60 •••••7652"


@pytest.fixture
def agents(app, make_user):
    """Agents A and B, signed in on clients of their own; A has sent a code to the number.
    Returns (A's client, B's client, the public id of A's attempt)."""
    clients = []
    for email in ("a@example.com", "b@example.com"):
        make_user(email, "support")
        client = app.test_client()
        assert sign_in(client, email).status_code == 302
        clients.append(client)
    first, second = clients
    page = first.get("/send").get_data(as_text=True)
    sent = first.post(
        "/send",
        data={
            "csrf_token": csrf_token(page),
            "idempotency_key": KEY_RE.search(page).group(1),
            "country_code": "60",
            "phone_number": IN_FULL[0],
            "reason": "Ticket 1",
            "template": "default",
        },
    )
    assert sent.status_code == 302
    return first, second, query_scalar(app, "SELECT public_id FROM attempts")


def set_cooldown(app, seconds: int) -> None:
    with app.app_context():
        limits.save(dataclasses.replace(limits.current(), cooldown_seconds=seconds), "test")


def resend(client, public_id: str):
    form = client.get(f"/attempts/{public_id}/resend").get_data(as_text=True)
    return form, client.post(
        f"/attempts/{public_id}/resend",
        data={
            "csrf_token": csrf_token(form),
            "idempotency_key": KEY_RE.search(form).group(1),
            "reason": "Customer got nothing",
        },
    )


def shows_in_full(page: str) -> bool:
    page = page.replace("&#43;", "+")
    return any(written in page for written in IN_FULL)


@pytest.mark.parametrize(("cooldown", "status"), [(0, "Accepted"), (60, "Blocked")])
def test_AC3_another_agents_resend_stays_masked_for_the_resender(
    app, sandbox, agents, cooldown, status
):
    _, agent_b, original = agents
    set_cooldown(app, cooldown)
    form, response = resend(agent_b, original)
    assert MASKED in form and not shows_in_full(form)
    assert response.status_code == 302
    assert not shows_in_full(response.headers["Location"])
    page = agent_b.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Send to <span data-number>{MASKED}</span>" in page and status in page
    assert not shows_in_full(page)
    history = agent_b.get("/history").get_data(as_text=True)
    assert history.count(f"data-number>{MASKED}</td>") == 2  # both rows masked
    assert not shows_in_full(history)
    mine = "SELECT number_visible_to_sender FROM attempts WHERE id = 2"
    assert query_scalar(app, mine) in (False, 0)
    assert query_scalar(app, "SELECT user_id FROM attempts WHERE id = 2") == query_scalar(
        app, "SELECT id FROM users WHERE email = 'b@example.com'"
    )


def test_AC3_an_agent_who_revealed_the_original_first_gets_a_visible_resend(app, sandbox, agents):
    _, agent_b, original = agents
    set_cooldown(app, 0)
    page = agent_b.get(f"/attempts/{original}").get_data(as_text=True)
    revealed = agent_b.post(
        f"/attempts/{original}/reveal",
        data={"csrf_token": csrf_token(page), "reason": "Customer on the phone"},
    )
    assert shows_in_full(revealed.get_data(as_text=True))
    _, response = resend(agent_b, original)
    page = agent_b.get(response.headers["Location"]).get_data(as_text=True)
    assert "Accepted" in page and shows_in_full(page)
    mine = "SELECT number_visible_to_sender FROM attempts WHERE id = 2"
    assert query_scalar(app, mine) in (True, 1)


def test_AC3_the_sender_resending_their_own_attempt_still_sees_the_number(app, sandbox, agents):
    agent_a, _, original = agents
    set_cooldown(app, 0)
    _, response = resend(agent_a, original)
    assert shows_in_full(agent_a.get(response.headers["Location"]).get_data(as_text=True))
    mine = "SELECT number_visible_to_sender FROM attempts WHERE id = 2"
    assert query_scalar(app, mine) in (True, 1)


@pytest.mark.parametrize("reason", ["\u200b", " \u200b\u200d ", "\u2060"])
def test_IV1_a_reason_of_invisible_characters_is_refused_on_send_resend_and_reveal(
    app, sandbox, agents, reason
):
    agent_a, agent_b, original = agents
    set_cooldown(app, 0)
    page = agent_a.get("/send").get_data(as_text=True)
    sent = agent_a.post(
        "/send",
        data={
            "csrf_token": csrf_token(page),
            "idempotency_key": KEY_RE.search(page).group(1),
            "country_code": "60",
            "phone_number": IN_FULL[0],
            "reason": reason,
            "template": "default",
        },
    ).get_data(as_text=True)
    assert re.search(r'id="reason-error">Say why the code is sent', sent)
    form = agent_b.get(f"/attempts/{original}/resend").get_data(as_text=True)
    resent = agent_b.post(
        f"/attempts/{original}/resend",
        data={
            "csrf_token": csrf_token(form),
            "idempotency_key": KEY_RE.search(form).group(1),
            "reason": reason,
        },
    ).get_data(as_text=True)
    assert re.search(r'id="reason-error">Say why the code is sent', resent)
    revealed = agent_b.post(
        f"/attempts/{original}/reveal", data={"csrf_token": csrf_token(form), "reason": reason}
    ).get_data(as_text=True)
    assert re.search(r'id="reason-error">Say why you need the full number', revealed)
    assert not shows_in_full(revealed)
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 1
    assert (
        query_scalar(app, "SELECT count(*) FROM audit_events WHERE action = 'number.reveal'") == 0
    )

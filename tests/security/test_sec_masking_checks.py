"""Access control (AC-3) over checking codes: a support agent who sees another agent's send
with its number masked can check a code from it (the attempt's id travels, never the
number), and no check form, result, list of checks or audit entry shows them the number."""

from __future__ import annotations

import re

import pytest
from support import csrf_token, query_scalar, sign_in
from test_sec_masking_resend import IN_FULL, KEY_RE, MASKED, shows_in_full

CHECK_FORM_RE = re.compile(r"<form [^>]*data-check-form.*?</form>", re.S)


@pytest.fixture
def agents(app, sandbox, make_user):
    """Agents A and B, signed in on clients of their own; A has sent a code to the number.
    Returns (A's client, B's client, the public id of A's attempt)."""
    clients = []
    for email in ("a@example.com", "b@example.com"):
        make_user(email, "support")
        client = app.test_client()
        assert sign_in(client, email).status_code == 302
        clients.append(client)
    page = clients[0].get("/send").get_data(as_text=True)
    sent = clients[0].post(
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
    return clients[0], clients[1], query_scalar(app, "SELECT public_id FROM attempts")


def others_code(simulator, sandbox) -> str:
    message = [m for m in simulator.simulator.inbox if m["client_id"] == sandbox][-1]["message"]
    return re.search(r"\b\d{6}\b", message).group(0)


def test_AC3_checking_from_another_agents_send_never_shows_its_number(
    app, simulator, sandbox, agents
):
    _, second, public_id = agents
    result_page = second.get(f"/attempts/{public_id}").get_data(as_text=True)
    assert MASKED in result_page and not shows_in_full(result_page)
    form = CHECK_FORM_RE.search(result_page).group(0)
    assert f'name="attempt" type="hidden" value="{public_id}"' in form
    assert not shows_in_full(form)

    opened = second.get(f"/check?attempt={public_id}").get_data(as_text=True)
    assert MASKED in opened and not shows_in_full(opened)

    code = others_code(simulator, sandbox)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    token = csrf_token(opened)
    for typed in (wrong, code):
        answer = second.post(
            "/check", data={"csrf_token": token, "attempt": public_id, "code": typed}
        ).get_data(as_text=True)
        assert "data-check-result" in answer and "Recent checks of this number" in answer
        assert MASKED in answer and not shows_in_full(answer), typed
    assert "Right code." in answer

    listed = second.get(f"/attempts/{public_id}").get_data(as_text=True)
    assert "Code checks of this send" in listed and not shows_in_full(listed)
    aggregate = "group_concat" if app.config["DATABASE_BACKEND"] == "sqlite" else "string_agg"
    audited = query_scalar(
        app, f"SELECT {aggregate}(target, ' ') FROM audit_events WHERE action = 'code.check'"
    )
    assert audited and not any(written in audited for written in IN_FULL)


def test_AC3_a_check_page_opened_by_number_lists_checks_without_numbers(
    app, simulator, sandbox, agents
):
    """Whoever types the whole number knows it; the checks listed for it still name the sends
    only by their time and link, never by another agent's number in full."""
    first, second, public_id = agents
    code = others_code(simulator, sandbox)
    page = first.get(f"/attempts/{public_id}").get_data(as_text=True)
    first.post("/check", data={"csrf_token": csrf_token(page), "attempt": public_id, "code": code})
    form = second.get("/check").get_data(as_text=True)
    answer = second.post(
        "/check",
        data={
            "csrf_token": csrf_token(form),
            "country_code": "60",
            "phone_number": IN_FULL[0],
            "code": code,
        },
    ).get_data(as_text=True)
    assert "That code was already used" in answer
    listed = re.search(r"data-recent-checks.*?</table>", answer, re.S).group(0)
    assert f'href="/attempts/{public_id}"' in listed and not shows_in_full(listed)

"""The send flow at speed (issue 17), through the pages on both databases: the send form's
focus and error summary, the result page whose first action follows the outcome (check the
code, wait for the cooldown, ask the customer, have an admin fix the set-up), and an expired
session that brings the agent back to the form as they left it, with nothing sent."""

from __future__ import annotations

import re
from contextlib import nullcontext
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from freezegun import freeze_time
from support import PASSWORD, csrf_token, query_scalar, sign_in
from test_send import KEY_RE, send, send_form

from dashboard import security
from dashboard.models import utcnow
from dashboard.services import send_drafts, users

CHECK_FORM_RE = re.compile(r"<form [^>]*data-check-form.*?</form>", re.S)


def result_of(client, response) -> str:
    assert response.status_code == 302, response.status_code
    return client.get(response.headers["Location"]).get_data(as_text=True)


def first_step(page: str) -> str:
    return re.search(r'data-first-step="([a-z_]+)"', page).group(1)


def sent_code(simulator, client_id: str) -> str:
    message = [m for m in simulator.simulator.inbox if m["client_id"] == client_id][-1]["message"]
    return re.search(r"\b\d{6}\b", message).group(0)


def test_an_accepted_result_offers_to_check_the_code_first_without_the_number(
    app, support, sandbox, simulator
):
    page = result_of(support, send(support))
    public_id = query_scalar(app, "SELECT public_id FROM attempts")
    assert first_step(page) == "check"
    form = CHECK_FORM_RE.search(page).group(0)
    assert 'type="hidden"' in form and f'name="attempt" type="hidden" value="{public_id}"' in form
    assert '<label class="form-label fw-semibold" for="code">Code</label>' in form
    assert 'value="Check the code"' in form and "autofocus" in form
    assert "phone_number" not in form and "163877652" not in form
    # The check comes before the actions to send again.
    assert page.index("data-check-form") < page.index(">Resend</a>")

    code = sent_code(simulator, sandbox)
    answer = support.post(
        "/check",
        data={"csrf_token": csrf_token(page), "attempt": public_id, "code": code},
    ).get_data(as_text=True)
    assert "Right code.</strong> The customer has this phone." in answer
    refers = re.search(r"data-check-refers>(.*?)</p>", answer, re.S).group(1)
    assert "The code is from the send of" in refers and f"/attempts/{public_id}" in refers
    assert "Recent checks of this number" in answer and "Right" in answer
    attempt_page = support.get(f"/attempts/{public_id}").get_data(as_text=True)
    assert "Code checks of this send" in attempt_page
    assert re.search(r"<td>[^<]+</td><td>agent@example.com</td><td>Right</td>", attempt_page)


def test_check_a_code_opened_from_a_send_asks_for_the_code_only(app, support, sandbox):
    send(support)
    public_id = query_scalar(app, "SELECT public_id FROM attempts")
    page = support.get(f"/check?attempt={public_id}").get_data(as_text=True)
    assert 'name="phone_number"' not in page and 'name="country_code"' not in page
    assert "+60 16-387 7652" in page and f'href="/attempts/{public_id}"' in page
    assert support.get("/check?attempt=no-such-send").status_code == 404


def test_a_blocked_result_says_when_the_next_send_may_go_with_a_countdown(app, support, sandbox):
    send(support)
    page = result_of(support, send(support))
    assert first_step(page) == "wait"
    retry = re.search(r"data-retry-at>(.*?)</p>", page, re.S).group(1)
    assert retry.startswith("The next send to this number is allowed from <strong><time ")
    assert "data-countdown" in retry and "data-relative-text>(in " in retry
    assert page.index("data-retry-at") < page.index(">Resend</a>")


def test_an_unknown_result_asks_the_customer_first_then_offers_resend(app, support, sandbox):
    page = result_of(support, send(support, phone_number="120000500"))
    assert first_step(page) == "ask"
    asked = page.index("Ask the customer whether the SMS arrived first")
    assert asked < page.index("data-check-form") < page.index(">Resend</a>")
    assert page.count("may have been sent") == 1  # the headline says it, nothing repeats it


def offers_no_resend_and_says_an_admin_must_fix_it(page: str) -> None:
    assert first_step(page) == "admin"
    assert "An admin must fix the RevenueMonster set-up" in page
    assert ">Resend</a>" not in page and "Send another code" not in page


def test_a_setup_error_offers_no_resend_and_says_an_admin_must_fix_it(app, support, sandbox):
    page = result_of(support, send(support, phone_number="120000110"))  # CLIENT_NO_PERMISSION
    assert "CLIENT_NO_PERMISSION" in page
    offers_no_resend_and_says_an_admin_must_fix_it(page)


def test_no_credentials_is_a_setup_error_too(app, support):
    page = result_of(support, send(support))
    assert "NO_CREDENTIALS" in page
    offers_no_resend_and_says_an_admin_must_fix_it(page)


def test_the_send_form_focuses_the_number_and_sums_up_its_errors(app, support, sandbox):
    page = support.get("/send").get_data(as_text=True)
    number = re.search(r"<input [^>]*id=\"phone_number\"[^>]*>", page).group(0)
    country = re.search(r"<select [^>]*id=\"country_code\"[^>]*>", page).group(0)
    assert "autofocus" in number and "autofocus" not in country
    assert 'data-submitting="Sending…"' in page
    assert "<title>Send code" in page and "data-error-summary" not in page

    refused = send(support, phone_number="12345", reason="   ").get_data(as_text=True)
    assert "<title>Error: Send code" in refused
    summary = re.search(r"<div [^>]*data-error-summary.*?</div>", refused, re.S).group(0)
    links = re.findall(r'<a class="alert-link" href="#([a-z_]+)">', summary)
    assert links == ["phone_number", "reason"] or links == ["reason"] or links == ["phone_number"]
    assert "autofocus" not in re.search(r"<input [^>]*id=\"phone_number\"[^>]*>", refused).group(0)


#: What a browser sends with a form posted from one of the dashboard's own pages.
SAME_SITE = {"Origin": "http://localhost"}


def draft_location(response) -> tuple[str, str]:
    """Where a refused send form redirects, and the send form address it returns to."""
    assert response.status_code == 303, response.status_code
    location = response.headers["Location"]
    nxt = parse_qs(urlsplit(location).query).get("next", [location])[0]
    return location, nxt


def test_a_send_after_the_session_ended_signs_in_and_returns_to_the_form_as_typed(
    app, support, sandbox, simulator
):
    data = send_form(support, phone_number="017-123 4567", reason="Ticket 88: locked out")
    support.post("/logout", data={"csrf_token": data["csrf_token"]})
    before = simulator.simulator.sms_requests
    response = support.post("/send", data=data, headers=SAME_SITE)
    location, back = draft_location(response)
    assert urlsplit(location).path == "/login" and back.startswith("/send?draft=")
    assert "017" not in location and "Ticket" not in location  # sealed, not readable
    login = support.get(location).get_data(as_text=True)
    assert "Your session expired, so nothing was sent" in unescape(login)
    signed_in = support.post(
        location,
        data={"email": "agent@example.com", "password": PASSWORD, "csrf_token": csrf_token(login)},
    )
    assert signed_in.headers["Location"] == back
    form = unescape(support.get(back).get_data(as_text=True))
    assert "Your session had expired, so nothing was sent" in form
    assert 'value="017-123 4567"' in form and 'value="Ticket 88: locked out"' in form
    assert KEY_RE.search(form).group(1) != data["idempotency_key"]  # a new send's key
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 0
    assert simulator.simulator.sms_requests == before
    # Nothing goes without a fresh click; the click sends it.
    again = support.post(
        "/send",
        data={**data, "csrf_token": csrf_token(form), "idempotency_key": KEY_RE.search(form)[1]},
    )
    assert again.status_code == 302
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 1


@pytest.mark.parametrize("ended_by", ["idle", "elsewhere"])
def test_a_send_after_the_session_timed_out_or_ended_elsewhere_keeps_the_form(
    app, support, sandbox, simulator, ended_by
):
    """The two ways a session ends with its form token still good: the idle limit, and
    "sign out everywhere" from another device (the session version changes). Either way the
    form comes back after sign-in, and nothing is sent."""
    data = send_form(support, phone_number="017-123 4568", reason="Ticket 89: new phone")
    before = simulator.simulator.sms_requests
    if ended_by == "elsewhere":
        with app.app_context():
            agent = users.find_by_email("agent@example.com")
            users.sign_out_everywhere(agent, "test")
        later = nullcontext()
    else:
        later = freeze_time(utcnow() + timedelta(seconds=security.IDLE_TIMEOUT_SECONDS + 60))
    with later:
        response = support.post("/send", data=data, headers=SAME_SITE)
        location, back = draft_location(response)
        assert urlsplit(location).path == "/login" and back.startswith("/send?draft=")
        login = support.get(location).get_data(as_text=True)
        signed_in = support.post(
            location,
            data={
                "email": "agent@example.com",
                "password": PASSWORD,
                "csrf_token": csrf_token(login),
            },
        )
        assert signed_in.headers["Location"] == back
        form = unescape(support.get(back).get_data(as_text=True))
    assert 'value="017-123 4568"' in form and 'value="Ticket 89: new phone"' in form
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 0
    assert simulator.simulator.sms_requests == before


def test_a_draft_opens_only_for_who_typed_it_and_only_as_sealed(app, client, make_user, sandbox):
    make_user("agent@example.com", "support")
    make_user("other@example.com", "support")
    sign_in(client, "agent@example.com")
    data = send_form(client, reason="Ticket 99: mine")
    data["csrf_token"] = "forged"  # the form's token is no good, the session is
    _, back = draft_location(client.post("/send", data=data, headers=SAME_SITE))
    assert back.startswith("/send?draft=")
    mine = unescape(client.get(back).get_data(as_text=True))
    assert "The form had expired, so nothing was sent" in mine and "Ticket 99: mine" in mine
    other = app.test_client()
    sign_in(other, "other@example.com")
    theirs = other.get(back).get_data(as_text=True)
    assert "Ticket 99" not in theirs and "data-draft-restored" not in theirs
    tampered = back[:-4] + ("AAAA" if not back.endswith("AAAA") else "BBBB")
    assert "data-draft-restored" not in client.get(tampered).get_data(as_text=True)
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 0


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://elsewhere.example"}, {"Referer": "https://elsewhere.example/x"}, {}],
)
def test_CS1_a_send_form_from_another_site_is_refused_and_fills_in_nothing(
    app, support, sandbox, headers
):
    """Another site cannot fill in an agent's send form through the expired-session path."""
    data = send_form(support, reason="Attacker's ticket")
    support.post("/logout", data={"csrf_token": data["csrf_token"]})
    refused = support.post("/send", data=data, headers=headers)
    assert refused.status_code == 400 and "security token" in refused.get_data(as_text=True)
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 0


def test_a_draft_lives_fifteen_minutes_and_keeps_no_secret(app):
    with app.test_request_context():
        form = {
            "phone_number": "017-123 4567",
            "reason": "Ticket 7",
            "password": "hunter2-hunter2",
            "code": "123456",
            "idempotency_key": "00000000-0000-4000-8000-000000000000",
        }
        with freeze_time(utcnow()) as clock:
            sealed = send_drafts.seal(form, user_id=1, why=send_drafts.SIGNED_OUT)
            draft = send_drafts.unseal(sealed, user_id=1)
            assert draft is not None and draft.values["reason"] == "Ticket 7"
            assert set(draft.values) == set(send_drafts.FIELDS)  # no password, code or key
            assert "Ticket" not in sealed and "017" not in sealed
            clock.tick(timedelta(seconds=send_drafts.MAX_AGE_SECONDS + 1))
            assert send_drafts.unseal(sealed, user_id=1) is None


def test_CS1_a_client_never_signed_in_cannot_fill_in_anyones_send_form(
    app, support, sandbox, simulator
):
    """A client of the attacker's own (it may say any Origin) posts a send form with a made-up
    token: there is no session owner to keep it for, so no draft is made that would open
    for an agent, and it is refused as any form without a valid token."""
    attacker = app.test_client()
    made_up = {
        "csrf_token": "anything",
        "country_code": "60",
        "phone_number": "012-333 4444",
        "reason": "Ticket 4321",
        "message": "URGENT from Bank: reply with {code}",
    }
    refused = attacker.post("/send", data=made_up, headers=SAME_SITE)
    location = refused.headers.get("Location", "")
    assert "draft" not in location and "draft%3D" not in location
    # Whatever address it was given, the agent's send form is their own, empty.
    page = unescape(support.get("/send").get_data(as_text=True))
    assert "012-333 4444" not in page and "data-draft-restored" not in page
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 0


def test_a_code_in_digits_of_another_script_is_refused_as_no_code_not_as_a_wrong_try(
    app, support, sandbox, simulator
):
    result = result_of(support, send(support, phone_number="017-123 4599"))
    public_id = re.search(r'name="attempt" type="hidden" value="([^"]+)"', result).group(1)
    code = sent_code(simulator, sandbox)
    full_width = "".join(chr(ord(digit) + 0xFEE0) for digit in code)
    page = unescape(
        support.post(
            "/check",
            data={"attempt": public_id, "code": full_width, "csrf_token": csrf_token(result)},
        ).get_data(as_text=True)
    )
    assert "A code is 6 digits." in page
    assert query_scalar(app, "SELECT count(*) FROM code_checks") == 0

"""Masking that holds (SECURITY.md A5, AC-3): a support agent sees only the last 4 digits of
numbers others sent to, and no search, count, page link or resend gives the rest away.

The history's number filters run on the full numbers: "starts with" and the result count
would recover a masked number digit by digit. Whoever sees numbers masked may search only by
the whole number or by at most the last digits shown (capabilities.may_search_numbers)."""

from __future__ import annotations

import re
import uuid

import pytest
from support import query_scalar, sign_in

from dashboard.domain import capabilities
from dashboard.domain.capabilities import Capability
from dashboard.domain.phone_numbers import parse_mobile_number
from dashboard.extensions import db
from dashboard.models import Attempt, User, utcnow
from dashboard.services import history
from dashboard.services.users import find_by_email

OTHERS = "163877652"  # another agent sent to +60 16-387 7652
MASKED = "+60 •••••7652"
IN_FULL = ("16-387 7652", "163877652", "+60163877652")
REFUSED = "Type the whole number, or at most its last 4 digits"
#: Searches that would tell a support agent digits they are not shown.
PARTIAL = [
    "q=6016&match=starts",
    "q=%2B601638&match=starts",
    "q=387&match=contains",
    "q=877652&match=contains",
    "q=77652&match=ends",
    "q=3877652",  # "ends with" is the default
]
#: Searches by what a support agent knows already: the whole number, or the digits shown.
KNOWN = [
    ("q=%2B60163877652&match=exact", 1),
    ("q=60%2016-387%207652&match=exact", 1),
    ("q=7652&match=ends", 1),
    ("q=652", 1),
    ("q=7653", 0),
    ("q=60163877653&match=exact", 0),
]


def add_attempt(app, email: str, number: str, **fields) -> str:
    """An attempt of ``email``'s to ``number`` (Malaysian); returns its public id."""
    with app.app_context():
        parsed = parse_mobile_number("60", number)
        attempt = Attempt(
            user_id=find_by_email(email).id,
            environment="sandbox",
            country_code=parsed.country_code,
            national_number=parsed.national_number,
            phone_e164=parsed.e164,
            phone_reversed=parsed.reversed_digits,
            message_masked="Code ••••••",
            reason="Ticket 1",
            status="accepted",
            response_code="SUCCESS",
            idempotency_key=str(uuid.uuid4()),
            created_at=utcnow(),
            **fields,
        )
        db.session.add(attempt)
        db.session.commit()
        return attempt.public_id


@pytest.fixture
def others_send(app, support, make_user) -> str:
    """Another agent's send to OTHERS, which the signed-in agent sees masked."""
    make_user("other@example.com", "support")
    return add_attempt(app, "other@example.com", OTHERS)


def shows_in_full(page: str) -> bool:
    return any(written in page.replace("&#43;", "+") for written in IN_FULL)


def table_of(page: str) -> str:
    found = re.search(r"<tbody>(.*?)</tbody>", page, re.S)
    return found.group(1) if found else ""


def offered_matches(page: str) -> list[str]:
    select = re.search(r'<select [^>]*name="match">(.*?)</select>', page, re.S).group(1)
    return re.findall(r'<option value="([^"]*)"', select)


@pytest.mark.parametrize("query", PARTIAL)
def test_AC3_support_may_not_search_by_part_of_a_number(
    app, support, others_send, monkeypatch, query
):
    searched = []
    monkeypatch.setattr(history, "search", lambda *a, **k: searched.append(a) or 1 / 0)
    response = support.get(f"/history?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(rf'id="q-error">{REFUSED}', page)  # next to the Search field
    assert "data-matching" not in page and "No attempts match" not in page  # no count
    assert searched == []  # nothing searched


@pytest.mark.parametrize(("query", "matching"), KNOWN)
def test_AC3_support_searches_by_the_whole_number_or_the_digits_shown(
    app, support, others_send, query, matching
):
    response = support.get(f"/history?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:300]
    assert REFUSED not in page
    assert re.search(rf"data-matching>{matching} attempt", page)
    assert (f"data-number>{MASKED}</td>" in page) == bool(matching)
    assert not shows_in_full(table_of(page))  # the rows, not the search typed
    assert offered_matches(page) == ["ends", "exact"]  # and nothing that would be refused


def test_AC3_the_match_choices_offered_are_those_the_viewer_may_use(app, client, make_user):
    make_user("agent@example.com", "support")
    make_user("auditor@example.com", "auditor")
    sign_in(client, "agent@example.com")
    page = client.get("/history").get_data(as_text=True)
    assert offered_matches(page) == ["ends", "exact"]
    assert "The whole number, or its last 4 digits." in page  # the Search field's hint
    refused = client.get("/history?q=6016&match=starts").get_data(as_text=True)
    assert offered_matches(refused) == ["ends", "exact"]
    auditor = client.application.test_client()
    sign_in(auditor, "auditor@example.com")
    page = auditor.get("/history").get_data(as_text=True)
    assert offered_matches(page) == ["ends", "starts", "contains", "exact"]
    assert "The whole number, or its last" not in page


def test_AC3_a_partial_search_is_served_only_to_those_who_see_full_numbers(app, client, make_user):
    make_user("other@example.com", "support")
    add_attempt(app, "other@example.com", OTHERS)
    add_attempt(app, "other@example.com", "123456789")
    clients = {}
    for role in ("support", "auditor", "admin"):
        make_user(f"{role}@example.com", role)
        clients[role] = app.test_client()
        sign_in(clients[role], f"{role}@example.com")
    for query, matching in [
        ("q=6016&match=starts", 1),
        ("q=601&match=starts", 2),
        ("q=77652&match=ends", 1),
        ("q=3877652", 1),
        ("q=387&match=contains", None),  # the search index is another test's concern
    ]:
        refused = clients["support"].get(f"/history?{query}")
        assert refused.status_code == 400 and REFUSED in refused.text, query
        for role in ("auditor", "admin"):
            response = clients[role].get(f"/history?{query}")
            assert response.status_code == 200 and REFUSED not in response.text, (role, query)
            if matching is not None:
                assert re.search(rf"data-matching>{matching} attempt", response.text), query


def test_AC3_an_auditors_page_link_does_not_open_a_partial_search_to_support(
    app, client, make_user
):
    make_user("agent@example.com", "support")
    make_user("other@example.com", "support")
    make_user("auditor@example.com", "auditor")
    for _ in range(3):
        add_attempt(app, "other@example.com", OTHERS)
    sign_in(client, "auditor@example.com")
    first = client.get("/history?q=6016&match=starts&limit=1").get_data(as_text=True)
    assert "data-matching>3 attempts" in first
    link = re.search(r'href="(/history\?[^"]+)">Older attempts', first).group(1)
    link = link.replace("&amp;", "&")
    assert client.get(link).status_code == 200 and "after=" in link
    agent = app.test_client()
    sign_in(agent, "agent@example.com")
    response = agent.get(link)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and REFUSED in page
    assert "data-matching" not in page and "Older attempts" not in page


def test_AC3_the_rule_of_number_searches():
    """One rule, in the capabilities: partial searches only with every number shown in full."""
    rule = capabilities.may_search_numbers
    for role in capabilities.ROLES:
        if capabilities.may(role, Capability.SEARCH_PARTIAL_NUMBERS):
            assert capabilities.may(role, Capability.SEE_FULL_NUMBERS), role
    assert capabilities.holders(Capability.SEARCH_PARTIAL_NUMBERS) == ("auditor", "admin")
    support = capabilities.SUPPORT
    assert rule(support, "exact", 11) and rule(support, "ends", 4) and rule(support, "ends", 1)
    assert rule(support, "starts", 0)  # no digits: no number filter
    assert not rule(support, "ends", 5)
    assert not rule(support, "starts", 1) and not rule(support, "contains", 3)
    assert not rule(support, "anything else", 4) and not rule("", "starts", 4)
    assert all(rule(capabilities.AUDITOR, m, 9) for m in capabilities.NUMBER_MATCHES)
    assert capabilities.number_matches(support) == ("ends", "exact")


def visible_resend(app, original: str, email: str, visible: bool) -> str:
    """A resend by ``email`` of ``original``, recorded as the send service records it."""
    original_id = query_scalar(app, "SELECT id FROM attempts WHERE public_id = :p", p=original)
    return add_attempt(
        app, email, OTHERS, resend_of_id=original_id, number_visible_to_sender=visible
    )


def test_AC3_a_resend_masked_for_its_sender_stays_masked_in_history_and_on_its_page(
    app, support, others_send
):
    resend = visible_resend(app, others_send, "agent@example.com", visible=False)
    page = support.get("/history").get_data(as_text=True)
    assert page.count(f"data-number>{MASKED}</td>") == 2  # the original and mine
    assert not shows_in_full(page)
    own = support.get(f"/attempts/{resend}").get_data(as_text=True)
    assert f"Send to <span data-number>{MASKED}</span>" in own and not shows_in_full(own)
    assert 'action="/attempts/' in own and "/reveal" in own  # it may be revealed, audited
    # A resend whose number the resender might see (they revealed the original) shows it.
    visible = visible_resend(app, others_send, "agent@example.com", visible=True)
    page = support.get("/history").get_data(as_text=True)
    assert page.count(f"data-number>{MASKED}</td>") == 2  # not that one
    assert "+60 16-387 7652" in support.get(f"/attempts/{visible}").get_data(as_text=True)


def test_AC3_a_resend_shows_its_number_only_to_who_may_see_or_revealed_the_original(app, make_user):
    for email, role in [
        ("a@example.com", "support"),
        ("b@example.com", "support"),
        ("c@example.com", "support"),
        ("auditor@example.com", "auditor"),
    ]:
        make_user(email, role)
    original = add_attempt(app, "a@example.com", OTHERS)
    elsewhere = add_attempt(app, "a@example.com", OTHERS)  # another attempt, same number
    masked_resend = visible_resend(app, original, "b@example.com", visible=False)
    with app.app_context():
        a, b, c, auditor = (
            find_by_email(e)
            for e in ("a@example.com", "b@example.com", "c@example.com", "auditor@example.com")
        )
        attempt = attempt_of(original)
        assert history.may_see_number_of(attempt, a)  # the sender
        assert history.may_see_number_of(attempt, auditor)  # sees every number
        assert not history.may_see_number_of(attempt, b)
        history.reveal(attempt_of(elsewhere), b, reason="Customer on the phone")
        history.reveal(attempt, c, reason="Customer on the phone")
        assert not history.may_see_number_of(attempt, b)  # neither another attempt's reveal
        history.reveal(attempt, b, reason="Customer on the phone")  # nor someone else's
        assert history.may_see_number_of(attempt, b)
        assert history.may_see_number_of(attempt, c)
        # Resending one's own masked resend keeps it masked, until that one is revealed.
        mine = attempt_of(masked_resend)
        assert not history.may_see_full_number(mine, b)
        assert not history.may_see_number_of(mine, b)
        history.reveal(mine, b, reason="Customer on the phone")
        assert history.may_see_number_of(mine, b)


def attempt_of(public_id: str) -> Attempt:
    return db.session.scalar(db.select(Attempt).where(Attempt.public_id == public_id))


def test_AC3_the_masked_number_shows_the_digits_searches_may_use(app, make_user):
    """The digits a masked number shows and those a support agent may search by are one
    number (capabilities.SHOWN_LAST_DIGITS)."""
    make_user("a@example.com", "support")
    make_user("b@example.com", "support")
    original = add_attempt(app, "a@example.com", OTHERS)
    with app.app_context():
        viewer = db.session.scalar(db.select(User).where(User.email == "b@example.com"))
        shown = history.number_for(attempt_of(original), viewer)
    assert shown == MASKED
    assert shown.endswith(OTHERS[-capabilities.SHOWN_LAST_DIGITS :])
    assert capabilities.may_search_numbers("support", "ends", capabilities.SHOWN_LAST_DIGITS)

"""Strict inputs on the admin pages (SECURITY.md A6: IV-1 for free text, SK-5 for keys): what
looks valid but is not is refused with a message next to the field, and changes nothing."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from support import csrf_token, query_scalar, sign_in

from dashboard.revenuemonster import keys
from dashboard.services import limits, provider_accounts

ZERO_WIDTH_SPACE = "\u200b"


def test_SK5_an_rsa_key_with_a_small_public_exponent_is_refused(app, make_user, client):
    weak = rsa.generate_private_key(public_exponent=3, key_size=2048)
    pem = keys.private_key_pem(weak)
    with pytest.raises(keys.KeyFormatError, match="public exponent is 3; only 65537"):
        keys.load_private_key(pem)
    with pytest.raises(keys.KeyFormatError, match="only 65537"):
        keys.load_public_key(keys.public_key_pem(weak))
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get("/admin/provider").get_data(as_text=True)
    answer = client.post(
        "/admin/provider/sandbox/credentials",
        data={"sandbox-private_key": pem.decode(), "csrf_token": csrf_token(page)},
    ).get_data(as_text=True)
    assert "only 65537 is accepted" in answer
    assert query_scalar(app, "SELECT count(*) FROM provider_accounts") == 0


@pytest.mark.parametrize("client_id", ["abc\r\nX-Injected: 1", "abc def", "аbc"])
def test_IV1_a_client_id_must_be_printable_ascii(app, make_user, client, client_id):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get("/admin/provider").get_data(as_text=True)
    answer = client.post(
        "/admin/provider/sandbox/credentials",
        data={"sandbox-client_id": client_id, "csrf_token": csrf_token(page)},
    ).get_data(as_text=True)
    assert "printable ASCII" in answer
    with app.app_context(), pytest.raises(provider_accounts.ProviderError):
        provider_accounts.configure("sandbox", "test", client_secret="a\nb")
    assert query_scalar(app, "SELECT count(*) FROM provider_accounts") == 0


def limits_form(page: str, **changes: str) -> dict[str, str]:
    data = {
        "cooldown_seconds": "30",
        "per_number_per_hour": "3",
        "per_number_per_day": "10",
        "per_user_per_hour": "30",
        "per_user_per_day": "200",
        "allowed_regions": "MY",
        "csrf_token": csrf_token(page),
    }
    return {**data, **changes}


@pytest.mark.parametrize("reason", ["", ZERO_WIDTH_SPACE, " \u2060 "])
def test_IV1_a_pause_says_why_in_visible_words(app, make_user, client, reason):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get("/admin/limits").get_data(as_text=True)
    answer = client.post("/admin/limits", data=limits_form(page, paused="y", paused_reason=reason))
    assert answer.status_code == 200
    assert "Say why sending is paused" in answer.get_data(as_text=True)
    with app.app_context():
        assert limits.current().paused is False
    saved = client.post("/admin/limits", data=limits_form(page, paused="y", paused_reason="Fix"))
    assert saved.status_code == 302


def test_IV1_an_environment_switch_reason_must_be_visible(app, make_user, client, sandbox):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get("/admin/provider").get_data(as_text=True)
    answer = client.post(
        "/admin/provider/switch",
        data={
            "environment": "sandbox",
            "reason": ZERO_WIDTH_SPACE,
            "csrf_token": csrf_token(page),
        },
    ).get_data(as_text=True)
    assert "in visible characters" in answer
    switches = "SELECT count(*) FROM audit_events WHERE action = 'provider.switch'"
    assert query_scalar(app, switches) == 0
    data = {"environment": "sandbox", "reason": "Back", "csrf_token": csrf_token(page)}
    assert client.post("/admin/provider/switch", data=data).status_code == 302
    assert query_scalar(app, switches) == 1

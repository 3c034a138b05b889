"""The client against the simulator over real HTTP and real sockets: tokens, every outcome, and
the simulator's own checks. No HTTP is mocked."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import phonenumbers
import pytest
import requests

from dashboard.revenuemonster import (
    MAGIC_NUMBERS,
    PRODUCTION,
    SANDBOX,
    Accepted,
    Credentials,
    Endpoints,
    MemoryTokenStore,
    NotSent,
    Rejected,
    Simulator,
    Token,
    TokenError,
    Unknown,
    generate_private_key,
    new_nonce,
    public_key_pem,
    sign,
    timestamp_now,
)
from dashboard.revenuemonster.testing.magic import SIMULATED_ERROR_CODES
from dashboard.revenuemonster.testing.protocol import ERROR_MESSAGES

NUMBER = "163877652"


def send(client, phone_number: str = NUMBER, message: str = "Your code is 123456"):
    return client.send_sms(country_code="60", phone_number=phone_number, message=message)


def inbox_of(live, account) -> list[dict[str, str]]:
    """The account's messages in the simulator inbox, oldest first.

    Filtering by client matters: a slow (120000408) message from another test lands later.
    """
    client_id = account.credentials.client_id
    return [item for item in live.simulator.inbox if item["client_id"] == client_id]


class Counter:
    """Requests the simulator saw since creation."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.tokens = simulator.token_requests
        self.sms = simulator.sms_requests

    @property
    def delta(self) -> tuple[int, int]:
        """(token requests, SMS requests) since creation."""
        return (
            self.simulator.token_requests - self.tokens,
            self.simulator.sms_requests - self.sms,
        )


# -- tokens -----------------------------------------------------------------------------------


def test_token_is_fetched_once_and_reused(rm_sim, rm_account, make_client):
    client = make_client(rm_account)
    counter = Counter(rm_sim.simulator)
    outcomes = [send(client, message=f"Your code is {n}") for n in range(3)]
    assert outcomes == [Accepted(http_status=200)] * 3
    assert outcomes[0].status == "accepted" and outcomes[0].code == "SUCCESS"
    assert counter.delta == (1, 3)
    delivered = inbox_of(rm_sim, rm_account)
    assert [item["message"] for item in delivered] == [f"Your code is {n}" for n in range(3)]
    assert delivered[0] | {"received_at": "", "message": ""} == {
        "received_at": "",
        "client_id": rm_account.credentials.client_id,
        "country_code": "60",
        "phone_number": NUMBER,
        "message": "",
        "type": "VERIFY_CODE",
    }


def test_refresh_grant_is_used_near_expiry(clocked_sim, fake_clock, rm_register, make_client):
    account = rm_register(live=clocked_sim)
    client = make_client(account, clock=fake_clock)
    assert isinstance(send(client), Accepted)
    first = account.store.load()
    assert first is not None and first.refresh_token
    fake_clock.advance(7200 - 30)  # inside the 60 s margin, still valid at the simulator
    assert isinstance(send(client), Accepted)
    second = account.store.load()
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token
    assert clocked_sim.simulator.refresh_grants == 1
    assert clocked_sim.simulator.token_requests == 2


def test_rejected_refresh_token_falls_back_to_client_credentials(rm_sim, rm_account, make_client):
    now = time.time()
    rm_account.store.save(Token("stale", now - 1, "not-a-refresh-token", now + 3600))
    client = make_client(rm_account)
    counter = Counter(rm_sim.simulator)
    grants = rm_sim.simulator.refresh_grants
    assert isinstance(send(client), Accepted)
    assert counter.delta == (2, 1)  # refused refresh grant, then client credentials
    assert rm_sim.simulator.refresh_grants == grants
    assert rm_account.store.load().access_token != "stale"


def test_expired_refresh_token_goes_straight_to_client_credentials(rm_sim, rm_account, make_client):
    now = time.time()
    rm_account.store.save(Token("stale", now - 1, "old-refresh", now + 30))
    counter = Counter(rm_sim.simulator)
    assert isinstance(send(make_client(rm_account)), Accepted)
    assert counter.delta == (1, 1)


def test_401_renews_the_token_and_retries_exactly_once(rm_sim, rm_account, make_client):
    client = make_client(rm_account)
    token = client.fetch_token()
    counter = Counter(rm_sim.simulator)
    assert send(client, phone_number="120000401") == Accepted(http_status=200)
    assert counter.delta == (1, 2)
    assert rm_account.store.load().access_token != token.access_token
    assert len(inbox_of(rm_sim, rm_account)) == 1


def test_unknown_token_is_renewed_and_a_failed_renewal_stops_there(rm_sim, rm_account, make_client):
    fresh = Token("never-issued", time.time() + 3600)
    rm_account.store.save(fresh)
    assert isinstance(send(make_client(rm_account)), Accepted)  # TOKEN_INVALID, renewed

    rm_account.store.save(fresh)
    wrong = Credentials(
        rm_account.credentials.client_id, "wrong", rm_account.credentials.private_key
    )
    counter = Counter(rm_sim.simulator)
    outcome = send(make_client(rm_account, credentials=wrong))
    assert outcome == Rejected("INVALID_CLIENT", "Invalid client", 401)
    assert outcome.status == "rejected"
    assert counter.delta == (1, 1)
    assert rm_account.store.load() is None


def test_unknown_client_is_refused_by_the_token_endpoint(rm_sim, rm_account, make_client):
    url = rm_account.endpoints.token_url
    body = b'{"grantType":"client_credentials"}'
    headers = {"Content-Type": "application/json"}
    for auth, code in [
        (("nobody", "secret"), "INVALID_CLIENT"),
        ((rm_account.credentials.client_id, "wrong"), "INVALID_CLIENT"),
        (None, "UNAUTHORIZED"),
    ]:
        response = requests.post(url, data=body, headers=headers, auth=auth, timeout=5)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == code

    stranger = Credentials("nobody", "secret", rm_account.credentials.private_key)
    with pytest.raises(TokenError) as raised:
        make_client(rm_account, credentials=stranger).fetch_token()
    assert raised.value.outcome == Rejected("INVALID_CLIENT", "Invalid client", 401)


def test_token_endpoint_grant_errors(rm_account):
    auth = (rm_account.credentials.client_id, rm_account.credentials.client_secret)
    url = rm_account.endpoints.token_url
    for body, status, code in [
        ({"grantType": "password"}, 400, "GRANT_TYPE_INVALID"),
        ({"grantType": "refresh_token", "refreshToken": "nope"}, 400, "INVALID_GRANT"),
    ]:
        response = requests.post(url, json=body, auth=auth, timeout=5)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    response = requests.post(url, data=b"not json", auth=auth, timeout=5)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "INVALID_REQUEST")
    granted = requests.post(url, json={"grantType": "client_credentials"}, auth=auth, timeout=5)
    assert granted.status_code == 200
    assert granted.json()["tokenType"] == "Bearer"
    assert set(granted.json()) == {
        "accessToken",
        "tokenType",
        "expiresIn",
        "refreshToken",
        "refreshTokenExpiresIn",
    }


# -- outcomes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(1, 15), ids=SIMULATED_ERROR_CODES)
def test_provider_error_codes_are_rejected(rm_sim, rm_account, make_client, index):
    client = make_client(rm_account)
    client.fetch_token()
    counter = Counter(rm_sim.simulator)
    code = SIMULATED_ERROR_CODES[index - 1]
    outcome = send(client, phone_number=f"1200001{index:02d}")
    assert outcome == Rejected(code, ERROR_MESSAGES[code], 400)
    assert counter.delta == (0, 1)


def test_signature_rejected_when_the_registered_key_differs(
    rm_sim, rm_register, make_client, caplog
):
    account = rm_register(public_key=generate_private_key())
    client = make_client(account)
    token = client.fetch_token()
    counter = Counter(rm_sim.simulator)
    with caplog.at_level(logging.DEBUG):
        outcome = send(client, message="Your code is 482913")
    assert isinstance(outcome, Rejected)
    assert (outcome.code, outcome.http_status) == ("INVALID_REQUEST_SIGNATURE", 400)
    assert counter.delta == (0, 1)
    debug = outcome.debug
    assert isinstance(debug, dict)
    assert set(debug["preVerifyContent"]) == {"step1", "step2", "step3", "step4", "step5"}
    step3 = debug["preVerifyContent"]["step3"]["content"]
    assert step3.startswith("data=[redacted]&method=post&nonceStr=")
    assert f"&requestUrl={rm_sim.url}/v3/sms&signType=sha256&timestamp=" in step3
    assert debug["requestHeader"]["X-Signature"] == {
        "currentValue": "[redacted]",
        "isValid": False,
        "remark": debug["requestHeader"]["X-Signature"]["remark"],
    }
    assert debug["requestHeader"]["X-Nonce-Str"]["isValid"] is True
    # Neither the outcome nor the logs keep the code, the token or the signature.
    for text in (json.dumps(debug), caplog.text):
        assert "482913" not in text
        assert token.access_token not in text
        assert not re.search(r"sha256 [A-Za-z0-9+/]{40}", text)
        assert account.credentials.client_secret not in text
    assert "INVALID_REQUEST_SIGNATURE" in caplog.text


def test_logs_never_hold_the_message_token_or_secret(rm_account, make_client, caplog):
    client = make_client(rm_account)
    with caplog.at_level(logging.DEBUG):
        assert isinstance(send(client, message="Your code is 771199"), Accepted)
        assert isinstance(send(client, phone_number="120000101", message="code 771199"), Rejected)
    token = rm_account.store.load()
    for secret in (
        "771199",
        token.access_token,
        token.refresh_token,
        rm_account.credentials.client_secret,
    ):
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("120000500", Unknown("HTTP_500", "", 500)),
        ("120000502", Unknown("MALFORMED_RESPONSE", "", 200)),
        ("120000503", Unknown("CONNECTION_DROPPED", "", None)),
    ],
    ids=["http-500", "malformed-body", "dropped-connection"],
)
def test_answers_that_prove_nothing_are_unknown_and_never_retried(
    rm_sim, rm_account, make_client, number, expected
):
    client = make_client(rm_account)
    client.fetch_token()
    counter = Counter(rm_sim.simulator)
    outcome = send(client, phone_number=number)
    assert isinstance(outcome, Unknown) and outcome.status == "unknown"
    assert (outcome.code, outcome.http_status) == (expected.code, expected.http_status)
    assert outcome.message
    assert counter.delta == (0, 1)


def test_read_timeout_is_unknown_and_never_retried(rm_sim, rm_account, make_client):
    client = make_client(rm_account, read_timeout=0.5)
    client.fetch_token()
    counter = Counter(rm_sim.simulator)
    started = time.monotonic()
    outcome = send(client, phone_number="120000408")
    assert time.monotonic() - started < 2.5
    assert isinstance(outcome, Unknown)
    assert (outcome.code, outcome.http_status) == ("READ_TIMEOUT", None)
    assert counter.delta == (0, 1)


def test_the_total_budget_bounds_a_slow_send(rm_sim, rm_account, make_client):
    client = make_client(rm_account, read_timeout=10.0, total_timeout=0.8)
    client.fetch_token()
    started = time.monotonic()
    outcome = send(client, phone_number="120000408")
    assert time.monotonic() - started < 1.5  # the budget, not the 10 s read timeout
    assert isinstance(outcome, Unknown) and outcome.code == "READ_TIMEOUT"


def test_no_request_starts_once_the_budget_is_spent(rm_sim, rm_account, make_client):
    client = make_client(rm_account, total_timeout=0.2)  # below the least time a request needs
    counter = Counter(rm_sim.simulator)
    outcome = send(client)
    assert isinstance(outcome, NotSent) and outcome.code == "DEADLINE_EXCEEDED"
    assert counter.delta == (0, 0)


def test_a_renewal_held_elsewhere_is_waited_for_within_the_budget_only(
    rm_sim, rm_account, make_client
):
    """Another client renewing for longer than this send's budget: this one gives up at its
    deadline, renews nothing and sends nothing."""
    client = make_client(rm_account, total_timeout=0.8)
    counter = Counter(rm_sim.simulator)
    with rm_account.store.renewal() as held:
        assert held
        started = time.monotonic()
        outcome = send(client)
        waited = time.monotonic() - started
    assert outcome.status == "failed" and outcome.code == "TOKEN_UNAVAILABLE"
    assert 0.7 < waited < 1.5
    assert counter.delta == (0, 0)


def test_a_token_renewed_while_waiting_is_used(rm_sim, rm_account, make_client):
    renewer, waiter = make_client(rm_account), make_client(rm_account, total_timeout=5.0)
    counter = Counter(rm_sim.simulator)
    with rm_account.store.renewal():
        result: list[object] = []
        thread = threading.Thread(target=lambda: result.append(send(waiter)))
        thread.start()
        time.sleep(0.2)  # the waiter found no token and waits for the renewal
        rm_account.store.save(
            renewer._grant(  # noqa: SLF001 (a renewal by hand, lease held)
                {"grantType": "client_credentials"}, rm_account.credentials
            )
        )
    thread.join(5)
    assert result == [Accepted(http_status=200)]
    assert counter.delta == (1, 1)


class BrokenStore(MemoryTokenStore):
    """A token store whose database fails (as SQLite's "database is locked" would)."""

    def load(self) -> Token | None:
        raise OSError("database is locked")


def test_a_token_store_failure_is_not_sent_never_unknown(rm_sim, rm_account, make_client):
    rm_account.store = BrokenStore()
    counter = Counter(rm_sim.simulator)
    outcome = send(make_client(rm_account))
    assert isinstance(outcome, NotSent) and outcome.code == "TOKEN_UNAVAILABLE"
    assert "token store" in outcome.message
    assert counter.delta == (0, 0)


def test_a_token_endpoint_redirect_is_not_sent(rm_account, make_client, canned_server):
    """Unlike the SMS endpoint's: a token request sends nothing, wherever it went."""
    server = canned_server(http("302 Found", b"", "Location: https://elsewhere.test/"))
    client = make_client(rm_account, endpoints=Endpoints(server.url, rm_account.endpoints.api_url))
    outcome = send(client)
    assert (outcome.status, outcome.code, outcome.http_status) == (
        "failed",
        "UNEXPECTED_REDIRECT",
        302,
    )
    assert server.requests == 1


def test_threads_refused_at_once_renew_once(rm_sim, rm_account, make_client):
    """Eight clients sharing a store, all refused (120000401) with the same token: one token
    request between them, then each SMS goes with the renewed token."""
    make_client(rm_account).fetch_token()
    counter = Counter(rm_sim.simulator)
    clients = [make_client(rm_account) for _ in range(8)]
    barrier = threading.Barrier(8)

    def go(client) -> object:
        barrier.wait(5)
        return send(client, phone_number="120000401")

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(go, clients))
    assert outcomes == [Accepted(http_status=200)] * 8
    assert counter.delta == (1, 16)


def test_faults_make_any_number_flap_then_it_is_answered_as_usual(rm_sim, rm_account, make_client):
    client = make_client(rm_account)
    rm_sim.simulator.sms_faults.fail_next("500", "ok", "drop", "malformed")
    outcomes = [send(client) for _ in range(5)]
    assert [(o.status, o.code) for o in outcomes] == [
        ("unknown", "HTTP_500"),
        ("accepted", "SUCCESS"),
        ("unknown", "CONNECTION_DROPPED"),
        ("unknown", "MALFORMED_RESPONSE"),
        ("accepted", "SUCCESS"),
    ]
    assert len(inbox_of(rm_sim, rm_account)) == 2
    with pytest.raises(ValueError, match="unknown faults"):
        rm_sim.simulator.sms_faults.fail_next("teapot")


def test_refused_connection_is_not_sent(rm_account, make_client, closed_port):
    dead = f"http://127.0.0.1:{closed_port}"
    token_side = send(make_client(rm_account, endpoints=Endpoints(dead, dead)))
    assert isinstance(token_side, NotSent) and token_side.status == "failed"
    assert token_side.code == "CONNECTION_REFUSED"
    sms_side = send(
        make_client(rm_account, endpoints=Endpoints(rm_account.endpoints.oauth_url, dead))
    )
    assert isinstance(sms_side, NotSent) and sms_side.code == "CONNECTION_REFUSED"


def test_connect_timeout_is_not_sent(rm_account, make_client, full_backlog_port):
    jammed = f"http://127.0.0.1:{full_backlog_port}"
    client = make_client(
        rm_account, endpoints=Endpoints(rm_account.endpoints.oauth_url, jammed), read_timeout=5
    )
    started = time.monotonic()
    outcome = send(client)
    assert time.monotonic() - started < 3
    assert isinstance(outcome, NotSent) and outcome.code == "CONNECT_TIMEOUT"


def test_dns_failure_is_not_sent(rm_account, make_client):
    nowhere = "http://no-such-host.invalid"
    outcome = send(
        make_client(rm_account, endpoints=Endpoints(rm_account.endpoints.oauth_url, nowhere))
    )
    assert isinstance(outcome, NotSent) and outcome.code == "DNS_ERROR"


def test_tls_handshake_failure_is_not_sent(rm_sim, rm_account, make_client):
    plain_http_as_https = rm_sim.url.replace("http://", "https://")
    counter = Counter(rm_sim.simulator)
    outcome = send(
        make_client(
            rm_account, endpoints=Endpoints(rm_account.endpoints.oauth_url, plain_http_as_https)
        )
    )
    assert isinstance(outcome, NotSent) and outcome.code == "TLS_ERROR"
    assert counter.delta[1] == 0


def test_tls_handshake_timeout_is_not_sent(rm_account, make_client, canned_server):
    silent = canned_server(b"", silent=True).url.replace("http://", "https://")
    client = make_client(rm_account, endpoints=Endpoints(rm_account.endpoints.oauth_url, silent))
    outcome = send(client)
    assert isinstance(outcome, NotSent) and outcome.code == "CONNECT_TIMEOUT"


def test_token_endpoint_trouble_means_no_sms_was_sent(rm_account, make_client, canned_server):
    broken = canned_server(b"HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n")
    client = make_client(rm_account, endpoints=Endpoints(broken.url, rm_account.endpoints.api_url))
    outcome = send(client)
    assert isinstance(outcome, NotSent) and outcome.code == "TOKEN_UNAVAILABLE"
    with pytest.raises(TokenError) as raised:
        client.fetch_token()
    assert raised.value.outcome == Unknown("HTTP_503", raised.value.outcome.message, 503)


def http(status: str, body: bytes, *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.mark.parametrize(
    ("answer", "status", "code", "http_status"),
    [
        (
            # Not followed, yet the request reached a server, which may have acted on it.
            http("302 Found", b"", "Location: https://elsewhere.test/"),
            "unknown",
            "HTTP_302",
            302,
        ),
        (http("404 Not Found", b"<html>nope</html>"), "unknown", "MALFORMED_RESPONSE", 404),
        (http("200 OK", b'{"code":"PENDING"}'), "unknown", "MALFORMED_RESPONSE", 200),
        (http("201 Created", b'{"code":"SUCCESS"}'), "unknown", "MALFORMED_RESPONSE", 201),
        (
            http("502 Bad Gateway", b'{"error":{"code":"X","message":"y"}}'),
            "unknown",
            "HTTP_502",
            502,
        ),
        (
            http("403 Forbidden", b'{"error":{"code":"SPAM","message":"no"}}'),
            "rejected",
            "SPAM",
            403,
        ),
        (http("401 Unauthorized", b"denied"), "rejected", "HTTP_401", 401),
        (http("200 OK", b'{"code":"SUCCESS","item":{}}'), "accepted", "SUCCESS", 200),
    ],
    ids=[
        "redirect",
        "html-404",
        "other-code",
        "201",
        "502-with-code",
        "403-with-code",
        "401",
        "ok",
    ],
)
def test_every_answer_shape_is_classified(
    rm_account, make_client, canned_server, answer, status, code, http_status
):
    server = canned_server(answer)
    client = make_client(
        rm_account, endpoints=Endpoints(rm_account.endpoints.oauth_url, server.url)
    )
    outcome = send(client)
    assert (outcome.status, outcome.code, outcome.http_status) == (status, code, http_status)
    assert server.requests == (2 if code == "HTTP_401" else 1)  # only a 401 is retried


def test_a_trickling_answer_hits_the_deadline(rm_account, make_client, canned_server):
    server = canned_server(http("200 OK", b'{"code":"SUCCESS"}' + b" " * 200), trickle_seconds=0.02)
    client = make_client(
        rm_account,
        endpoints=Endpoints(rm_account.endpoints.oauth_url, server.url),
        read_timeout=0.5,
    )
    started = time.monotonic()
    outcome = send(client)
    assert time.monotonic() - started < 3
    assert isinstance(outcome, Unknown) and outcome.code == "READ_TIMEOUT"


def test_missing_credentials_send_nothing(rm_sim, rm_account, make_client):
    client = make_client(rm_account, credentials=None)
    counter = Counter(rm_sim.simulator)
    outcome = send(client)
    assert isinstance(outcome, NotSent) and outcome.code == "NO_CREDENTIALS"
    with pytest.raises(TokenError) as raised:
        client.fetch_token()
    assert raised.value.outcome.code == "NO_CREDENTIALS"
    assert counter.delta == (0, 0)


def test_simulator_validates_the_body(rm_account, make_client):
    client = make_client(rm_account)
    assert send(client, phone_number="0163877652").code == "VALIDATION_ERROR"
    assert send(client, message="   ").code == "VALIDATION_ERROR"
    promotional = make_client(rm_account, sms_type="PROMOTIONAL")
    assert send(promotional) == Rejected(
        "VALIDATION_ERROR", "Validations error: type is invalid", 400
    )
    assert isinstance(send(make_client(rm_account, sms_type="TAC")), Accepted)


# -- the simulator's request checks, with hand-made requests -----------------------------------


@pytest.fixture
def signed_request(rm_account, make_client):
    """Build a signed SMS request by hand: returns (url, headers, body bytes, body value)."""
    token = make_client(rm_account).fetch_token().access_token
    url = rm_account.endpoints.sms_url

    def build(*, timestamp: str | None = None, nonce: str | None = None, body=None, raw=None):
        value = body or {
            "countryCode": "60",
            "phoneNumber": NUMBER,
            "message": "hi",
            "type": "VERIFY_CODE",
        }
        timestamp = timestamp or timestamp_now()
        nonce = nonce or new_nonce()
        signature = sign(
            rm_account.credentials.private_key,
            method="post",
            url=url,
            nonce=nonce,
            timestamp=timestamp,
            body=value,
        )
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "X-Signature": signature,
            "X-Nonce-Str": nonce,
            "X-Timestamp": timestamp,
        }
        return url, headers, raw if raw is not None else json.dumps(value).encode(), value

    return build


def post(url, headers, body):
    return requests.post(url, data=body, headers=headers, timeout=5)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_simulator_refuses_stale_or_future_timestamps(signed_request):
    now = int(time.time())
    for timestamp in (str(now - 125), str(now + 125), "1764115200000", "soon"):
        url, headers, body, _ = signed_request(timestamp=timestamp)
        response = post(url, headers, body)
        assert (response.status_code, error_code(response)) == (400, "INVALID_TIMESTAMP")
    url, headers, body, _ = signed_request(timestamp=str(now - 100))
    assert post(url, headers, body).json() == {"code": "SUCCESS"}


def test_simulator_refuses_a_replayed_nonce(rm_sim, rm_account, signed_request):
    url, headers, body, _ = signed_request()
    assert post(url, headers, body).status_code == 200
    replay = post(url, headers, body)
    assert (replay.status_code, error_code(replay)) == (400, "DUPLICATE_REQUEST")
    assert len(inbox_of(rm_sim, rm_account)) == 1


def test_simulator_recanonicalises_the_body_like_revenuemonster(signed_request):
    value = {"type": "VERIFY_CODE", "phoneNumber": NUMBER, "countryCode": "60", "message": "a<b"}
    pretty = json.dumps(value, indent=4).encode()
    url, headers, body, _ = signed_request(body=value, raw=pretty)
    assert post(url, headers, body).json() == {"code": "SUCCESS"}


def test_simulator_rejects_tampering_with_debug_in_rm_shape(signed_request):
    url, headers, body, value = signed_request()
    tampered = json.dumps({**value, "message": "ho"}).encode()
    response = post(url, headers, tampered)
    assert (response.status_code, error_code(response)) == (400, "INVALID_REQUEST_SIGNATURE")
    debug = response.json()["debug"]
    step1 = debug["preVerifyContent"]["step1"]
    assert step1["content"] == (
        '{"countryCode":"60","message":"ho","phoneNumber":"163877652","type":"VERIFY_CODE"}'
    )
    assert step1["remark"] == "Sort the json key alphabetically"
    assert debug["preVerifyContent"]["step3"]["content"].endswith(
        f"&requestUrl={url}&signType=sha256&timestamp={headers['X-Timestamp']}"
    )
    assert debug["requestHeader"]["X-Signature"]["currentValue"] == headers["X-Signature"]


def test_simulator_checks_the_bearer_token(signed_request, rm_account):
    url, headers, body, _ = signed_request()
    for authorization, code in [
        ("Bearer not-issued", "TOKEN_INVALID"),
        ("", "UNAUTHORIZED"),
        ("Basic abc", "UNAUTHORIZED"),
    ]:
        response = post(url, {**headers, "Authorization": authorization}, body)
        assert (response.status_code, error_code(response)) == (401, code)
    missing = post(url, {**headers, "X-Nonce-Str": ""}, body)
    assert error_code(missing) == "INVALID_REQUEST_SIGNATURE"
    bad_field = signed_request(body={"countryCode": "60", "phoneNumber": NUMBER, "message": "x"})
    response = post(*bad_field[:3])
    assert (response.status_code, error_code(response)) == (400, "INVALID_PARAMETER")


def test_expired_token_is_refused_then_renewed(clocked_sim, fake_clock, rm_register, make_client):
    account = rm_register(live=clocked_sim)
    client = make_client(account, clock=fake_clock)
    expired = client.fetch_token()
    fake_clock.advance(7201)
    # A store that still trusts the old token (e.g. another worker's clock) gets TOKEN_EXPIRED.
    account.store.save(Token(expired.access_token, fake_clock.now + 3600))
    assert isinstance(send(client), Accepted)
    assert clocked_sim.simulator.token_requests == 2
    assert clocked_sim.simulator.sms_requests == 2


def test_clients_file_is_reread_when_it_changes(tmp_path, rm_key):
    path = tmp_path / "clients.json"
    simulator = Simulator(clients_file=path)
    pem = public_key_pem(rm_key).decode()

    def write(secret: str, bump_ns: int) -> None:
        path.write_text(json.dumps({"demo": {"client_secret": secret, "public_key_pem": pem}}))
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump_ns))

    from werkzeug.test import Client

    web = Client(simulator)

    def token_status(secret: str) -> int:
        response = web.post(
            "/v1/token",
            json={"grantType": "client_credentials"},
            auth=("demo", secret),
        )
        return response.status_code

    assert token_status("one") == 401  # no file yet
    write("one", 0)
    assert token_status("one") == 200
    write("two", 10_000_000)
    assert (token_status("one"), token_status("two")) == (401, 200)
    path.write_text("{ not json")
    assert token_status("two") == 200  # a broken file keeps the last good clients


def test_inbox_json_html_stats_and_clear(rm_sim, rm_account, make_client):
    client = make_client(rm_account)
    client_id = rm_account.credentials.client_id
    assert isinstance(send(client, message="<script>alert(1)</script> first"), Accepted)
    assert isinstance(send(client, message="second & last"), Accepted)
    listing = requests.get(f"{rm_sim.url}/_inbox", timeout=5)
    assert listing.headers["Content-Type"].startswith("application/json")
    ours = [item for item in listing.json() if item["client_id"] == client_id]
    assert [item["message"] for item in ours] == [
        "second & last",
        "<script>alert(1)</script> first",
    ]
    assert ours[0]["received_at"].endswith("Z")
    page = requests.get(f"{rm_sim.url}/_inbox", headers={"Accept": "text/html"}, timeout=5)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "<title>RevenueMonster simulator inbox</title>" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; first" in page.text
    assert "<script>" not in page.text and "src=" not in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    stats = requests.get(f"{rm_sim.url}/_stats", timeout=5).json()
    assert stats["token_requests"] == rm_sim.simulator.token_requests
    assert stats["sms_requests"] == rm_sim.simulator.sms_requests
    assert requests.get(f"{rm_sim.url}/_inbox/clear", timeout=5).status_code == 405
    cleared = requests.post(f"{rm_sim.url}/_inbox/clear", timeout=5).json()["cleared"]
    assert cleared >= 2
    assert inbox_of(rm_sim, rm_account) == []
    missing = requests.get(f"{rm_sim.url}/v3/nothing", timeout=5)
    assert (missing.status_code, error_code(missing)) == (404, "API_ENDPOINT_NOT_FOUND")


# -- small contracts ---------------------------------------------------------------------------


def test_magic_numbers_are_valid_malaysian_mobiles():
    assert len(MAGIC_NUMBERS) == 19
    for number in MAGIC_NUMBERS:
        parsed = phonenumbers.parse(f"+60{number}")
        assert phonenumbers.is_valid_number(parsed), number
        assert phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE, number


def test_reprs_hide_secrets(rm_key):
    credentials = Credentials("id-1", "s3cret-value", rm_key)
    token = Token("access-value", 1.0, "refresh-value", 2.0)
    assert "s3cret-value" not in repr(credentials) and "id-1" in repr(credentials)
    assert "access-value" not in repr(token) and "refresh-value" not in repr(token)


def test_endpoints_are_validated_and_normalised():
    endpoints = Endpoints("http://127.0.0.1:8765/", "http://127.0.0.1:8765")
    assert endpoints.token_url == "http://127.0.0.1:8765/v1/token"
    assert endpoints.sms_url == "http://127.0.0.1:8765/v3/sms"
    assert SANDBOX.sms_url == "https://sb-open.revenuemonster.my/v3/sms"
    assert SANDBOX.token_url == "https://sb-oauth.revenuemonster.my/v1/token"
    assert PRODUCTION.sms_url == "https://open.revenuemonster.my/v3/sms"
    assert PRODUCTION.token_url == "https://oauth.revenuemonster.my/v1/token"
    for bad in ("ftp://x", "open.revenuemonster.my", "https://u:p@x.test", "https://x.test/?a=1"):
        with pytest.raises(ValueError):
            Endpoints(bad, "https://x.test")


def test_drop_falls_back_to_a_cut_off_answer_outside_werkzeugs_server(rm_key):
    from werkzeug.test import Client

    simulator = Simulator()
    simulator.register_client("c", "s", public_key_pem(rm_key))
    web = Client(simulator)
    token = web.post("/v1/token", json={"grantType": "client_credentials"}, auth=("c", "s")).json[
        "accessToken"
    ]
    body = {"countryCode": "60", "message": "x", "phoneNumber": "120000503", "type": "TAC"}
    nonce, timestamp = new_nonce(), timestamp_now()
    url = "http://localhost/v3/sms"
    signature = sign(rm_key, method="post", url=url, nonce=nonce, timestamp=timestamp, body=body)
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Signature": signature,
        "X-Nonce-Str": nonce,
        "X-Timestamp": timestamp,
    }
    response = web.post("/v3/sms", json=body, headers=headers)
    assert response.headers["Content-Length"] == "100"
    assert len(response.get_data()) < 100


def test_https_end_to_end_and_an_untrusted_certificate(tls_sim, rm_register, make_client):
    from dashboard.revenuemonster.transport import new_session

    live, ca_file = tls_sim
    account = rm_register(live=live)
    trusting = new_session()
    trusting.verify = ca_file
    trusting.trust_env = False  # else REQUESTS_CA_BUNDLE silently overrides session.verify
    counter = Counter(live.simulator)
    outcomes = [send(make_client(account, session=trusting)) for _ in range(2)]
    assert outcomes == [Accepted(http_status=200)] * 2
    assert counter.delta == (1, 2)
    trusting.close()
    account.store.save(None)
    untrusted = send(make_client(account))  # default trust store: self-signed is refused
    assert isinstance(untrusted, NotSent) and untrusted.code == "TLS_ERROR"
    assert counter.delta == (1, 2)


def test_connections_are_never_reused(rm_account, make_client, canned_server):
    keep_alive = b"HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\n" + b'{"code":"SUCCESS"}'
    server = canned_server(keep_alive)  # never says "Connection: close", closes anyway
    client = make_client(
        rm_account, endpoints=Endpoints(rm_account.endpoints.oauth_url, server.url)
    )
    outcomes = [send(client) for _ in range(30)]
    assert outcomes == [Accepted(http_status=200)] * 30
    assert server.requests == 30

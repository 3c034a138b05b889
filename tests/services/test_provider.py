"""Provider credentials and environments (issue 6): write-only secrets, keys parsed once per
process, one token request for many workers, key rotation, slot-bound ciphertexts, switching."""

from __future__ import annotations

import base64
import multiprocessing
import re

import pytest
from sqlalchemy import text
from support import csrf_token, query_scalar, sandbox_secret, sign_in
from support.concurrency_worker import send_once
from test_limits import set_limits
from test_send import send

from dashboard import create_app
from dashboard.config import new_encryption_key
from dashboard.encryption import DecryptionError
from dashboard.extensions import db
from dashboard.revenuemonster import keys
from dashboard.services import environments, provider_accounts, provider_tokens

SPAWN = multiprocessing.get_context("spawn")


def test_a_hundred_sends_parse_the_key_once(app, support, sandbox, monkeypatch):
    set_limits(
        app,
        cooldown_seconds=0,
        per_number_per_hour=1000,
        per_number_per_day=1000,
        per_user_per_hour=1000,
        per_user_per_day=1000,
    )
    parsed = []
    real = keys.load_private_key

    def counting(pem, **kwargs):
        parsed.append(1)
        return real(pem, **kwargs)

    monkeypatch.setattr(keys, "load_private_key", counting)
    for _ in range(100):
        assert send(support).status_code == 302
    assert query_scalar(app, "SELECT count(*) FROM attempts WHERE status = 'accepted'") == 100
    assert len(parsed) == 1


def test_a_replaced_key_is_picked_up_on_the_next_send(app, support, sandbox, simulator):
    set_limits(app, cooldown_seconds=0)
    send(support)
    new_key = keys.generate_private_key()
    simulator.simulator.register_client(
        sandbox, sandbox_secret(sandbox), keys.public_key_pem(new_key)
    )
    with app.app_context():
        provider_accounts.configure(
            "sandbox", "test", private_key_pem=keys.private_key_pem(new_key)
        )
    send(support)
    assert query_scalar(app, "SELECT status FROM attempts WHERE id = 2") == "accepted"
    assert query_scalar(app, "SELECT provider_version FROM attempts WHERE id = 2") == 2


def test_eight_workers_with_an_expired_token_make_one_token_request(
    app, make_user, sandbox, simulator, tmp_path
):
    from support import base_config

    user_id = make_user("agent@example.com", "support")
    set_limits(app, cooldown_seconds=0, per_number_per_hour=100)
    config = base_config(app.config["SQLALCHEMY_DATABASE_URI"], simulator.url, tmp_path / "w")
    before = simulator.simulator.token_requests
    barrier, results = SPAWN.Barrier(8), SPAWN.Queue()
    workers = [
        SPAWN.Process(target=send_once, args=(config, user_id, f"13123{n:04d}", barrier, results))
        for n in range(8)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert outcomes == ["accepted"] * 8
    assert simulator.simulator.token_requests - before == 1


def test_key_rotation_k1_then_k2_k1_then_k2_alone(app, client, make_user, sandbox, tmp_path):
    from support import base_config

    make_user("boss@example.com", "admin")  # a TOTP secret, encrypted too
    sign_in(client, "boss@example.com")
    send_from = app.test_client()
    make_user("agent@example.com", "support")
    sign_in(send_from, "agent@example.com")
    send(send_from)  # a stored access token, encrypted too
    old_keys = app.config["ENCRYPTION_KEYS"]
    k2 = new_encryption_key("k2")
    url = app.config["SQLALCHEMY_DATABASE_URI"]

    def app_with(encryption_keys):
        return create_app(
            {**base_config(url, "http://127.0.0.1:9", tmp_path), "ENCRYPTION_KEYS": encryption_keys}
        )

    both = app_with(f"{k2},k1:{base64.b64encode(old_keys[0][1]).decode()}")
    result = both.test_cli_runner().invoke(args=["secrets", "rotate"])
    assert result.exit_code == 0 and "Re-encrypted 5 values" in result.output
    values = dump_encrypted(both)
    assert values and all(value.startswith("v1:k2:") for value in values)
    only_k2 = app_with(k2)
    with only_k2.app_context():
        credentials = provider_accounts.decrypted_credentials(provider_accounts.account("sandbox"))
        assert credentials.client_id == sandbox
        from dashboard.services import two_step, users

        assert two_step.secret_of(users.find_by_email("boss@example.com"))
        store = provider_tokens.DatabaseTokenStore(
            "sandbox", provider_accounts.account("sandbox").version
        )
        assert store.load() is not None
    again = only_k2.test_cli_runner().invoke(args=["secrets", "rotate"])
    assert "Re-encrypted 0 values" in again.output


def test_rotation_refuses_when_a_needed_key_is_gone(app, sandbox, tmp_path):
    from support import base_config

    gone = create_app(
        {
            **base_config(app.config["SQLALCHEMY_DATABASE_URI"], "http://127.0.0.1:9", tmp_path),
            "ENCRYPTION_KEYS": new_encryption_key("k9"),
        }
    )
    result = gone.test_cli_runner().invoke(args=["secrets", "rotate"])
    assert result.exit_code != 0 and "nothing was changed" in result.output


def dump_encrypted(app) -> list[str]:
    with app.app_context():
        rows = db.session.execute(
            text(
                "SELECT client_secret_encrypted FROM provider_accounts UNION ALL "
                "SELECT private_key_encrypted FROM provider_accounts UNION ALL "
                "SELECT access_token_encrypted FROM provider_tokens UNION ALL "
                "SELECT totp_secret_encrypted FROM users"
            )
        ).scalars()
        return [value for value in rows if value]


def test_a_sandbox_ciphertext_in_the_production_row_does_not_decrypt(
    app, support, sandbox, private_key
):
    with app.app_context():
        provider_accounts.configure(
            "production",
            "test",
            client_id="prod",
            client_secret="prod-secret",
            private_key_pem=keys.private_key_pem(private_key),
        )
        db.session.execute(
            text(
                "UPDATE provider_accounts SET client_secret_encrypted = ("
                "SELECT client_secret_encrypted FROM provider_accounts"
                " WHERE environment = 'sandbox'), version = version + 1"
                " WHERE environment = 'production'"
            )
        )
        db.session.commit()
        with pytest.raises(DecryptionError):
            provider_accounts.decrypted_credentials(provider_accounts.account("production"))
        environments.use_environment("production", "test")
    page = support.get(send(support).headers["Location"]).get_data(as_text=True)
    assert "CONFIGURATION_ERROR" in page and "Failed" in page


def configure_production_through_the_page(client, private_key, client_id="prod-client"):
    page = client.get("/admin/provider").get_data(as_text=True)
    return client.post(
        "/admin/provider/production/credentials",
        data={
            "production-csrf_token": csrf_token(page),
            "production-client_id": client_id,
            "production-client_secret": "SENTINEL-PROD-SECRET",
            "production-private_key": keys.private_key_pem(private_key).decode(),
        },
    )


def test_credentials_are_write_only_on_the_page(app, client, make_user, private_key, caplog):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    assert configure_production_through_the_page(client, private_key).status_code == 302
    page = client.get("/admin/provider").get_data(as_text=True)
    pem = keys.private_key_pem(private_key).decode()
    assert "prod-client" in page and "set (hidden)" in page
    assert keys.fingerprint(private_key) in page
    assert "SENTINEL-PROD-SECRET" not in page and pem.splitlines()[3] not in page
    assert "BEGIN PUBLIC KEY" in page and "PRIVATE KEY" not in page
    assert "SENTINEL-PROD-SECRET" not in caplog.text and pem.splitlines()[3] not in caplog.text
    stored = " ".join(str(v) for v in dump_encrypted(app))
    assert "SENTINEL-PROD-SECRET" not in stored and "BEGIN" not in stored


def test_a_bad_key_is_refused_next_to_the_field(app, client, make_user):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get("/admin/provider").get_data(as_text=True)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for bad in (small.decode(), "not a key at all"):
        answer = client.post(
            "/admin/provider/production/credentials",
            data={"production-csrf_token": csrf_token(page), "production-private_key": bad},
        )
        assert answer.status_code == 200
        assert 'id="production-private_key-error"' in answer.get_data(as_text=True)
    assert query_scalar(app, "SELECT count(*) FROM provider_accounts") == 0


def test_generate_a_key_pair_and_download_its_public_key(app, client, make_user):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get("/admin/provider").get_data(as_text=True)
    client.post("/admin/provider/production/generate", data={"csrf_token": csrf_token(page)})
    shown = client.get("/admin/provider").get_data(as_text=True)
    download = client.get("/admin/provider/production/public-key.pem")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    public = keys.load_public_key(download.data)
    assert public.key_size == 2048
    assert keys.fingerprint(public) in shown
    assert "not ready" in shown  # a key alone does not make an account that can send


def test_switching_needs_the_typed_word_a_reason_and_complete_credentials(
    app, client, make_user, sandbox, private_key
):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get("/admin/provider").get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "environment": "production", "reason": "go live"}
    incomplete = client.post("/admin/provider/switch", data={**form, "confirmation": "production"})
    assert "no complete RevenueMonster credentials" in incomplete.get_data(as_text=True)
    configure_production_through_the_page(client, private_key)
    unconfirmed = client.post("/admin/provider/switch", data={**form, "confirmation": "prod"})
    assert "Type production to switch to production." in unconfirmed.get_data(as_text=True)
    assert (
        client.post(
            "/admin/provider/switch", data={**form, "confirmation": "production"}
        ).status_code
        == 302
    )
    assert "Production environment" in client.get("/history").get_data(as_text=True)
    switch = query_scalar(app, "SELECT details FROM audit_events WHERE action = 'provider.switch'")
    assert "sandbox" in str(switch) and "production" in str(switch) and "go live" in str(switch)
    back = client.post(
        "/admin/provider/switch", data={**form, "environment": "sandbox", "reason": "done"}
    )
    assert back.status_code == 302  # no typed word needed to go back to the sandbox


def test_test_connection_reports_in_words(app, client, make_user, sandbox):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get("/admin/provider").get_data(as_text=True)
    client.post("/admin/provider/sandbox/test", data={"csrf_token": csrf_token(page)})
    answer = client.get("/admin/provider").get_data(as_text=True)
    assert re.search(r"Connected to sandbox: token valid until \d{4}-\d\d-\d\d", answer)
    assert "Token: valid until" in answer

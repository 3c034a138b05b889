"""Settings: parsed strictly, secrets generated once in development, required in production."""

from __future__ import annotations

import json

import pytest

from dashboard import config, create_app
from dashboard.config import SettingsError, from_environment, resolve

KEYS = config.new_encryption_key("k1")


def test_production_names_each_missing_secret(tmp_path):
    with pytest.raises(SettingsError) as error:
        resolve({"ENV": "production"}, str(tmp_path))
    message = str(error.value)
    for name in config.REQUIRED_IN_PRODUCTION:
        assert "DASHBOARD_" + name in message
    assert not (tmp_path / config.GENERATED_SECRETS_FILE).exists()


def test_production_names_the_one_missing(tmp_path):
    given = {
        "ENV": "production",
        "SECRET_KEY": "s" * 40,
        "ENCRYPTION_KEYS": KEYS,
        "AUDIT_KEY": KEYS,
    }
    given["TRUSTED_HOSTS"] = "sms.example.com"
    with pytest.raises(SettingsError, match="^DASHBOARD_DATABASE_URL must be set"):
        resolve(given, str(tmp_path))


def test_production_start_up_stops(tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_ENV", "production")
    monkeypatch.setenv("DASHBOARD_INSTANCE_PATH", str(tmp_path))
    for name in ("SECRET_KEY", "ENCRYPTION_KEYS", "DATABASE_URL"):
        monkeypatch.delenv("DASHBOARD_" + name, raising=False)
    with pytest.raises(SettingsError, match="DASHBOARD_SECRET_KEY"):
        create_app()


def test_development_adds_a_new_secret_to_an_older_secrets_file(tmp_path):
    stored = tmp_path / config.GENERATED_SECRETS_FILE
    older = {"SECRET_KEY": "s" * 48, "ENCRYPTION_KEYS": KEYS}
    stored.write_text(json.dumps(older))
    resolved = resolve({}, str(tmp_path))
    kept = json.loads(stored.read_text())
    assert kept["SECRET_KEY"] == "s" * 48 and kept["ENCRYPTION_KEYS"] == KEYS
    assert resolved["AUDIT_KEYS"][0][0] == "a1" and stored.stat().st_mode & 0o077 == 0


def test_development_generates_secrets_once(tmp_path):
    first = resolve({}, str(tmp_path))
    second = resolve({}, str(tmp_path))
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["ENCRYPTION_KEYS"] == second["ENCRYPTION_KEYS"]
    stored = tmp_path / config.GENERATED_SECRETS_FILE
    assert stored.stat().st_mode & 0o077 == 0
    assert set(json.loads(stored.read_text())) == {"SECRET_KEY", "ENCRYPTION_KEYS", "AUDIT_KEY"}
    assert first["AUDIT_KEYS"] == second["AUDIT_KEYS"]
    assert first["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert first["SESSION_COOKIE_SECURE"] is False


def test_production_needs_https_provider_urls(tmp_path):
    given = {
        "ENV": "production",
        "SECRET_KEY": "s" * 40,
        "ENCRYPTION_KEYS": KEYS,
        "AUDIT_KEY": KEYS,
        "DATABASE_URL": "postgresql://u@db/x",
        "TRUSTED_HOSTS": "sms.example.com",
        "RM_PRODUCTION_OAUTH_URL": "http://oauth.revenuemonster.my",
    }
    with pytest.raises(SettingsError, match="RM_PRODUCTION_OAUTH_URL must be an https URL"):
        resolve(given, str(tmp_path))


def test_a_settings_error_stops_start_up_with_one_line(tmp_path):
    import subprocess
    import sys

    env = {
        "PATH": "/usr/bin:/bin",
        "DASHBOARD_ENV": "production",
        "DASHBOARD_INSTANCE_PATH": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", "from dashboard import create_app; create_app()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("DASHBOARD_SECRET_KEY, DASHBOARD_ENCRYPTION_KEYS")
    assert "Traceback" not in result.stderr


def test_production_settings_are_used(tmp_path):
    given = {
        "ENV": "production",
        "SECRET_KEY": "s" * 40,
        "ENCRYPTION_KEYS": KEYS,
        "AUDIT_KEY": KEYS,
        "DATABASE_URL": "postgresql://u@db/x",
        "TRUSTED_HOSTS": "sms.example.com, .internal.example.com",
        "RM_TIMEOUT_SECONDS": "7",
        "PROXY_COUNT": "1",
        "FRESH_SIGN_IN_MINUTES": "5",
    }
    settings = resolve(given, str(tmp_path))
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/x"
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["RM_TIMEOUT_SECONDS"] == 7.0
    assert settings["RM_URLS"]["production"]["api"] == "https://open.revenuemonster.my"
    assert settings["TRUSTED_HOSTS"] == ["sms.example.com", ".internal.example.com"]
    assert settings["PROXY_COUNT"] == 1
    assert settings["FRESH_SIGN_IN_MINUTES"] == 5


def test_development_defaults_trust_no_proxy_and_any_host(tmp_path):
    settings = resolve({}, str(tmp_path))
    assert settings["PROXY_COUNT"] == 0
    assert settings["TRUSTED_HOSTS"] is None
    assert settings["FRESH_SIGN_IN_MINUTES"] == 10


def test_exports_hold_a_million_attempts_unless_told(tmp_path):
    assert resolve({}, str(tmp_path))["EXPORT_MAX_ROWS"] == 1_000_000
    assert resolve({"EXPORT_MAX_ROWS": " 250000 "}, str(tmp_path))["EXPORT_MAX_ROWS"] == 250_000
    environ = {"DASHBOARD_EXPORT_MAX_ROWS": "5000"}
    assert resolve(from_environment(environ), str(tmp_path))["EXPORT_MAX_ROWS"] == 5000


def test_production_creates_no_instance_folder(tmp_path):
    instance = tmp_path / "instance"
    given = {
        "ENV": "production",
        "SECRET_KEY": "s" * 40,
        "ENCRYPTION_KEYS": KEYS,
        "AUDIT_KEY": KEYS,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}",
        "TRUSTED_HOSTS": "sms.example.com",
    }
    resolve(given, str(instance))
    assert not instance.exists()


def test_environment_variables_are_read_with_their_prefix():
    environ = {"DASHBOARD_SECRET_KEY": "abc", "SECRET_KEY": "ignored", "DASHBOARD_OTHER": "x"}
    assert from_environment(environ) == {"SECRET_KEY": "abc"}


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("ENCRYPTION_KEYS", "nokeyid", "id:base64key"),
        ("ENCRYPTION_KEYS", "k1:!!!", "not valid base64"),
        ("ENCRYPTION_KEYS", "k1:" + "QUJD", "32 bytes"),
        ("ENCRYPTION_KEYS", f"{KEYS},{KEYS}", "appears twice"),
        ("AUDIT_KEY", "k1:QUJD", "DASHBOARD_AUDIT_KEY: key 'k1' must be 32 bytes"),
        ("AUDIT_KEY", "a" * 33 + KEYS[2:], "ids of at most 32 characters"),
        ("METRICS_TOKEN", "short", "at least 32 characters"),
        ("SECRET_KEY", "short", "at least 32"),
        ("DATABASE_URL", "mysql://x", "sqlite:// or postgresql://"),
        ("RM_TIMEOUT_SECONDS", "soon", "number of seconds"),
        ("RM_TIMEOUT_SECONDS", "60", "between 0 and 25"),
        ("RM_SANDBOX_API_URL", "ftp://x", "must be an https or http URL"),
        ("ENV", "staging", "DASHBOARD_ENV must be one of"),
        ("PROXY_COUNT", "-1", "DASHBOARD_PROXY_COUNT must be a whole number from 0 to 5"),
        ("PROXY_COUNT", "two", "DASHBOARD_PROXY_COUNT must be a whole number"),
        ("FRESH_SIGN_IN_MINUTES", "0", "FRESH_SIGN_IN_MINUTES must be a whole number from 1"),
        ("EXPORT_MAX_ROWS", "0", "DASHBOARD_EXPORT_MAX_ROWS must be a whole number from 1"),
        ("EXPORT_MAX_ROWS", "a million", "DASHBOARD_EXPORT_MAX_ROWS must be a whole number"),
        ("TRUSTED_HOSTS", "https://sms.example.com", "without a scheme or a port"),
        ("TRUSTED_HOSTS", "sms.example.com:443", "without a scheme or a port"),
        ("TRUSTED_HOSTS", " , ", "TRUSTED_HOSTS must be comma-separated host names"),
        ("TRUSTED_HOSTS", "[::1]", "IPv6 literals cannot be matched): [::1]"),
        ("TRUSTED_HOSTS", "sms.example.com, a..b", "such as sms.example.com"),
        ("TRUSTED_HOSTS", "sms.example.com.", "such as sms.example.com"),
        ("TRUSTED_HOSTS", "-.example.com", "such as sms.example.com"),
        ("TRUSTED_HOSTS", "bücher.example", "in their xn-- form"),
    ],
)
def test_nonsense_is_refused_with_the_setting_named(tmp_path, name, value, words):
    given = {"SECRET_KEY": "s" * 40, "ENCRYPTION_KEYS": KEYS, name: value}
    with pytest.raises(SettingsError) as error:
        resolve(given, str(tmp_path))
    assert words in str(error.value)


# -- Single sign-on (issue 19) ----------------------------------------------------------------

SSO = {
    "OIDC_ISSUER": "https://login.example.com/realms/staff",
    "OIDC_CLIENT_ID": "rm-sms-dashboard",
    "OIDC_CLIENT_SECRET": "s3cret-s3cret",
    "OIDC_ROLE_MAP": "sms-support=support,sms-auditors=auditor,sms-admins=admin",
}


def test_single_sign_on_is_off_unless_configured(tmp_path):
    resolved = resolve({}, str(tmp_path))
    assert resolved["OIDC"] is None and resolved["PASSWORD_SIGN_IN"] is True


def test_single_sign_on_settings_are_read_with_their_defaults(tmp_path):
    sso = resolve(SSO, str(tmp_path))["OIDC"]
    assert sso.issuer == SSO["OIDC_ISSUER"] and sso.client_id == "rm-sms-dashboard"
    assert sso.roles_claim == "groups" and sso.role_map["sms-admins"] == "admin"
    assert sso.scopes == ("openid", "email", "profile") and not sso.trust_mfa
    assert sso.email_verified_claim == "email_verified"
    assert sso.discovery_url == SSO["OIDC_ISSUER"] + "/.well-known/openid-configuration"
    assert sso.origin == "https://login.example.com"


def test_single_sign_on_settings_come_from_the_environment():
    environ = {f"DASHBOARD_{k}": v for k, v in SSO.items()} | {
        "DASHBOARD_PASSWORD_SIGN_IN": "off",
        "DASHBOARD_OIDC_SCOPES": "groups",
        "DASHBOARD_OIDC_ROLES_CLAIM": "roles",
        "DASHBOARD_OIDC_TRUST_MFA": "on",
        "DASHBOARD_OIDC_MFA_ACR": "phr",
    }
    assert from_environment(environ) == {
        k.removeprefix("DASHBOARD_"): v for k, v in environ.items()
    }


@pytest.mark.parametrize(
    ("left_out", "named"),
    [
        (["OIDC_CLIENT_SECRET"], "DASHBOARD_OIDC_CLIENT_SECRET is missing"),
        (["OIDC_ISSUER", "OIDC_CLIENT_ID"], "DASHBOARD_OIDC_ISSUER, DASHBOARD_OIDC_CLIENT_ID are"),
    ],
)
def test_a_partial_single_sign_on_set_stops_start_up_naming_what_is_missing(
    tmp_path, left_out, named
):
    given = {k: v for k, v in SSO.items() if k not in left_out}
    with pytest.raises(SettingsError, match=named):
        resolve(given, str(tmp_path))


def test_a_single_sign_on_option_without_single_sign_on_stops_start_up(tmp_path):
    with pytest.raises(SettingsError, match="DASHBOARD_OIDC_ROLE_MAP only work"):
        resolve({"OIDC_ROLE_MAP": SSO["OIDC_ROLE_MAP"]}, str(tmp_path))


@pytest.mark.parametrize(
    ("role_map", "message"),
    [
        ("sms-admins=root", "'root' .for 'sms-admins'. is not a role"),
        ("sms-admins", "group=role items"),
        ("a=admin,a=support", "appears twice"),
        ("", "DASHBOARD_OIDC_ROLE_MAP must be set"),
    ],
)
def test_a_role_map_is_checked(tmp_path, role_map, message):
    given = {**SSO, "OIDC_ROLE_MAP": role_map}
    with pytest.raises(SettingsError, match=message):
        resolve(given, str(tmp_path))


def test_the_role_map_keeps_spaces_inside_group_names(tmp_path):
    sso = resolve(
        {**SSO, "OIDC_ROLE_MAP": " SMS Admins = admin , /staff/sms=support"}, str(tmp_path)
    )
    assert dict(sso["OIDC"].role_map) == {"SMS Admins": "admin", "/staff/sms": "support"}


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("OIDC_ISSUER", "login.example.com", "OIDC_ISSUER must be the provider's issuer"),
        ("OIDC_ISSUER", "https://login.example.com/?x=1", "without a query"),
        ("OIDC_ROLES_CLAIM", "two words", "OIDC_ROLES_CLAIM must be the name of a claim"),
        ("OIDC_EMAIL_VERIFIED_CLAIM", "a,b", "OIDC_EMAIL_VERIFIED_CLAIM must be the name"),
        ("OIDC_TRUST_MFA", "maybe", "OIDC_TRUST_MFA must be on or off, not 'maybe'"),
        ("PASSWORD_SIGN_IN", "sometimes", "PASSWORD_SIGN_IN must be on or off"),
        ("OIDC_MFA_ACR", "gold", "OIDC_MFA_ACR is set but DASHBOARD_OIDC_TRUST_MFA is off"),
        ("OIDC_SCOPES", 'groups "x"', "OIDC_SCOPES must be scope names"),
    ],
)
def test_single_sign_on_settings_are_parsed_strictly(tmp_path, setting, value, message):
    with pytest.raises(SettingsError, match=message):
        resolve({**SSO, setting: value}, str(tmp_path))


def test_production_wants_the_issuer_over_https(tmp_path):
    given = {
        "ENV": "production",
        "SECRET_KEY": "s" * 40,
        "ENCRYPTION_KEYS": KEYS,
        "AUDIT_KEY": KEYS,
        "DATABASE_URL": "sqlite:///x.sqlite",
        "TRUSTED_HOSTS": "sms.example.com",
        **SSO,
        "OIDC_ISSUER": "http://login.example.com",
    }
    with pytest.raises(SettingsError, match="an https URL"):
        resolve(given, str(tmp_path))


def test_passwords_off_needs_single_sign_on(tmp_path):
    with pytest.raises(SettingsError, match="PASSWORD_SIGN_IN=off leaves no way to sign in"):
        resolve({"PASSWORD_SIGN_IN": "off"}, str(tmp_path))
    assert resolve({**SSO, "PASSWORD_SIGN_IN": "off"}, str(tmp_path))["PASSWORD_SIGN_IN"] is False


def test_trusted_mfa_and_extra_scopes(tmp_path):
    given = {**SSO, "OIDC_TRUST_MFA": "on", "OIDC_MFA_ACR": "phr", "OIDC_SCOPES": "groups openid"}
    sso = resolve(given, str(tmp_path))["OIDC"]
    assert sso.trust_mfa and sso.mfa_acr == "phr"
    assert sso.scopes == ("openid", "email", "profile", "groups")

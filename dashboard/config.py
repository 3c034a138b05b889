"""Settings: defaults, DASHBOARD_* environment variables and their validation at start-up.

Every setting is read from the process environment (prefix ``DASHBOARD_``) or, for tests, from the
mapping given to ``create_app``. Values are parsed strictly: a setting that cannot be understood
stops start-up with a message that names it, rather than running with a surprise.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .models import ENVIRONMENTS
from .revenuemonster.endpoints import PRODUCTION, SANDBOX

PREFIX = "DASHBOARD_"
RUN_MODES = ("development", "production")
REQUIRED_IN_PRODUCTION = (
    "SECRET_KEY",
    "ENCRYPTION_KEYS",
    "AUDIT_KEY",
    "DATABASE_URL",
    "TRUSTED_HOSTS",
)
GENERATED_SECRETS_FILE = "generated-secrets.json"
#: A key's id is stored beside what it encrypted or MACed (``audit_events.key_id``: 32).
KEY_ID_LENGTH = 32
#: The secrets development generates into the instance folder when they are not set.
GENERATED = ("SECRET_KEY", "ENCRYPTION_KEYS", "AUDIT_KEY")

DEFAULTS: dict[str, Any] = {
    "ENV": "development",
    "RM_SANDBOX_OAUTH_URL": SANDBOX.oauth_url,
    "RM_SANDBOX_API_URL": SANDBOX.api_url,
    "RM_PRODUCTION_OAUTH_URL": PRODUCTION.oauth_url,
    "RM_PRODUCTION_API_URL": PRODUCTION.api_url,
    "RM_TIMEOUT_SECONDS": 10.0,
    "SMS_TYPE": "VERIFY_CODE",
    "RETENTION_DAYS": 400,
    "PROXY_COUNT": 0,
    "FRESH_SIGN_IN_MINUTES": 10,
    "ONE_TIME_PASSWORD_HOURS": 72,  # nosec B105 # a number of hours, not a password
    "RATELIMIT_STORAGE_URI": "memory://",
    "EXPORT_MAX_ROWS": 1_000_000,
    "OIDC_ROLES_CLAIM": "groups",
    "PASSWORD_SIGN_IN": "on",  # nosec B105 # on or off, not a password
    "OIDC_TRUST_MFA": "off",
    "OIDC_EMAIL_VERIFIED_CLAIM": "email_verified",
}
#: The three settings that turn single sign-on on: all of them, or none.
OIDC_REQUIRED = ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")
#: Settings that only mean something with single sign-on on.
OIDC_OPTIONAL = (
    "OIDC_ROLES_CLAIM",
    "OIDC_ROLE_MAP",
    "OIDC_SCOPES",
    "OIDC_TRUST_MFA",
    "OIDC_MFA_ACR",
    "OIDC_EMAIL_VERIFIED_CLAIM",
)
SETTING_NAMES = (
    "ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "ENCRYPTION_KEYS",
    "AUDIT_KEY",
    "METRICS_TOKEN",
    "RM_SANDBOX_OAUTH_URL",
    "RM_SANDBOX_API_URL",
    "RM_PRODUCTION_OAUTH_URL",
    "RM_PRODUCTION_API_URL",
    "RM_TIMEOUT_SECONDS",
    "SMS_TYPE",
    "RETENTION_DAYS",
    "PROXY_COUNT",
    "TRUSTED_HOSTS",
    "FRESH_SIGN_IN_MINUTES",
    "ONE_TIME_PASSWORD_HOURS",
    "RATELIMIT_STORAGE_URI",
    "EXPORT_MAX_ROWS",
    *OIDC_REQUIRED,
    *OIDC_OPTIONAL,
    "PASSWORD_SIGN_IN",
)


class SettingsError(SystemExit):
    """A setting is missing or cannot be understood; the message names it.

    A SystemExit, so that start-up (``flask``, gunicorn) stops with this one line and a
    non-zero status instead of a traceback."""


def from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the ``DASHBOARD_*`` settings present in ``environ``, without the prefix."""
    return {name: environ[PREFIX + name] for name in SETTING_NAMES if PREFIX + name in environ}


def resolve(given: Mapping[str, Any], instance_path: str) -> dict[str, Any]:
    """Complete and check the settings; return the Flask config they produce.

    In development a missing secret key or encryption key is generated once into the instance
    folder (so restarts keep sessions and can decrypt what was stored); in production a missing
    one raises :class:`SettingsError`.
    """
    settings = {**DEFAULTS, **{k: v for k, v in given.items() if v not in (None, "")}}
    mode = settings["ENV"]
    if mode not in RUN_MODES:
        raise SettingsError(f"{PREFIX}ENV must be one of {', '.join(RUN_MODES)}, not {mode!r}.")
    missing = [name for name in REQUIRED_IN_PRODUCTION if name not in settings]
    if missing and mode == "production":
        names = ", ".join(PREFIX + name for name in missing)
        raise SettingsError(f"{names} must be set when {PREFIX}ENV=production.")
    if any(name not in settings for name in GENERATED):
        settings = {**_generated_secrets(instance_path), **settings}
    if "DATABASE_URL" not in settings:
        settings["DATABASE_URL"] = _default_database_url(instance_path)

    from . import single_sign_on_settings  # which uses this module's names

    database_url = _database_url(settings["DATABASE_URL"])
    config: dict[str, Any] = {
        "DASHBOARD_ENV": mode,
        "SECRET_KEY": _secret_key(settings["SECRET_KEY"]),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(database_url),
        "ENCRYPTION_KEYS": parse_encryption_keys(settings["ENCRYPTION_KEYS"]),
        # The audit chain's MAC keys (newest first), kept outside the database like the
        # encryption keys: whoever can write the table cannot forge the chain without them.
        "AUDIT_KEYS": parse_encryption_keys(settings["AUDIT_KEY"], "AUDIT_KEY"),
        # The bearer token /metrics asks for; None: /metrics is off.
        "METRICS_TOKEN": _metrics_token(settings.get("METRICS_TOKEN")),
        "RM_URLS": {
            env: {
                part: _url(settings[f"RM_{env.upper()}_{part.upper()}_URL"], env, part, mode)
                for part in ("oauth", "api")
            }
            for env in ENVIRONMENTS
        },
        "RM_TIMEOUT_SECONDS": _seconds(settings["RM_TIMEOUT_SECONDS"], "RM_TIMEOUT_SECONDS"),
        "SMS_TYPE": str(settings["SMS_TYPE"]),
        "RETENTION_DAYS": _whole_days(settings["RETENTION_DAYS"]),
        "PROXY_COUNT": _count(settings["PROXY_COUNT"], "PROXY_COUNT", most=5),
        # Flask answers 400 to any other Host, so a forged one is never reflected in a link.
        "TRUSTED_HOSTS": _hosts(settings.get("TRUSTED_HOSTS")),
        "FRESH_SIGN_IN_MINUTES": _count(
            settings["FRESH_SIGN_IN_MINUTES"], "FRESH_SIGN_IN_MINUTES", least=1, most=24 * 60
        ),
        "ONE_TIME_PASSWORD_HOURS": _count(
            settings["ONE_TIME_PASSWORD_HOURS"], "ONE_TIME_PASSWORD_HOURS", least=1, most=30 * 24
        ),
        # Flask-Limiter's storage for the request-rate limits of sign-in: one process's memory
        # by default; several hosts share one (e.g. redis://…) so an address is counted once.
        "RATELIMIT_STORAGE_URI": _storage_uri(settings["RATELIMIT_STORAGE_URI"]),
        # The most attempts one export may hold: a larger one would not stream within the
        # worker timeout (docs/performance.md); above it, the filters must be narrowed.
        "EXPORT_MAX_ROWS": _count(
            settings["EXPORT_MAX_ROWS"], "EXPORT_MAX_ROWS", least=1, most=100_000_000
        ),
        # Single sign-on (OpenID Connect): None when it is not configured.
        "OIDC": single_sign_on_settings.read(given, settings, mode),
        # Whether the sign-in page takes passwords ("off": single sign-on only; the command
        # line's `users` commands stay as the break-glass way in).
        "PASSWORD_SIGN_IN": on_off(settings["PASSWORD_SIGN_IN"], "PASSWORD_SIGN_IN"),
        # Sessions: the cookie is Secure except in development over plain HTTP.
        "SESSION_COOKIE_SECURE": mode == "production",
        # "__Host-" binds the cookie to this host over HTTPS (browsers refuse it over plain HTTP).
        "SESSION_COOKIE_NAME": "__Host-session" if mode == "production" else "session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": 0,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "BOOTSTRAP_SERVE_LOCAL": True,  # an internal tool on a closed network: never a CDN
    }
    if not config["PASSWORD_SIGN_IN"] and config["OIDC"] is None:
        raise SettingsError(
            f"{PREFIX}PASSWORD_SIGN_IN=off leaves no way to sign in: configure single sign-on "
            f"({', '.join(PREFIX + name for name in OIDC_REQUIRED)}) or turn it on."
        )
    # Anything else a test passes (TESTING, WTF_CSRF_ENABLED, ...) goes through untouched.
    passthrough = {k: v for k, v in given.items() if k not in SETTING_NAMES and k.isupper()}
    return {**config, **passthrough}


def parse_encryption_keys(value: str, setting: str = "ENCRYPTION_KEYS") -> list[tuple[str, bytes]]:
    """Parse ``id:base64key,...`` (newest first) into ``[(id, 32-byte key), ...]``."""
    name = PREFIX + setting
    keys: list[tuple[str, bytes]] = []
    for item in str(value).split(","):
        key_id, sep, encoded = item.strip().partition(":")
        if not sep or not key_id or not key_id.isalnum() or len(key_id) > KEY_ID_LENGTH:
            raise SettingsError(
                f"{name} must be comma-separated 'id:base64key' items with alphanumeric ids"
                f" of at most {KEY_ID_LENGTH} characters."
            )
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise SettingsError(f"{name}: key {key_id!r} is not valid base64.") from None
        if len(key) != 32:
            raise SettingsError(f"{name}: key {key_id!r} must be 32 bytes (AES-256).")
        if any(key_id == known for known, _ in keys):
            raise SettingsError(f"{name}: key id {key_id!r} appears twice.")
        keys.append((key_id, key))
    return keys


def new_encryption_key(key_id: str) -> str:
    """Return a fresh ``id:base64key`` item for ``DASHBOARD_ENCRYPTION_KEYS``."""
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def _generated_secrets(instance_path: str) -> dict[str, str]:
    """Read, or create once, the development secrets kept in the instance folder (adding
    those a newer version needs to a file an older one wrote)."""
    path = Path(instance_path) / GENERATED_SECRETS_FILE
    kept: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if all(name in kept for name in GENERATED):
        return kept
    fresh = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEYS": new_encryption_key("k1"),
        "AUDIT_KEY": new_encryption_key("a1"),
    }
    generated = {**fresh, **kept}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".new")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(generated, handle)
    partial.replace(path)
    return generated


def _default_database_url(instance_path: str) -> str:
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(instance_path) / 'dashboard.sqlite'}"


def _secret_key(value: Any) -> str:
    value = str(value)
    if len(value) < 32:
        raise SettingsError(f"{PREFIX}SECRET_KEY must be at least 32 characters long.")
    return value


def _database_url(value: Any) -> str:
    value = str(value)
    if value.startswith("postgres://"):
        value = "postgresql://" + value.removeprefix("postgres://")
    if value.startswith("postgresql://"):
        value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
    if not value.startswith(("sqlite://", "postgresql+psycopg://")):
        raise SettingsError(f"{PREFIX}DATABASE_URL must be a sqlite:// or postgresql:// URL.")
    return value


def _engine_options(database_url: str) -> dict[str, Any]:
    """PostgreSQL must plan each history search for its own digits, whose best plan depends
    on how common they are. psycopg would prepare a statement on its fifth run, and
    PostgreSQL may then settle on one generic plan for any value, several times slower for
    common digits (docs/performance.md). Unprepared statements are also what a transaction
    pooler such as PgBouncer expects.

    A pooled connection is pinged before use, so that the first request after PostgreSQL
    restarted gets a new connection instead of a dead one and a 500 (tests/faults/)."""
    if database_url.startswith("postgresql"):
        return {"connect_args": {"prepare_threshold": None}, "pool_pre_ping": True}
    return {}


def _url(value: Any, env: str, part: str, mode: str) -> str:
    """A RevenueMonster base URL: HTTPS in production (the client secret travels in it)."""
    value = str(value).rstrip("/")
    name = f"{PREFIX}RM_{env.upper()}_{part.upper()}_URL"
    allowed = ("https://",) if mode == "production" else ("https://", "http://")
    if not value.startswith(allowed):
        raise SettingsError(f"{name} must be an {' or '.join(a[:-3] for a in allowed)} URL.")
    return value


def _whole_days(value: Any) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = 0
    if days < 1:
        raise SettingsError(f"{PREFIX}RETENTION_DAYS must be a whole number of days, 1 or more.")
    return days


def _count(value: Any, name: str, *, least: int = 0, most: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = least - 1
    if not least <= number <= most:
        raise SettingsError(f"{PREFIX}{name} must be a whole number from {least} to {most}.")
    return number


#: A host name (``.example.com`` admits its subdomains) or an IPv4 address: what werkzeug can
#: match a ``Host`` against. IPv6 literals never match there.
_HOST_NAME = re.compile(r"^\.?(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")


def _metrics_token(value: Any) -> str | None:
    if value in (None, ""):
        return None
    token = str(value)
    if len(token) < 32 or any(ch.isspace() for ch in token):
        raise SettingsError(
            f"{PREFIX}METRICS_TOKEN must be at least 32 characters without spaces "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))')."
        )
    return token


def _storage_uri(value: Any) -> str:
    uri = str(value).strip()
    if "://" not in uri:
        raise SettingsError(
            f"{PREFIX}RATELIMIT_STORAGE_URI must be a storage URI such as memory:// or "
            f"redis://host:6379, not {uri!r}."
        )
    return uri


def _hosts(value: Any) -> list[str] | None:
    """Comma-separated host names (no scheme, no port, no path) as a list, as Flask's
    ``TRUSTED_HOSTS`` takes them. None (unset: any host) is for development only."""
    if value is None:
        return None
    hosts = [host.strip().lower() for host in str(value).split(",") if host.strip()]
    wrong = [host for host in hosts if not _HOST_NAME.match(host)]
    if not hosts or wrong:
        raise SettingsError(
            f"{PREFIX}TRUSTED_HOSTS must be comma-separated host names or IPv4 addresses, "
            "without a scheme or a port, such as sms.example.com (internationalised names in "
            f"their xn-- form; IPv6 literals cannot be matched): {', '.join(wrong) or 'none'}."
        )
    return hosts


def _seconds(value: Any, name: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{PREFIX}{name} must be a number of seconds.") from None
    if not 0 < seconds <= 25:
        raise SettingsError(
            f"{PREFIX}{name} must be between 0 and 25 seconds (below gunicorn's worker timeout)."
        )
    return seconds


_ON = frozenset({"on", "true", "yes", "1"})
_OFF = frozenset({"off", "false", "no", "0"})


def on_off(value: Any, name: str) -> bool:
    """``on`` or ``off`` (true/false, yes/no, 1/0 too); anything else stops start-up."""
    word = str(value).strip().lower()
    if word in _ON:
        return True
    if word in _OFF:
        return False
    raise SettingsError(f"{PREFIX}{name} must be on or off, not {str(value)!r}.")

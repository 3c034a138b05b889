"""The single sign-on settings (``DASHBOARD_OIDC_*``, issue 19): read and checked at start-up
by :func:`dashboard.config.resolve`, strictly like every other setting."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .config import OIDC_OPTIONAL, OIDC_REQUIRED, PREFIX, SettingsError, on_off
from .domain.capabilities import ROLES


@dataclass(frozen=True)
class SingleSignOn:
    """The identity provider the dashboard signs staff in through (OpenID Connect).

    ``role_map`` maps a value of the ``roles_claim`` claim (a group) to a dashboard role;
    ``trust_mfa`` lets an ID token that asserts multi-factor authentication (``amr`` holds
    ``mfa``, or ``acr`` equals ``mfa_acr``) stand for the dashboard's own second step."""

    issuer: str
    client_id: str
    client_secret: str
    roles_claim: str
    role_map: Mapping[str, str]
    scopes: tuple[str, ...]
    trust_mfa: bool
    mfa_acr: str | None
    #: The claim that must be true for the email to be trusted: ``email_verified`` (OpenID
    #: Connect), or what a provider sends instead (Entra ID: ``xms_edov``).
    email_verified_claim: str = "email_verified"

    def role_for(self, claims: Mapping[str, Any]) -> str | None:
        """The highest role (admin > auditor > support) the identity's roles claim (a list of
        groups, or one) maps to, or None."""
        value = claims.get(self.roles_claim)
        groups = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        roles = [self.role_map[g] for g in groups if isinstance(g, str) and g in self.role_map]
        return max(roles, key=ROLES.index, default=None)

    def asserts_mfa(self, claims: Mapping[str, Any]) -> bool:
        """Whether the ID token says the person used several factors, and that is trusted:
        ``amr`` holds ``mfa`` (RFC 8176), or ``acr`` is ``DASHBOARD_OIDC_MFA_ACR``."""
        if not self.trust_mfa:
            return False
        amr = claims.get("amr")
        if isinstance(amr, list) and "mfa" in amr:
            return True
        return self.mfa_acr is not None and claims.get("acr") == self.mfa_acr

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def origin(self) -> str:
        """The provider's origin, where the sign-in and sign-out forms send the browser."""
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"


#: Scopes every sign-in asks for: the ID token must carry the subject, email and name.
OIDC_BASE_SCOPES = ("openid", "email", "profile")


def read(given: Mapping[str, Any], settings: Mapping[str, Any], mode: str) -> SingleSignOn | None:
    """The single sign-on settings, or None when none of the three that turn it on is set.

    A partial set, or an option set without single sign-on, is a mistake that would
    otherwise pass unseen (a sign-in page without the button, a role map that does nothing):
    it stops start-up, naming what is missing."""
    present = [name for name in OIDC_REQUIRED if given.get(name) not in (None, "")]
    if not present:
        stray = [name for name in OIDC_OPTIONAL if given.get(name) not in (None, "")]
        if stray:
            raise SettingsError(
                f"{', '.join(PREFIX + name for name in stray)} only work with single sign-on: "
                f"also set {', '.join(PREFIX + name for name in OIDC_REQUIRED)}."
            )
        return None
    missing = [name for name in OIDC_REQUIRED if name not in present]
    if missing:
        raise SettingsError(
            f"Single sign-on needs {', '.join(PREFIX + n for n in OIDC_REQUIRED)} together: "
            f"{', '.join(PREFIX + name for name in missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing."
        )
    issuer = str(settings["OIDC_ISSUER"]).strip()
    allowed = ("https://",) if mode == "production" else ("https://", "http://")
    parts = urlsplit(issuer)
    if not issuer.startswith(allowed) or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(
            f"{PREFIX}OIDC_ISSUER must be the provider's issuer, an "
            f"{' or '.join(a[:-3] for a in allowed)} URL without a query, such as "
            "https://login.example.com/realms/staff."
        )
    trust_mfa = on_off(settings["OIDC_TRUST_MFA"], "OIDC_TRUST_MFA")
    mfa_acr = str(settings.get("OIDC_MFA_ACR") or "").strip() or None
    if mfa_acr is not None and not trust_mfa:
        raise SettingsError(
            f"{PREFIX}OIDC_MFA_ACR is set but {PREFIX}OIDC_TRUST_MFA is off: turn it on to "
            "trust the provider's multi-factor authentication, or unset the acr."
        )
    roles_claim, verified_claim = (
        _claim_name(settings[name], name)
        for name in ("OIDC_ROLES_CLAIM", "OIDC_EMAIL_VERIFIED_CLAIM")
    )
    extra = str(settings.get("OIDC_SCOPES") or "").replace(",", " ").split()
    if any(not re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]+", scope) for scope in extra):
        raise SettingsError(f"{PREFIX}OIDC_SCOPES must be scope names separated by spaces.")
    return SingleSignOn(
        issuer=issuer,
        client_id=str(settings["OIDC_CLIENT_ID"]).strip(),
        client_secret=str(settings["OIDC_CLIENT_SECRET"]),
        roles_claim=roles_claim,
        role_map=parse_role_map(settings.get("OIDC_ROLE_MAP")),
        scopes=tuple(dict.fromkeys([*OIDC_BASE_SCOPES, *extra])),
        trust_mfa=trust_mfa,
        mfa_acr=mfa_acr,
        email_verified_claim=verified_claim,
    )


def _claim_name(value: Any, setting: str) -> str:
    """A claim's name: letters, digits and ``_:./-`` (no spaces, no commas)."""
    name = str(value).strip()
    if not re.fullmatch(r"[A-Za-z0-9_:./-]{1,100}", name):
        raise SettingsError(
            f"{PREFIX}{setting} must be the name of a claim, such as groups or email_verified."
        )
    return name


def parse_role_map(value: Any) -> dict[str, str]:
    """Parse ``group=role,group=role`` (``DASHBOARD_OIDC_ROLE_MAP``): each group the
    provider names, and the dashboard role its members get. Groups are matched exactly."""
    name = PREFIX + "OIDC_ROLE_MAP"
    if value in (None, ""):
        raise SettingsError(
            f"{name} must be set with single sign-on, such as "
            "sms-support=support,sms-auditors=auditor,sms-admins=admin: without it no one "
            "could sign in."
        )
    mapping: dict[str, str] = {}
    for item in str(value).split(","):
        group, sep, role = (part.strip() for part in item.partition("="))
        if not sep or not group or not role:
            raise SettingsError(
                f"{name} must be comma-separated group=role items, not {item.strip()!r}."
            )
        if role not in ROLES:
            raise SettingsError(
                f"{name}: {role!r} (for {group!r}) is not a role; the roles are {', '.join(ROLES)}."
            )
        if group in mapping:
            raise SettingsError(f"{name}: the group {group!r} appears twice.")
        mapping[group] = role
    return mapping

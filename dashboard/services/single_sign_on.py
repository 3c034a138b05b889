"""Single sign-on with OpenID Connect (issue 19): who the identity provider may let in, as
whom, with what role; every refusal recorded, every change audited.

The protocol is authlib's (code flow with PKCE S256, ``state`` and ``nonce`` kept in the
session, the ID token verified against the provider's JWKS, discovery from the issuer). The
rules are ours (:func:`complete`): an identity enters when its email is verified and its roles
claim maps to a role (the highest: admin > auditor > support); its account is created at the
first sign-in, or an existing one with its email is tied to it (issuer, subject), and that
email from another identity is refused. The role follows the claims at every sign-in (a
change is audited and ends the other sessions); an identity that no longer maps is refused
and its sessions end; a disabled account is refused. The dashboard's second step still
follows where the account has one, unless the provider's MFA is trusted, asserted, and enough.

Refusals are counted on one audit event per window (audit.record_refusal): anyone can send a
browser to the callback, and an unmapped person can sign in at the provider again and again.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import requests
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, request, session
from joserfc.errors import JoseError
from sqlalchemy import select
from werkzeug.wrappers import Response

from .. import metrics
from ..database import write_transaction
from ..domain import emails
from ..domain.passwords import hash_password
from ..extensions import db
from ..models import User, new_session_version, utcnow
from ..single_sign_on_settings import SingleSignOn
from . import audit, two_step, users

log = logging.getLogger(__name__)

#: The name of the provider in authlib's registry (and of its state in the session).
CLIENT = "sso"
#: Every call to the provider (discovery, keys, token) gives up after this long.
TIMEOUT_SECONDS = 10
#: Clock skew allowed when checking the ID token's times (``exp``, ``iat``).
LEEWAY_SECONDS = 60
#: How a change made by a sign-in is named in the audit log.
ACTOR = "single sign-on"
#: How a refusal before any identity is known names its actor.
ANONYMOUS = "an unknown browser"
#: The session's key for where to go after the round trip (a local path).
NEXT = "sso_next"
#: The session's mark of a sign-in through the provider: the ID token to hint at its
#: sign-out (RP-initiated logout), or "" when the token was too large to keep.
SIGNED_IN_WITH = "sso"
#: An ID token larger than this is not kept in the session cookie (browsers drop cookies
#: over 4 KB; a provider listing many groups makes large tokens): sign-out then names the
#: client instead of hinting at the token.
ID_TOKEN_HINT_LIMIT = 2048
#: Errors the provider sends back when the person, not the provider, said no.
PERSON_DECLINED = frozenset(
    {"access_denied", "login_required", "consent_required", "interaction_required"}
)
#: What reaching the provider can fail with: the network, an HTTP error, a body that is not
#: JSON (ValueError), metadata without what it must have (authlib's RuntimeError, a KeyError).
UNREACHABLE = (requests.RequestException, ValueError, RuntimeError, KeyError)

#: What a refusal says to the person, by its reason.
MESSAGES = {
    "state": (
        "This sign-in could not be matched to one started here: it took too long, was started "
        "in another browser, or did not come from this dashboard. Sign in again."
    ),
    "declined": "The identity provider did not sign you in (it said: {error}).",
    "provider_error": "The identity provider could not sign you in (it said: {error}).",
    "unreachable": (
        "The identity provider could not be reached, or did not answer as expected. "
        "Try again in a few minutes; if it goes on, tell an admin."
    ),
    "token_invalid": (  # nosec B105 # words for a person, not a password
        "The identity provider's answer could not be verified, so it was not trusted. "
        "Sign in again; if it goes on, tell an admin."
    ),
    "email_unverified": (
        "Your identity provider does not confirm that the email address of your account is "
        "verified, so it cannot sign you in here. Ask IT to verify it."
    ),
    "no_email": "Your identity provider did not give a usable email address for your account.",
    "unmapped": (
        "Your account at the identity provider is in none of the groups that may use this "
        "dashboard, so you cannot sign in. If you should, ask IT to add you to one."
    ),
    "disabled": "Your account on this dashboard is disabled. Ask an admin to enable it.",
    "other_identity": (
        "An account with your email address belongs to another identity at the identity "
        "provider, so you cannot sign in as it. Ask an admin."
    ),
}


class Refusal(Exception):
    """A sign-in through the provider that was refused (recorded already); ``message`` says
    why to the person, ``status`` is the HTTP status of the page that says it."""

    def __init__(self, reason: str, status: int, message: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Admission:
    """A sign-in the provider vouched for and the rules let in: ``second_step`` when the
    dashboard's own second step must still follow; ``logout_hint`` for the session
    (:data:`SIGNED_IN_WITH`)."""

    user: User
    second_step: bool
    logout_hint: str


def init_app(app: Flask) -> None:
    """Register the provider with authlib when single sign-on is configured. Nothing is
    fetched here: discovery happens at the first sign-in (and is retried after a failure)."""
    settings: SingleSignOn | None = app.config.get("OIDC")
    if settings is None:
        return
    oauth = OAuth(app)  # one registry per application, in app.extensions
    oauth.register(
        CLIENT,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=settings.discovery_url,
        client_kwargs={
            "scope": " ".join(settings.scopes),
            "code_challenge_method": "S256",
            "default_timeout": TIMEOUT_SECONDS,
        },
    )


def configured() -> bool:
    return current_app.config.get("OIDC") is not None


def _settings() -> SingleSignOn:
    settings: SingleSignOn | None = current_app.config.get("OIDC")
    if settings is None:
        raise LookupError("single sign-on is not configured")
    return settings


def _client() -> Any:
    return current_app.extensions["authlib.integrations.flask_client"].create_client(CLIENT)


def _metadata() -> Mapping[str, Any]:
    """The provider's discovery document, fetched once per process; its ``issuer`` must be
    the configured one (OpenID Connect Discovery 4.3), or its tokens are not trusted."""
    metadata = _client().load_server_metadata()
    if metadata.get("issuer") != _settings().issuer:
        raise RuntimeError(f"the discovery document names the issuer {metadata.get('issuer')!r}")
    return metadata


def authorization_redirect(redirect_uri: str) -> Response:
    """The redirect to the provider's sign-in (its ``state``, ``nonce`` and PKCE verifier kept
    in the session for the callback). Raises :class:`Refusal` when the provider is
    unreachable."""
    # One sign-in in flight per browser: authlib keeps each one's state in the session under
    # "_state_<name>_<state>" until it is used or an hour has passed, and a cookie that grows
    # with every abandoned attempt would soon pass the 4 KB browsers keep.
    for key in [key for key in session if key.startswith(f"_state_{CLIENT}_")]:
        session.pop(key)
    try:
        _metadata()
        response: Response = _client().authorize_redirect(redirect_uri)
    except UNREACHABLE as error:
        _refuse("unreachable", 502, problem=_problem(error))
    return response


def complete() -> Admission:
    """Finish the sign-in the provider sent the browser back from (this request is the
    callback): check the answer, then the rules (module docstring). Raises
    :class:`Refusal`, after recording it."""
    settings = _settings()
    client = _client()
    error = request.args.get("error")
    if error is not None:
        client.framework.clear_state_data(session, request.args.get("state"))
        # Shown on the page: an OAuth error code, never free text someone put in a link.
        error = error if re.fullmatch(r"[a-z_]{1,40}", error) else "an unknown error"
        if error in PERSON_DECLINED:
            _refuse("declined", 403, error=error)
        _refuse("provider_error", 502, error=error)
    try:
        token = client.authorize_access_token(
            claims_options={
                # authlib checks the audience only when told to, and the issuer only by
                # default: both are essential here.
                "iss": {"essential": True, "value": settings.issuer},
                "aud": {"essential": True, "value": settings.client_id},
            },
            leeway=LEEWAY_SECONDS,
        )
    except MismatchingStateError:
        _refuse("state", 400)
    except JoseError as problem:  # signature, audience, issuer, expiry, nonce, format
        _refuse("token_invalid", 403, problem=_problem(problem))
    except OAuthError as problem:  # the token endpoint refused the code
        _refuse("provider_error", 502, error=str(problem.error or "token refused")[:64])
    except UNREACHABLE as problem:
        _refuse("unreachable", 502, problem=_problem(problem))
    claims = token.get("userinfo")
    if not claims or not token.get("id_token"):
        _refuse("token_invalid", 403, problem="no ID token")
    hint = token["id_token"] if len(token["id_token"]) <= ID_TOKEN_HINT_LIMIT else ""
    user, second_step = _admit(dict(claims), settings)
    return Admission(user=user, second_step=second_step, logout_hint=hint)


def _admit(claims: dict[str, Any], settings: SingleSignOn) -> tuple[User, bool]:
    """Apply the rules to verified claims; the user let in, and whether the dashboard's
    second step must follow. Raises :class:`Refusal`."""
    typed = str(claims.get("email") or "")[:254]
    if claims.get(settings.email_verified_claim) is not True:
        _refuse("email_unverified", 403, email=typed)
    try:
        email = emails.normalise(typed)
    except emails.InvalidEmail:
        _refuse("no_email", 403, email=typed)
    issuer, subject = settings.issuer, str(claims["sub"])[:255]
    role = settings.role_for(claims)
    mfa = settings.asserts_mfa(claims)
    refusal: Refusal | None = None
    with write_transaction(audit.CHAIN_LOCK, users.USERS_LOCK):
        user = _linked_to(issuer, subject) or users.find_by_email(email)
        if user is None:
            if role is None:
                refusal = _refused("unmapped", 403, email=email)
            else:
                user = _create(email, role, _name(claims), issuer, subject)
        elif user.sso_subject is not None and (user.sso_issuer, user.sso_subject) != (
            issuer,
            subject,
        ):
            refusal = _refused("other_identity", 403, user=user, email=email)
        elif not user.active:
            refusal = _refused("disabled", 403, user=user)
        elif role is None:
            user.session_version = new_session_version()  # its sessions end
            refusal = _refused("unmapped", 403, user=user, sessions_ended=True)
        else:
            if user.sso_subject is None:
                user.sso_issuer, user.sso_subject = issuer, subject
                audit.record("sso.link", user, target=user.email, issuer=issuer)
            if user.role != role:
                old, user.role = user.role, role
                user.session_version = new_session_version()  # sessions with the old role end
                audit.record("sso.role_change", ACTOR, target=user.email, old=old, new=role)
        second_step = user is not None and _second_step_follows(user, mfa)
        if refusal is None and user is not None and not second_step:
            user.last_login_at = utcnow()
            audit.record("auth.success", user, target=user.email, step="single_sign_on", mfa=mfa)
    if refusal is not None or user is None:
        raise refusal or LookupError("no user")
    if not second_step:  # else the second step counts the sign-in, as after a password
        log.info("auth.success", extra={"user_id": user.id, "step": "single_sign_on"})
        metrics.sign_in("success")
    return user, second_step


def _second_step_follows(user: User, mfa: bool) -> bool:
    """The dashboard's own second step follows where the account has one, unless the
    provider's multi-factor authentication is trusted, asserted, and enough for this user
    (not one who must use a passkey)."""
    return user.two_step_enabled and (not mfa or two_step.passkey_required(user))


def _linked_to(issuer: str, subject: str) -> User | None:
    return db.session.scalar(
        select(User).where(User.sso_issuer == issuer, User.sso_subject == subject)
    )


def _create(email: str, role: str, name: str, issuer: str, subject: str) -> User:
    """The account of a first sign-in (in the caller's transaction). Its password is the hash
    of a random one nobody is told: it signs in through the provider, or after an admin
    gives it a one-time password (the break-glass way)."""
    user = User(
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(secrets.token_urlsafe(32)),
        sso_issuer=issuer,
        sso_subject=subject,
    )
    db.session.add(user)
    db.session.flush()
    audit.record("sso.account_create", ACTOR, target=email, role=role, issuer=issuer)
    return user


def _name(claims: Mapping[str, Any]) -> str:
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [claims.get("given_name"), claims.get("family_name")]
        name = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    return " ".join(name.split())[:120]


def _refused(
    reason: str,
    status: int,
    *,
    user: User | None = None,
    email: str = "",
    **details: Any,
) -> Refusal:
    """Record and log a refusal (in the caller's transaction holding audit.CHAIN_LOCK);
    the exception to raise once that transaction is committed."""
    target = user.email if user is not None else ""
    if user is None and email:
        details["email"] = email
    audit.record_refusal(
        "sso.refused",
        user if user is not None else ANONYMOUS,
        target=target,
        same_as=None if target else f"sso {reason} {email}",
        reason=reason,
        **details,
    )
    log.warning(
        "auth.failure",
        extra={
            "step": "single_sign_on",
            "reason": reason,
            "user_id": user.id if user is not None else None,
            "ip": request.remote_addr,
            **{k: v for k, v in details.items() if k in ("error", "problem")},
        },
    )
    metrics.sign_in("failure")
    return Refusal(reason, status, MESSAGES[reason].format(error=details.get("error", "")))


def _refuse(reason: str, status: int, **details: Any) -> NoReturn:
    with write_transaction(audit.CHAIN_LOCK):
        refusal = _refused(reason, status, **details)
    raise refusal


def _problem(error: Exception) -> str:
    """What went wrong, for the log and the audit details: the kind of error and its short
    description, never a token."""
    description = getattr(error, "description", None) or getattr(error, "error", None) or ""
    return f"{type(error).__name__}: {description}"[:120]


def end_session_url(logout_hint: str, post_logout_redirect_uri: str) -> str | None:
    """Where to send the browser to end the session at the provider too (OpenID Connect
    RP-Initiated Logout), or None when the provider offers no such endpoint or cannot be
    reached (the dashboard's own session is over either way)."""
    try:
        metadata = _metadata()
        if not metadata.get("end_session_endpoint"):
            return None
        created = _client().create_logout_url(
            post_logout_redirect_uri=post_logout_redirect_uri,
            id_token_hint=logout_hint or None,
            client_id=_settings().client_id,
        )
    except UNREACHABLE as error:
        log.warning("sso.logout_unreachable", extra={"problem": _problem(error)})
        return None
    return str(created["url"])

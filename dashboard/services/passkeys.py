"""Passkeys (WebAuthn): adding, removing and using them, with py_webauthn doing every check of
the ceremonies (no WebAuthn crypto of our own).

Who the relying party is comes from the request (its host, after ProxyFix), and must be one
of ``DASHBOARD_TRUSTED_HOSTS`` when that is set: a passkey is bound to that name and can be
used nowhere else, which is what makes it phishing resistant. A challenge is kept in the
signed session cookie for one ceremony of one purpose, for :data:`CHALLENGE_SECONDS`, and is
taken out (popped) before it is checked: it is good for a single answer.

The sign counter an authenticator reports must grow (when it is not zero): one that does not
may be a cloned authenticator, so the answer is refused and audited. That check runs after the
signature was verified, so that only a genuine key can raise the alarm.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app, request, session
from sqlalchemy import select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..database import write_transaction
from ..domain.text import has_visible_text
from ..extensions import db
from ..models import Passkey, User, utcnow
from . import audit

log = logging.getLogger(__name__)

RP_NAME = "RM SMS Dashboard"
#: How long a challenge may be answered (the browser is told the same, in milliseconds).
CHALLENGE_SECONDS = 3 * 60
MAX_NAME_LENGTH = 64
#: The purposes a challenge is issued for: one purpose's challenge never answers another's.
PURPOSES = ("add", "sign_in", "second_step", "confirm")
_SESSION_KEY = "passkey_challenge"
_TRANSPORTS = {transport.value for transport in AuthenticatorTransport}

REFUSED = "That passkey could not be used. Try again, or sign in another way."
EXPIRED = "That took too long, or the page was used twice. Try again."
UNKNOWN_PASSKEY = (
    "This passkey is not registered here (it may have been removed). Sign in another way."
)
NOT_YOURS = "That passkey is not yours, or it was removed already."
CLONED = (
    "That passkey was refused: its counter went backwards, which a copied key would do. "
    "Tell an admin."
)


class PasskeyError(ValueError):
    """A passkey ceremony or change that cannot go ahead; the message says why, for a person.
    ``reason`` is the short word the audit log keeps."""

    def __init__(self, message: str, reason: str = "refused") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the host name the passkey is bound to
    origin: str  # the one origin a ceremony may come from


def relying_party() -> RelyingParty:
    """The relying party of this request: its host name (one of TRUSTED_HOSTS when that is
    set) and origin. Raises :class:`PasskeyError` where passkeys cannot work: a host that is
    an IP address (WebAuthn needs a name, such as ``localhost``)."""
    host = request.host.lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    trusted = current_app.config.get("TRUSTED_HOSTS")
    if trusted and name not in trusted:
        raise PasskeyError("Passkeys work only at the dashboard's own address.", "wrong host")
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return RelyingParty(id=name, origin=f"{request.scheme}://{host}")
    raise PasskeyError(
        "Passkeys need the dashboard opened by its name (such as localhost), not an IP address.",
        "wrong host",
    )


# -- Challenges ---------------------------------------------------------------------------


def _remember(purpose: str, challenge: bytes, **extra: Any) -> None:
    session[_SESSION_KEY] = {
        "purpose": purpose,
        "challenge": _b64(challenge),
        "at": time.time(),
        **extra,
    }


def take_challenge(purpose: str, user_id: int | None = None) -> dict[str, Any]:
    """The challenge issued to this session for ``purpose`` (and ``user_id``), taken out of
    the session (single use); :class:`PasskeyError` when there is none, it was for something
    else or someone else, or it is older than :data:`CHALLENGE_SECONDS`."""
    pending = session.pop(_SESSION_KEY, None)
    if (
        not isinstance(pending, dict)
        or pending.get("purpose") != purpose
        or pending.get("user") != user_id
        or time.time() - float(pending.get("at", 0)) > CHALLENGE_SECONDS
    ):
        raise PasskeyError(EXPIRED, "expired challenge")
    pending["challenge"] = _unb64(str(pending["challenge"]))
    return pending


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- Adding and removing ------------------------------------------------------------------


def check_name(user: User, name: str) -> str:
    """The passkey name, trimmed: required, visible, at most 64 characters, new for ``user``."""
    name = " ".join(name.split())
    if not has_visible_text(name):
        raise PasskeyError("Give the passkey a name, such as “Work laptop”.", "no name")
    if len(name) > MAX_NAME_LENGTH:
        raise PasskeyError(f"Use at most {MAX_NAME_LENGTH} characters for the name.", "long name")
    if any(passkey.name.casefold() == name.casefold() for passkey in user.passkeys):
        raise PasskeyError("You already have a passkey of that name: choose another.", "name")
    return name


def registration_options(user: User, name: str) -> str:
    """The options (JSON) for ``navigator.credentials.create()`` to add a passkey named
    ``name``: a discoverable credential (resident key preferred), bound to this relying party,
    excluding the user's passkeys already registered."""
    name = check_name(user, name)
    party = relying_party()
    handle = user.webauthn_user_handle or secrets.token_bytes(32)
    options = generate_registration_options(
        rp_id=party.id,
        rp_name=RP_NAME,
        user_name=user.email,
        user_id=handle,
        user_display_name=user.display_name,
        timeout=CHALLENGE_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(user),
    )
    _remember("add", options.challenge, name=name, handle=_b64(handle), user=user.id)
    return options_to_json(options)


def add(user: User, credential: Any) -> Passkey:
    """Verify the browser's answer to :func:`registration_options` and store the passkey
    (audited). Raises :class:`PasskeyError`, changing nothing, when it does not verify."""
    pending = take_challenge("add", user.id)
    party = relying_party()
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=pending["challenge"],
            expected_rp_id=party.id,
            expected_origin=party.origin,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        log.info("passkey.add_refused", extra={"user_id": user.id, "why": str(error)})
        raise PasskeyError(REFUSED) from None
    response = credential.get("response") if isinstance(credential, dict) else None
    transports = response.get("transports") if isinstance(response, dict) else None
    if not isinstance(transports, list):
        transports = []
    with write_transaction(audit.CHAIN_LOCK, f"passkeys:{user.id}"):
        user = db.session.get(User, user.id, populate_existing=True) or user
        name = check_name(user, str(pending.get("name", "")))
        if _find(verified.credential_id) is not None:
            raise PasskeyError("That passkey is registered already.", "duplicate")
        handle = _unb64(str(pending["handle"]))
        if user.webauthn_user_handle is None:
            user.webauthn_user_handle = handle
        elif user.webauthn_user_handle != handle:  # another first passkey was added meanwhile
            raise PasskeyError(EXPIRED, "expired challenge")
        passkey = Passkey(
            user=user,
            name=name,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=[t for t in transports if t in _TRANSPORTS] or None,
            user_verified=verified.user_verified,
            backed_up=verified.credential_backed_up,
        )
        db.session.add(passkey)
        db.session.flush()
        audit.record("passkey.add", user, target=user.email, name=name)
    return passkey


def remove(user: User, passkey_id: int, actor: audit.Actor) -> str:
    """Remove one of ``user``'s passkeys (audited); its name. :class:`PasskeyError` when
    ``user`` has no such passkey."""
    with write_transaction(audit.CHAIN_LOCK, f"passkeys:{user.id}"):
        passkey = db.session.get(Passkey, passkey_id)
        if passkey is None or passkey.user_id != user.id:
            raise PasskeyError(NOT_YOURS, "gone")
        name = passkey.name
        db.session.delete(passkey)
        audit.record("passkey.remove", actor, target=user.email, name=name)
    db.session.expire(user, ["passkeys"])
    return name


def remove_all(user: User, actor: audit.Actor) -> int:
    """Remove every passkey of ``user`` (an admin who lost theirs; audited): how many."""
    with write_transaction(audit.CHAIN_LOCK, f"passkeys:{user.id}"):
        found = list(db.session.scalars(select(Passkey).where(Passkey.user_id == user.id)))
        for passkey in found:
            db.session.delete(passkey)
        audit.record("passkey.remove_all", actor, target=user.email, count=len(found))
    db.session.expire(user, ["passkeys"])
    return len(found)


# -- Using a passkey ----------------------------------------------------------------------


def authentication_options(purpose: str, user: User | None = None) -> str:
    """The options (JSON) for ``navigator.credentials.get()``: for ``user``'s own passkeys
    (second step, confirming it is them), or, without a user, any discoverable passkey of
    this relying party (signing in without a password: user verification required)."""
    if purpose not in PURPOSES or purpose == "add":
        raise PasskeyError(REFUSED, "purpose")
    party = relying_party()
    options = generate_authentication_options(
        rp_id=party.id,
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=_descriptors(user) if user is not None else None,
        user_verification=UserVerificationRequirement.REQUIRED
        if purpose in ("sign_in", "confirm")
        else UserVerificationRequirement.PREFERRED,
    )
    _remember(purpose, options.challenge, user=user.id if user is not None else None)
    return options_to_json(options)


def identify(credential: Any) -> Passkey:
    """The stored passkey an answer names (by credential id, and by user handle where the
    answer gives one), before it is verified; :class:`PasskeyError` for one we do not have."""
    try:
        parsed = parse_authentication_credential_json(
            credential if isinstance(credential, (str, dict)) else json.dumps(credential)
        )
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise PasskeyError(REFUSED, "malformed") from None
    passkey = _find(parsed.raw_id)
    handle = parsed.response.user_handle
    if passkey is None or (handle and handle != passkey.user.webauthn_user_handle):
        raise PasskeyError(UNKNOWN_PASSKEY, "unknown passkey")
    return passkey


def authenticate(pending: dict[str, Any], credential: Any, passkey: Passkey) -> Passkey:
    """Verify the browser's answer to the challenge ``pending`` (:func:`take_challenge`) with
    the stored ``passkey`` (:func:`identify`), within the caller's write transaction: the sign
    counter and the last use are updated. Raises :class:`PasskeyError` (``reason`` "cloned"
    for a counter that did not grow, which the caller audits)."""
    purpose = pending["purpose"]
    party = relying_party()
    # The session is a signed cookie, so taking the challenge out of it does not stop a copy
    # of the older cookie from bringing it back. A challenge issued before the passkey's last
    # use has been answered already (or lost the race to a newer one): refused, so that an
    # answer cannot be replayed even by a passkey whose counter stays at zero (most synced
    # passkeys' does).
    issued = datetime.fromtimestamp(float(pending["at"]), UTC)
    if passkey.last_used_at is not None and issued <= passkey.last_used_at:
        raise PasskeyError(EXPIRED, "used challenge")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=pending["challenge"],
            expected_rp_id=party.id,
            expected_origin=party.origin,
            credential_public_key=passkey.public_key,
            # The counter is checked below, once the signature is known to be genuine.
            credential_current_sign_count=0,
            require_user_verification=purpose in ("sign_in", "confirm"),
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        log.info("passkey.refused", extra={"passkey_id": passkey.id, "why": str(error)})
        raise PasskeyError(REFUSED, "did not verify") from None
    grew = verified.new_sign_count > passkey.sign_count
    if (verified.new_sign_count or passkey.sign_count) and not grew:
        raise PasskeyError(CLONED, "cloned")
    passkey.sign_count = verified.new_sign_count
    passkey.backed_up = verified.credential_backed_up
    passkey.last_used_at = utcnow()
    return passkey


def _find(credential_id: bytes) -> Passkey | None:
    return db.session.scalar(select(Passkey).where(Passkey.credential_id == credential_id))


def _descriptors(user: User | None) -> list[PublicKeyCredentialDescriptor]:
    if user is None:
        return []
    return [
        PublicKeyCredentialDescriptor(
            id=passkey.credential_id,
            transports=[AuthenticatorTransport(t) for t in passkey.transports or []] or None,
        )
        for passkey in user.passkeys
    ]

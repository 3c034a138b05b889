"""Two-step sign-in: TOTP (RFC 6238) with enrolment by QR code, and single-use recovery codes.

A set-up belongs to the session that started it: that session keeps a keyed digest of the new
secret (:func:`enrolment_marker`), and only a session holding it is shown the secret or may
confirm it. Another session of the same user (a stolen one, say) is told that the set-up was
started elsewhere, and may only start a new one, which the first session then loses.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets

import pyotp
import segno

from ..domain import capabilities
from ..encryption import derived_key, secret_box
from ..models import User, utcnow
from . import audit, runtime_settings

ISSUER = "RM SMS Dashboard"
RECOVERY_CODES = 10
VALID_WINDOW = 1  # accept the previous and the next 30-second step, for clock drift
STARTED_ELSEWHERE = (
    "This set-up was started in another browser or session, so its code is not shown here. "
    "Start it again here to get a new code."
)


class TwoStepError(ValueError):
    """A two-step change that cannot be made; the message says why, for a person."""


def secret_slot(user: User) -> str:
    return f"users/{user.id}/totp_secret"


def secret_of(user: User) -> str | None:
    if user.totp_secret_encrypted is None:
        return None
    return secret_box().decrypt(user.totp_secret_encrypted, slot=secret_slot(user)).decode()


def begin_enrolment(user: User) -> str:
    """Give ``user`` a new, not yet active secret (in the caller's transaction); return it."""
    if user.totp_enabled:
        raise TwoStepError("Two-step sign-in is already on for this account.")
    secret = pyotp.random_base32()
    user.totp_secret_encrypted = secret_box().encrypt(secret.encode(), slot=secret_slot(user))
    return secret


def enrolment_marker(user: User, secret: str) -> str:
    """What the session that started a set-up keeps to prove it: an HMAC of the new secret
    (the session cookie is signed, not encrypted, so it never holds the secret itself)."""
    message = f"{user.id}:{secret}".encode()
    return hmac.new(derived_key("two-step enrolment"), message, hashlib.sha256).hexdigest()


def enrolment_pending(user: User) -> bool:
    """Whether a set-up was started and not yet confirmed (by any session)."""
    return user.totp_secret_encrypted is not None and not user.totp_enabled


def pending_secret(user: User, marker: str | None) -> str | None:
    """The secret of the set-up in progress, for the session whose ``marker`` names it; None
    for any other session, and when no set-up is in progress."""
    secret = secret_of(user) if enrolment_pending(user) else None
    if secret is None or not marker:
        return None
    return secret if hmac.compare_digest(marker, enrolment_marker(user, secret)) else None


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an SVG document (drawn here: nothing leaves our origin)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer, kind="svg", scale=5, border=2, light="#fff", xmldecl=False
    )
    return buffer.getvalue().decode()


def confirm_enrolment(user: User, code: str, *, marker: str | None = None) -> list[str]:
    """Turn two-step on once ``code`` proves the authenticator app has the secret; return the
    new recovery codes (shown once; only their keyed hashes are kept). With ``marker`` (a
    session's), only the set-up that session started is confirmed."""
    secret = secret_of(user)
    if secret is None or user.totp_enabled:
        raise TwoStepError("Start the set-up again: there is no code to confirm.")
    if marker is not None and pending_secret(user, marker) is None:
        raise TwoStepError(STARTED_ELSEWHERE)
    if not _accept_totp(user, secret, code):
        raise TwoStepError("That code is not right. Check the time on your phone and try again.")
    user.two_step_enabled_at = utcnow()
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    user.recovery_code_hashes = [_recovery_hash(user, c) for c in codes]
    audit.record("two_step.enable", user, target=user.email)
    return codes


def verify(user: User, code: str) -> str | None:
    """Check a sign-in code: "totp" or "recovery" for what matched (a recovery code is used up,
    a TOTP step cannot be replayed), None when nothing did. The caller commits."""
    secret = secret_of(user)
    if secret is None or not user.totp_enabled:  # a set-up not yet confirmed proves nothing
        return None
    if _accept_totp(user, secret, code):
        return "totp"
    wanted = _recovery_hash(user, code)
    remaining = list(user.recovery_code_hashes or [])
    for stored in remaining:
        if hmac.compare_digest(stored, wanted):
            remaining.remove(stored)
            user.recovery_code_hashes = remaining
            audit.record(
                "two_step.recovery_code_used", user, target=user.email, left=len(remaining)
            )
            return "recovery"
    return None


def reset(user: User) -> None:
    """Turn two-step off (the user enrols again at next sign-in where it is required)."""
    user.totp_secret_encrypted = None
    user.two_step_enabled_at = None
    user.totp_last_step = None
    user.recovery_code_hashes = None


def _accept_totp(user: User, secret: str, code: str) -> bool:
    digits = "".join(ch for ch in code if ch.isdigit())
    if len(digits) != 6:
        return False
    totp = pyotp.TOTP(secret)
    now = utcnow()
    current = totp.timecode(now)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        step = current + offset
        if step <= (user.totp_last_step or -1):
            continue  # this step, or an earlier one, was already used
        if hmac.compare_digest(totp.generate_otp(step), digits):
            user.totp_last_step = step
            return True
    return False


def _new_recovery_code() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _recovery_hash(user: User, code: str) -> str:
    normalised = "".join(ch for ch in code.lower() if ch.isalnum())
    message = f"{user.id}:{normalised}".encode()
    return hmac.new(derived_key("recovery codes"), message, hashlib.sha256).hexdigest()


def passkey_required(user: User) -> bool:
    """Whether ``user``'s second step must be a passkey (the policy "admins must use a
    passkey"): then a TOTP code, or an identity provider's own second factor, is not enough.
    An admin who has no passkey yet signs in as before and is then sent to add one."""
    return user.role == capabilities.ADMIN and runtime_settings.passkeys_for_admins()

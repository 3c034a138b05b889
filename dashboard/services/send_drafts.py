"""What an agent had typed into the send form when it could not be taken (their session had
ended, or the form's security token had expired), kept so that they find it again after
signing in, and nothing is sent until they press "Send code" once more.

The draft travels in the address the sign-in returns to (``/send?draft=…``), sealed with
AES-256-GCM (encryption.secret_box): it survives the new session that signing in starts
(session fixation protection stays whole, nothing carries over in the session), it is
unreadable in access logs and browser history, lives ``MAX_AGE`` at most, and opens only for
the user who typed it. It never holds a password, a code or the
form's idempotency key (the restored form gets a new one).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..encryption import DecryptionError, secret_box

#: The send form's fields a draft keeps (sms.forms.SendCodeForm), with the most of each kept.
FIELDS = {"country_code": 8, "phone_number": 32, "reason": 200, "template": 64, "message": 1000}
MAX_AGE_SECONDS = 15 * 60
#: The longest sealed draft: it travels URL-encoded inside the sign-in's ``next``, and the whole
#: request line must stay within gunicorn's 4,094 bytes (limit_request_line).
MAX_SEALED_CHARACTERS = 2500
SLOT = "send form draft"

#: Why the form came back, and what the agent is told then.
SIGNED_OUT = "signed_out"
FORM_EXPIRED = "form_expired"
NOTICES = {
    SIGNED_OUT: "Your session had expired, so nothing was sent: check what you typed and press "
    "Send code.",
    FORM_EXPIRED: "The form had expired, so nothing was sent: check what you typed and press "
    "Send code.",
}
#: Said on the sign-in page on the way.
SIGN_IN_NOTICE = (
    "Your session expired, so nothing was sent: sign in to get back to the send form as you "
    "left it."
)


@dataclass(frozen=True)
class Draft:
    values: dict[str, str]
    why: str  # SIGNED_OUT or FORM_EXPIRED

    @property
    def notice(self) -> str:
        return NOTICES[self.why]


def seal(form: Mapping[str, str], *, user_id: int, why: str) -> str:
    """The sealed draft of the send form ``form`` (posted values), for ``user_id`` alone."""
    values = {name: str(form.get(name, ""))[:longest] for name, longest in FIELDS.items()}
    sealed = _sealed(values, user_id, why)
    if len(sealed) > MAX_SEALED_CHARACTERS:  # a long reworded message: the template's text
        sealed = _sealed({**values, "message": ""}, user_id, why)  # comes back instead
    return sealed


def _sealed(values: dict[str, str], user_id: int, why: str) -> str:
    payload = {"values": values, "user": user_id, "at": time.time(), "why": why}
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return secret_box().encrypt(text.encode(), slot=SLOT)


def unseal(token: str | None, *, user_id: int) -> Draft | None:
    """The draft in ``token`` for ``user_id``; None when there is none, it was tampered with,
    is older than ``MAX_AGE_SECONDS``, or was typed by someone else."""
    if not token:
        return None
    try:
        payload = json.loads(secret_box().decrypt(token, slot=SLOT))
        age = time.time() - float(payload["at"])
        values = payload["values"]
        why = payload["why"]
        owner = payload["user"]
    except (DecryptionError, ValueError, KeyError, TypeError):
        return None
    if not 0 <= age <= MAX_AGE_SECONDS or why not in NOTICES:
        return None
    if owner != user_id:  # a draft is always someone's: one without would open for anyone
        return None
    if not isinstance(values, dict):
        return None
    kept = {name: str(values.get(name, ""))[:longest] for name, longest in FIELDS.items()}
    return Draft(kept, why)

"""The sentences of single sign-on's events (issue 19)."""

from __future__ import annotations

from .core import Event, Part, Sentence, _actor, _possessive, _user, says

#: Why a sign-in through the identity provider was refused, in words.
_REASONS = {
    "state": "it did not match a sign-in started in that browser",
    "declined": "the identity provider did not sign them in",
    "provider_error": "the identity provider answered with an error",
    "unreachable": "the identity provider could not be reached",
    "token_invalid": "the identity provider's answer could not be verified",  # nosec B105
    "email_unverified": "the identity provider does not confirm the email is verified",
    "no_email": "the identity provider gave no usable email",
    "unmapped": "they are in none of the groups that may sign in",
    "disabled": "the account is disabled",
    "other_identity": "the email belongs to an account of another identity",
}


@says("sso.account_create", "Account created at first single sign-on")
def _account_create(event: Event) -> Sentence:
    role = event.details.get("role")
    return (
        _possessive(event),
        " account was created at their first single sign-on",
        f", as {role}" if role else "",
        ".",
    )


@says("sso.link", "Account linked to single sign-on")
def _link(event: Event) -> Sentence:
    return (
        _actor(event),
        " signed in with single sign-on for the first time: the account is now tied to",
        " that identity.",
    )


@says("sso.role_change", "Role changed by single sign-on")
def _role_change(event: Event) -> Sentence:
    old, new = event.details.get("old", "?"), event.details.get("new", "?")
    return (
        _possessive(event),
        f" role changed from {old} to {new}, following their groups at the identity provider.",
    )


@says("sso.refused", "Single sign-on refused")
def _refused(event: Event) -> Sentence:
    reason = str(event.details.get("reason", ""))
    why = _REASONS.get(reason, "for a reason not recorded")
    ended = "; their sessions were ended" if event.details.get("sessions_ended") else ""
    if event.target:
        who: tuple[Part, ...] = (" as ", _user(event))
    elif event.details.get("email"):
        who = (f" as {event.details['email']} (no account)",)
    else:
        who = ()
    return ("A single sign-on", *who, f" was refused: {why}{ended}.")

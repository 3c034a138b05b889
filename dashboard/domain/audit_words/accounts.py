"""Sentences for accounts and signing in."""

from __future__ import annotations

from datetime import datetime

from .core import (
    Event,
    Sentence,
    _actor,
    _humane,
    _possessive,
    _user,
    _without_ids,
    says,
)

# -- Users -----------------------------------------------------------------------------------


@says("user.create", "Account created")
def _user_create(event: Event) -> Sentence:
    role = event.details.get("role")
    return (
        _actor(event),
        " created an account for ",
        _user(event),
        f" ({role})" if role else "",
        ".",
    )


@says("user.password_change", "Password changed")
def _password_change(event: Event) -> Sentence:
    return (_actor(event), " changed their password.")


@says("user.password_reset", "One-time password given")
def _password_reset(event: Event) -> Sentence:
    return (_actor(event), " gave ", _user(event), " a one-time password.")


@says("user.role_change", "Role changed")
def _role_change(event: Event) -> Sentence:
    old, new = event.details["old"], event.details["new"]
    return (_actor(event), " changed ", _possessive(event), f" role from {old} to {new}.")


@says("user.enable", "Account enabled")
def _enable(event: Event) -> Sentence:
    return (_actor(event), " enabled ", _possessive(event), " account.")


@says("user.disable", "Account disabled")
def _disable(event: Event) -> Sentence:
    return (_actor(event), " disabled ", _possessive(event), " account.")


@says("user.two_step_reset", "Two-step sign-in reset")
def _two_step_reset(event: Event) -> Sentence:
    return (_actor(event), " turned off ", _possessive(event), " two-step sign-in.")


@says("user.sign_out_everywhere", "Signed out everywhere")
def _sign_out_everywhere(event: Event) -> Sentence:
    return (_actor(event), " signed ", _user(event), " out on every device.")


# -- Signing in ------------------------------------------------------------------------------

#: What failed, by the step that failed (words, not secrets: hence the nosec).
_STEPS = {
    "password": "wrong password",  # nosec B105
    "two_step": "wrong two-step code",
    "password_change": "wrong current password, when changing it",  # nosec B105
    "passkey": "passkey refused",
}


def _step(event: Event) -> str:
    step = str(event.details.get("step", ""))
    return _STEPS.get(step, f"at {_humane(step) or 'a step'}")


_SIGNED_IN_WITH = {
    "two_step": " with a two-step code",
    "passkey": " with a passkey",
    "single_sign_on": " with single sign-on",
}


@says("auth.success", "Signed in")
def _signed_in(event: Event) -> Sentence:
    how = _SIGNED_IN_WITH.get(str(event.details.get("step")), "")
    if how and event.details.get("first_step") == "single_sign_on":  # then a second step
        how = " with single sign-on and" + how.removeprefix(" with")
    return (_actor(event), f" signed in{how}.")


@says("auth.sign_out", "Signed out")
def _signed_out(event: Event) -> Sentence:
    return (_actor(event), " signed out.")


@says("auth.failure", "Sign-in failed")
def _failure(event: Event) -> Sentence:
    return ("A sign-in as ", _user(event), f" failed: {_step(event)}.")


@says("auth.lock", "Account locked")
def _lock(event: Event) -> Sentence:
    until = event.details.get("until")
    when = f" until {event.time(datetime.fromisoformat(until))}" if until else ""
    return ("Sign-in as ", _user(event), f" was locked{when} after too many failures.")


@says("auth.refused_locked", "Sign-in refused: locked")
def _refused_locked(event: Event) -> Sentence:
    return ("A sign-in as ", _user(event), " was refused: it is locked.")


@says("auth.refused_expired", "Sign-in refused: password expired")
def _refused_expired(event: Event) -> Sentence:
    return ("A sign-in as ", _user(event), " was refused: the one-time password had expired.")


@says("two_step.enable", "Two-step sign-in turned on")
def _two_step_enable(event: Event) -> Sentence:
    return (_actor(event), " turned on two-step sign-in.")


@says("two_step.recovery_code_used", "Recovery code used")
def _recovery_code(event: Event) -> Sentence:
    left = event.details.get("left")
    more = f" ({left} left)" if left is not None else ""
    return (_actor(event), f" signed in with a recovery code{more}.")


@says("access.denied", "Access refused")
def _access_denied(event: Event) -> Sentence:
    method = str(event.details.get("method", "GET"))
    doing = "open" if method in ("GET", "HEAD") else "send a form to"
    return (_actor(event), f" was refused when trying to {doing} {_without_ids(event.target)}.")

"""The sentences of passkeys' events (issue 19)."""

from __future__ import annotations

from .core import Event, Sentence, _actor, _possessive, _user, says


def _named(event: Event) -> str:
    name = event.details.get("name")
    return f" “{name}”" if name else ""


@says("passkey.add", "Passkey added")
def _add(event: Event) -> Sentence:
    return (_actor(event), f" added the passkey{_named(event)}.")


@says("passkey.remove", "Passkey removed")
def _remove(event: Event) -> Sentence:
    return (_actor(event), " removed ", _possessive(event), f" passkey{_named(event)}.")


@says("passkey.remove_all", "Passkeys removed")
def _remove_all(event: Event) -> Sentence:
    count = event.details.get("count")
    how_many = f" ({count})" if count is not None else ""
    return (_actor(event), " removed every passkey of ", _user(event), f"{how_many}.")


@says("passkey.cloned", "Passkey refused: possibly copied")
def _cloned(event: Event) -> Sentence:
    return (
        "A sign-in as ",
        _user(event),
        f" with the passkey{_named(event)} was refused: its counter did not grow, as a copied"
        " authenticator's would not.",
    )


@says("auth.refused_passkey_required", "Sign-in refused: passkey required")
def _passkey_required(event: Event) -> Sentence:
    return (
        "A sign-in as ",
        _user(event),
        " was refused: it gave a code from the app, and admins must use a passkey.",
    )

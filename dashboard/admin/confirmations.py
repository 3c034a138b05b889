"""The confirmation step of destructive admin actions: a page (GET, which changes nothing) that
says what will happen, with the button that does it (POST, guarded as before) and a way back.

It works without script and is no way around a fresh sign-in: the POST it sends is the same
guarded request the action always was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import render_template, request

from ..forms import ButtonForm
from ..models import User
from ..services import users


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation page of a user action says: ``question`` names the person
    (``{name}``), ``consequence`` says what follows, ``button`` does it."""

    question: str
    consequence: Callable[[User], str]
    button: str


def _two_step_consequence(user: User) -> str:
    if users.two_step_required(user):
        return "They are signed out everywhere and must set it up again at their next sign-in."
    return (
        "They are signed out everywhere and sign in with their password alone until they set "
        "it up again."
    )


#: The user page's destructive actions, by endpoint (enabling and role changes need none).
USER_ACTIONS = {
    "admin.disable": Confirmation(
        "Disable {name}?",
        lambda user: "They are signed out everywhere and cannot sign in until enabled again.",
        "Disable",
    ),
    "admin.reset_password": Confirmation(
        "Reset the password of {name}?",
        lambda user: (
            "Their password stops working and they are signed out everywhere; you get a "
            "one-time password to give them."
        ),
        "Reset password",
    ),
    "admin.reset_two_step": Confirmation(
        "Turn off two-step sign-in for {name}?", _two_step_consequence, "Turn off two-step"
    ),
    "admin.sign_out_everywhere": Confirmation(
        "Sign {name} out everywhere?",
        lambda user: "Every session of theirs ends, on every device; they may sign in again.",
        "Sign out everywhere",
    ),
}


def confirmation_page(question: str, consequence: str, button: str, *, cancel: str) -> str:
    """The page that asks ``question``; its ``button`` POSTs to this same URL, Cancel goes
    to ``cancel``."""
    return render_template(
        "admin/confirm.html",
        question=question,
        consequence=consequence,
        button_label=button,
        action=request.path,
        cancel=cancel,
        button=ButtonForm(),
    )

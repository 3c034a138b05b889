"""The pieces every sentence of the audit log is made of: events, links, the registry of
sentences by action id, and the fallback for an action without one."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Kinds of :class:`Link`: what its ``key`` finds.
ATTEMPT = "attempt"  # an attempt's public id
USER = "user"  # a user's email
EXPORT = "export"  # an export's audit event id (its manifest)
ENVIRONMENT = "environment"  # "sandbox" or "production" (the provider page)
LIMITS = "limits"
TEMPLATES = "templates"
SETTINGS = "settings"

#: How the command line's actor label (cli.CLI_ACTOR) reads at the start of a sentence.
COMMAND_LINE = "command line"
#: The target of a sign-in refused for an email no account has starts with this
#: (services.sign_in.UNKNOWN_ACCOUNT), followed by a digest of what was typed.
UNKNOWN_ACCOUNT = "unknown account"

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


@dataclass(frozen=True)
class Link:
    """Part of a sentence that names something with a page of its own."""

    kind: str
    key: str
    text: str


Part = str | Link
Sentence = tuple[Part, ...]


def _utc_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class Event:
    """What a sentence is made of, resolved for one viewer by the service
    (services.audit_reading)."""

    action: str
    actor: str  # who did it, as the viewer reads it: a name, an email, "command line"
    actor_key: str = ""  # the actor's email, when the actor is a user (their page)
    target: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    event_id: int = 0
    number: str = ""  # the target attempt's number as the viewer may see it; "" when none
    target_name: str = ""  # the target user's name, when the target is a user
    full_numbers: bool = False  # whether the viewer may see every number in full
    time: Callable[[datetime], str] = _utc_text  # a time in the viewer's zone


Words = Callable[[Event], Sentence]
SENTENCES: dict[str, Words] = {}
#: Each known action id and its name in the action filter ("Number revealed").
ACTIONS: dict[str, str] = {}


def says(action: str, name: str) -> Callable[[Words], Words]:
    """Register the sentence of ``action`` and its ``name`` in the action filter."""

    def register(words: Words) -> Words:
        SENTENCES[action] = words
        ACTIONS[action] = name
        return words

    return register


def sentence(event: Event) -> Sentence:
    """``event`` in words; a sentence of its action's own, or :func:`fallback`."""
    words = SENTENCES.get(event.action, fallback)
    try:
        return words(event)
    except (KeyError, TypeError, ValueError, AttributeError):  # details of an older shape
        return fallback(event)


def action_name(action: str) -> str:
    """How the action filter names ``action``: its registered name, or its id in words
    ("seed.event" → "Seed event")."""
    return ACTIONS.get(action) or _humane(action).capitalize()


def plain(words: Sentence) -> str:
    """A sentence as plain text (links as their text): for tests and titles."""
    return "".join(part if isinstance(part, str) else part.text for part in words)


def fallback(event: Event) -> Sentence:
    """An action with no sentence of its own: who, the action's id in words, the target
    (without UUIDs)."""
    target = _without_ids(event.target)
    return (
        _actor(event),
        f" recorded “{_humane(event.action)}”",
        *((" for ", target) if target else ()),
        ".",
    )


# -- Pieces ----------------------------------------------------------------------------------


def _humane(action: str) -> str:
    return re.sub(r"[._]+", " ", action).strip()


def _without_ids(text: str) -> str:
    return _UUID.sub("…", text).strip()


def is_attempt_id(target: str) -> bool:
    """Whether an event's target names an attempt (by its public id, a UUID)."""
    return bool(_UUID.fullmatch(target))


def _actor(event: Event) -> Part:
    if event.actor_key:
        return Link(USER, event.actor_key, event.actor)
    return _capitalised(event.actor)


def _capitalised(who: str) -> str:
    return "The command line" if who == COMMAND_LINE else who


def _user(event: Event) -> Link | str:
    """The target user, linked."""
    if event.target.startswith(UNKNOWN_ACCOUNT):
        return "an email no account has"
    return Link(USER, event.target, event.target_name or event.target)


def _possessive(event: Event) -> Part:
    user = _user(event)
    if isinstance(user, str):
        return user
    return Link(USER, user.key, f"{user.text}’s")


def _attempt(event: Event) -> Part:
    """The target attempt, named by its number as the viewer may see it."""
    if event.number:
        return Link(ATTEMPT, event.target, event.number)
    return "an attempt that was since deleted"


def _reason(event: Event) -> tuple[str, ...]:
    reason = str(event.details.get("reason") or "").strip()
    return (f": {reason}",) if reason else ()


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def _yes_no(value: Any) -> str:
    return "on" if value is True else "off" if value is False else str(value)

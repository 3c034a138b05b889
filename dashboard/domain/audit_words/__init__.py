"""The audit log in words: one sentence per event, as a person reading the log says it
("Aisyah revealed +60 16-387 7652: ticket 1234"), instead of action ids, JSON and UUIDs.

One function per action id (``@says``); an action without one still reads as a sentence
(:func:`fallback`). A sentence is a tuple of parts: plain text, and :class:`Link` for what has
a page of its own (an attempt, a user, an export's manifest), which the page links when the
viewer may open it. Numbers come already masked for the viewer (the service applies
services.history's rule); the few words that carry digits of their own (an export's number
filter, a code check's partial number) are hidden here unless ``Event.full_numbers``.
"""

from . import accounts, numbers, passkeys, settings, single_sign_on  # noqa: F401  (each registers its sentences)
from .core import (
    ACTIONS,
    ATTEMPT,
    COMMAND_LINE,
    ENVIRONMENT,
    EXPORT,
    LIMITS,
    SETTINGS,
    TEMPLATES,
    UNKNOWN_ACCOUNT,
    USER,
    Event,
    Link,
    Sentence,
    action_name,
    fallback,
    is_attempt_id,
    plain,
    sentence,
)

__all__ = [
    "ACTIONS",
    "ATTEMPT",
    "COMMAND_LINE",
    "ENVIRONMENT",
    "EXPORT",
    "LIMITS",
    "SETTINGS",
    "TEMPLATES",
    "UNKNOWN_ACCOUNT",
    "USER",
    "Event",
    "Link",
    "Sentence",
    "action_name",
    "fallback",
    "is_attempt_id",
    "plain",
    "sentence",
]

"""Sentences for RevenueMonster, limits, settings and templates."""

from __future__ import annotations

from typing import Any

from .core import (
    ENVIRONMENT,
    LIMITS,
    SETTINGS,
    TEMPLATES,
    Event,
    Link,
    Sentence,
    _actor,
    _count,
    _humane,
    _reason,
    _yes_no,
    says,
)

# -- RevenueMonster and settings -------------------------------------------------------------


def _environment(name: str) -> Link:
    return Link(ENVIRONMENT, name, name)


@says("provider.switch", "Environment switched")
def _switch(event: Event) -> Sentence:
    old, new = event.details.get("old"), event.details.get("new") or event.target
    since = f" from {old}" if old and old != new else ""
    return (
        _actor(event),
        f" switched the active environment{since} to ",
        _environment(str(new)),
        *_reason(event),
        ".",
    )


_CREDENTIALS = {  # the names of the credentials, not their values
    "client_id": "client ID",
    "client_secret": "client secret",  # nosec B105
    "private_key": "key",
}


@says("provider.configure", "Credentials changed")
def _configure(event: Event) -> Sentence:
    changed = [_CREDENTIALS.get(c, _humane(c)) for c in event.details.get("changed") or []]
    what = f" ({', '.join(changed)})" if changed else ""
    return (
        _actor(event),
        " changed the RevenueMonster credentials of ",
        _environment(event.target),
        f"{what}.",
    )


@says("provider.test", "Connection tested")
def _test(event: Event) -> Sentence:
    outcome = "it worked" if event.details.get("ok") else "it failed"
    result = str(event.details.get("result") or "").strip()
    said = f" ({result.rstrip('.')})" if result and not event.details.get("ok") else ""
    return (
        _actor(event),
        " tested the connection to ",
        _environment(event.target),
        f": {outcome}{said}.",
    )


_LIMIT_WORDS = {
    "cooldown_seconds": "the cooldown (seconds)",
    "per_number_per_hour": "sends per number an hour",
    "per_number_per_day": "sends per number a day",
    "per_user_per_hour": "sends per person an hour",
    "per_user_per_day": "sends per person a day",
    "allowed_regions": "the countries allowed",
    "paused": "sending paused",
    "paused_reason": "why sending is paused",
}


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, bool):
        return _yes_no(value)
    return str(value) if value not in (None, "") else "nothing"


@says("limits.change", "Limits changed")
def _limits(event: Event) -> Sentence:
    changes = event.details.get("changes") or {}
    words = [
        f"{_LIMIT_WORDS.get(k, _humane(k))} from {_value(c['old'])} to {_value(c['new'])}"
        for k, c in changes.items()
    ]
    said = f": {'; '.join(words)}" if words else ""
    return (_actor(event), " changed the ", Link(LIMITS, "", "sending limits"), f"{said}.")


_SETTINGS = {
    "two_step_for_everyone": (
        "required two-step sign-in for everyone",
        "made two-step sign-in optional for support and auditors",
    ),
    "message_editing": (
        "let senders edit the message of a template",
        "stopped senders editing the message of a template",
    ),
}


@says("setting.change", "Setting changed")
def _setting(event: Event) -> Sentence:
    on, off = _SETTINGS.get(
        event.target, (f"turned on {_humane(event.target)}", f"turned off {_humane(event.target)}")
    )
    return (
        _actor(event),
        " ",
        Link(SETTINGS, event.target, on if event.details.get("new") else off),
        ".",
    )


def _template(event: Event) -> Link:
    return Link(TEMPLATES, event.target, f"“{event.target}”")


@says("template.add", "Template added")
def _template_add(event: Event) -> Sentence:
    return (_actor(event), " added the template ", _template(event), ".")


@says("template.edit", "Template edited")
def _template_edit(event: Event) -> Sentence:
    old_name = str((event.details.get("old") or {}).get("name") or event.target)
    renamed = f" (formerly “{old_name}”)" if old_name != event.target else ""
    return (_actor(event), " edited the template ", _template(event), f"{renamed}.")


@says("template.remove", "Template removed")
def _template_remove(event: Event) -> Sentence:
    return (_actor(event), f" removed the template “{event.target}”.")


@says("template.default", "Default template chosen")
def _template_default(event: Event) -> Sentence:
    return (_actor(event), " made ", _template(event), " the default template.")


@says("secrets.rotate", "Encryption keys rotated")
def _rotate(event: Event) -> Sentence:
    values = int(event.details.get("values", 0))
    return (_actor(event), f" re-encrypted {_count(values, 'secret')} with the newest key.")

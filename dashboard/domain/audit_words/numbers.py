"""Sentences for numbers, code checks, exports and retention."""

from __future__ import annotations

from .core import (
    EXPORT,
    Event,
    Link,
    Sentence,
    _actor,
    _attempt,
    _count,
    _reason,
    is_attempt_id,
    says,
)

# -- Numbers ---------------------------------------------------------------------------------


@says("number.reveal", "Number revealed")
def _number_reveal(event: Event) -> Sentence:
    return (_actor(event), " revealed ", _attempt(event), *_reason(event), ".")


#: What a code check found (services.code_checks' outcomes), said after the number.
_CHECKS = {
    "right": "it was right",
    "wrong": "it was wrong",
    "last_try": "wrong, and the last try",
    "earlier": "it was no longer valid",
    "none_valid": "no valid code was waiting",
}


@says("code.check", "Code checked")
def _code_check(event: Event) -> Sentence:
    if not is_attempt_id(event.target):
        # No send to check against: the number may be a mistyped one, and none of its digits
        # is recorded (older events kept the first ones, shown only to full-number viewers).
        number = event.target if event.full_numbers and event.target else "a number"
        return (_actor(event), f" checked a code for {number} nothing was sent to.")
    matched = "right" if event.details.get("matched") else "wrong"
    found = _CHECKS.get(str(event.details.get("outcome") or matched), _CHECKS[matched])
    return (_actor(event), " checked a code for ", _attempt(event), f": {found}.")


# -- Exports and retention -------------------------------------------------------------------

_FILTER_WORDS = {
    "status": "status",
    "response_code": "response code",
    "environment": "environment",
    "reason": "reason contains",
}
_MATCH_WORDS = {"ends": "ends with", "starts": "starts with", "contains": "contains"}


def _filters(event: Event) -> tuple[str, ...]:
    """An export's filters in words; number digits only for a viewer who sees full numbers."""
    found = event.details.get("filters") or {}
    words = []
    if number := str(found.get("number") or ""):
        match, _, digits = number.partition(" ")
        shown = digits if event.full_numbers else "(hidden)"
        words.append(f"number {_MATCH_WORDS.get(match, 'is')} {shown}")
    for key, name in _FILTER_WORDS.items():
        if found.get(key) not in (None, ""):
            words.append(f"{name} {found[key]}")
    if found.get("sender"):
        words.append("one sender")
    if days := _days(found.get("date_from"), found.get("date_to")):
        zone = found.get("zone")
        words.append(f"{days} ({zone})" if zone else days)
    return (f", filtered by {', '.join(words)}",) if words else (", unfiltered",)


def _days(first: str | None, last: str | None) -> str:
    if first and first == last:
        return f"on {first}"
    if first and last:
        return f"from {first} to {last}"
    return f"from {first}" if first else f"up to {last}" if last else ""


def _format(event: Event) -> str:
    return str(event.details.get("format", "")).upper().replace("JSONL", "JSON Lines")


@says("history.export_started", "Export started")
def _export_started(event: Event) -> Sentence:
    return (_actor(event), f" started a {_format(event)} export", *_filters(event), ".")


@says("history.export", "Export finished")
def _export(event: Event) -> Sentence:
    rows = int(event.details.get("rows", 0))
    ending = "" if event.details.get("complete", True) else ", stopped before the end"
    return (
        _actor(event),
        f" exported {_count(rows, 'attempt')} as {_format(event)} (",
        Link(EXPORT, str(event.event_id), "manifest"),
        ")",
        *_filters(event),
        f"{ending}.",
    )


@says("attempts.purge", "Attempts purged")
def _purge(event: Event) -> Sentence:
    deleted = event.target.split(" ")[0]
    days = event.details.get("older_than_days")
    older = f" older than {_count(int(days), 'day')}" if days is not None else ""
    return (_actor(event), f" deleted {deleted} attempt{'s' if deleted != '1' else ''}{older}.")

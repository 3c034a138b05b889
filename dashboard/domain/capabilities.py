"""Who may do what: each role is a set of capabilities, and every check names a capability.

The view decorators, the navigation, the masking of numbers, which number searches may be
run and the rules about admins all read this table; adding a role or a capability is a
change here (and in the migration's role list, for a new role).
"""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    SEND = "send"  # send a code
    RESEND = "resend"  # send again from an earlier attempt
    CHECK_CODE = "check a code"  # check a code a customer reads back
    REVEAL_NUMBER = "reveal a number"  # see a masked number in full, for a reason (audited)
    SEE_FULL_NUMBERS = "see full numbers"  # every number unmasked, always
    # Search the history by part of a number (starts with, contains, more last digits than a
    # masked number shows): only with SEE_FULL_NUMBERS, see may_search_numbers.
    SEARCH_PARTIAL_NUMBERS = "search by part of a number"
    EXPORT = "export history"
    READ_AUDIT_LOG = "read the audit log"
    MANAGE_USERS = "manage users"
    MANAGE_SETTINGS = "manage the two-step policy"
    MANAGE_LIMITS = "manage limits"
    MANAGE_TEMPLATES = "manage templates"
    MANAGE_PROVIDER = "manage the provider"


SUPPORT, AUDITOR, ADMIN = "support", "auditor", "admin"
ROLES = (SUPPORT, AUDITOR, ADMIN)

CAPABILITIES: dict[str, frozenset[Capability]] = {
    SUPPORT: frozenset(
        {Capability.SEND, Capability.RESEND, Capability.CHECK_CODE, Capability.REVEAL_NUMBER}
    ),
    AUDITOR: frozenset(
        {
            Capability.SEE_FULL_NUMBERS,
            Capability.SEARCH_PARTIAL_NUMBERS,
            Capability.EXPORT,
            Capability.READ_AUDIT_LOG,
        }
    ),
    ADMIN: frozenset(Capability),
}

#: Capabilities that change who may do what, or where codes go: whoever holds one always signs
#: in with two steps, and the last active holder of MANAGE_USERS cannot be removed.
POWERS = frozenset(
    {
        Capability.MANAGE_USERS,
        Capability.MANAGE_SETTINGS,
        Capability.MANAGE_LIMITS,
        Capability.MANAGE_TEMPLATES,
        Capability.MANAGE_PROVIDER,
    }
)


def may(role: str, capability: Capability) -> bool:
    return capability in CAPABILITIES.get(role, frozenset())


def holders(capability: Capability) -> tuple[str, ...]:
    """The roles that have ``capability``."""
    return tuple(role for role in ROLES if may(role, capability))


def always_two_step(role: str) -> bool:
    """Whether ``role`` holds a power, and so must sign in with two steps whatever the policy."""
    return bool(CAPABILITIES.get(role, frozenset()) & POWERS)


#: How many last digits of a number a masked number shows (services.history.number_for).
SHOWN_LAST_DIGITS = 4
#: How a history search may match the digits typed, in the order the page offers them.
NUMBER_MATCHES = ("ends", "starts", "contains", "exact")


def may_search_numbers(role: str, match: str, digits: int) -> bool:
    """Whether ``role`` may search the history for numbers that ``match`` ``digits`` digits.

    A search runs on the full numbers, and its result count ("no attempts match" included)
    says whether any number matches. Starting with 6016? with 60163? recovers a masked number
    digit by digit, ten searches a digit, and "contains" or more last digits than are shown
    do the same. So whoever sees numbers masked searches only by what they already know: the
    whole number (the customer gave it to them; guessing one costs a search for every
    possible number), or at most the last SHOWN_LAST_DIGITS digits, which every row shows.
    Their own sends are no exception: a resend of a number masked for them is theirs, and
    stays masked (Attempt.number_visible_to_sender).

    The reason filter is no number search: every role reads an attempt's reason in full on
    its page, so finding attempts by the words of their reason tells nothing that page does
    not (a number written into a reason is shown there to everyone, searched or not)."""
    if digits == 0 or may(role, Capability.SEARCH_PARTIAL_NUMBERS):
        return True
    return match == "exact" or (match == "ends" and digits <= SHOWN_LAST_DIGITS)


def number_matches(role: str) -> tuple[str, ...]:
    """The matches to offer ``role``: those it may search with (offering one that is then
    refused would be a trap)."""
    return tuple(match for match in NUMBER_MATCHES if may_search_numbers(role, match, 1))

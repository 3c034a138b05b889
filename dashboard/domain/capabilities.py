"""Who may do what: each role is a set of capabilities, and every check names a capability.

The view decorators, the navigation, the masking of numbers and the rules about admins all
read this table; adding a role or a capability is a change here (and in the migration's role
list, for a new role).
"""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    SEND = "send"  # send a code
    RESEND = "resend"  # send again from an earlier attempt
    CHECK_CODE = "check a code"  # check a code a customer reads back
    REVEAL_NUMBER = "reveal a number"  # see a masked number in full, for a reason (audited)
    SEE_FULL_NUMBERS = "see full numbers"  # every number unmasked, always
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
    AUDITOR: frozenset({Capability.SEE_FULL_NUMBERS, Capability.EXPORT, Capability.READ_AUDIT_LOG}),
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

"""The message templates admins manage; agents pick one when they send a code."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ..database import write_transaction
from ..domain import messages
from . import audit, runtime_settings

SETTING = "message_templates"
LOCKS = (audit.CHAIN_LOCK, SETTING)


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    text: str


DEFAULT = Template("default", "Standard", messages.DEFAULT_TEMPLATE)


def all_templates() -> list[Template]:
    """The templates, the default first (there is always at least one)."""
    stored = runtime_settings.get(SETTING, None)
    if not stored:
        return [DEFAULT]
    return [Template(**item) for item in stored]


def find(template_id: str) -> Template | None:
    return next((t for t in all_templates() if t.id == template_id), None)


def add(name: str, text: str, actor: audit.Actor) -> Template:
    """Add a template (audited, in a transaction of its own); raises messages.InvalidTemplate."""
    name = name.strip()
    if not name:
        raise messages.InvalidTemplate("Give the template a name.")
    messages.check_template(text)
    template = Template(uuid.uuid4().hex[:12], name[:60], text)
    with write_transaction(*LOCKS):
        _store([*all_templates(), template], actor, "template.add", template)
    return template


def remove(template_id: str, actor: audit.Actor) -> None:
    """Remove a template (audited); raises messages.InvalidTemplate for the last one."""
    with write_transaction(*LOCKS):
        templates = all_templates()
        kept = [t for t in templates if t.id != template_id]
        if not kept:
            raise messages.InvalidTemplate("Keep at least one template.")
        removed = next(t for t in templates if t.id == template_id)
        _store(kept, actor, "template.remove", removed)


def make_default(template_id: str, actor: audit.Actor) -> None:
    """Put a template first, where the send form starts (audited)."""
    with write_transaction(*LOCKS):
        templates = all_templates()
        chosen = next(t for t in templates if t.id == template_id)
        rest = (t for t in templates if t.id != template_id)
        _store([chosen, *rest], actor, "template.default", chosen)


def _store(templates: list[Template], actor: audit.Actor, action: str, subject: Template) -> None:
    runtime_settings.put(SETTING, [t.__dict__ for t in templates], actor)
    audit.record(action, actor, target=subject.name, template=subject.text)

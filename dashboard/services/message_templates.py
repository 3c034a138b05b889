"""The message templates admins manage; agents pick one when they send a code, and what a send
may say: an approved template's text, or (when an admin allows it) a checked rewording."""

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


class TemplateGone(ValueError):
    """The template a send names is not (or no longer) an approved one; the message says
    what to do instead."""


@dataclass(frozen=True)
class Wording:
    """What a send says: the approved template it comes from, and the text that goes
    (``{code}`` where the code goes), the template's own unless the sender edited it."""

    template: Template
    text: str

    @property
    def edited(self) -> bool:
        return self.text != self.template.text


def wording_for_send(template_id: str | None, posted: str | None) -> Wording:
    """The wording of a new send of template ``template_id`` (None: the default one, where the
    send form starts). ``posted`` is the sender's text: taken only while admins let senders
    edit (runtime_settings.message_editing_allowed), and then checked (messages.check_edit);
    otherwise ignored, whatever it says. Raises TemplateGone, or messages.InvalidTemplate."""
    template = all_templates()[0] if template_id is None else find(template_id)
    if template is None:
        raise TemplateGone("That template no longer exists; choose another.")
    return _worded(template, posted if runtime_settings.message_editing_allowed() else None)


def wording_for_resend(template_id: str | None, sent: str, posted: str | None) -> Wording:
    """The wording of a resend of an attempt that said ``sent`` (code masked back to
    ``{code}``) from template ``template_id``.

    A resend repeats what went out, so it says ``sent`` again: the customer gets the words
    they were told to expect, and they were approved when they went (a template's own, or an
    edit that passed the rule). It is checked again, so an edit stands only while its
    template is still approved and the rule still passes; a removed template is refused
    (its approval was withdrawn), and so is an attempt recorded before templates were
    enforced (``template_id`` None) unless its text is a current template's. ``posted`` is
    taken, and checked against the template, only while editing is allowed: with editing
    off a resend is no way to send other words."""
    if template_id is not None:
        template = find(template_id)
        if template is None:
            raise TemplateGone(
                "The template of that send was removed; send a new code with another template."
            )
    else:
        template = next((t for t in all_templates() if t.text == sent), None)
        if template is None:
            raise TemplateGone(
                "That send's message is not an approved template's; send a new code with one."
            )
    editing = runtime_settings.message_editing_allowed()
    return _worded(template, posted if editing and posted is not None else sent)


def _worded(template: Template, text: str | None) -> Wording:
    """The template with ``text`` (None: its own), which must pass the editing rule."""
    wording = Wording(template, template.text if text is None else text)
    if wording.edited:
        messages.check_edit(template.text, wording.text)
    return wording


def _checked(template_id: str, name: str, text: str) -> Template:
    """The template as added or edited, by the one rule for both; raises InvalidTemplate."""
    name = name.strip()
    if not name:
        raise messages.InvalidTemplate("Give the template a name.")
    messages.check_template(text)
    return Template(template_id, name[:60], text)


def add(name: str, text: str, actor: audit.Actor) -> Template:
    """Add a template (audited, in a transaction of its own); raises messages.InvalidTemplate."""
    template = _checked(uuid.uuid4().hex[:12], name, text)
    with write_transaction(*LOCKS):
        _store([*all_templates(), template], actor, "template.add", template)
    return template


def edit(template_id: str, name: str, text: str, actor: audit.Actor) -> Template:
    """Change a template's name and text (audited with both before and after, in a transaction
    of its own); the same rules as :func:`add`. Raises messages.InvalidTemplate, or TemplateGone
    when it was removed meanwhile.

    The template keeps its id, so past attempts (which name their template by id) show its
    current name, and it stays where it is in the list (the default stays the default). What
    a past attempt says was sent is its own record (``message_masked``), which an edit never
    touches; a resend of it repeats those words, checked against the edited template
    (wording_for_resend). An edit that changes nothing is not recorded."""
    after = _checked(template_id, name, text)
    with write_transaction(*LOCKS):
        templates = all_templates()
        before = next((t for t in templates if t.id == template_id), None)
        if before is None:
            raise TemplateGone("That template was removed meanwhile; nothing was changed.")
        if after == before:
            return before
        runtime_settings.put(
            SETTING, [(after if t.id == template_id else t).__dict__ for t in templates], actor
        )
        audit.record(
            "template.edit",
            actor,
            target=after.name,
            template_id=template_id,
            old={"name": before.name, "text": before.text},
            new={"name": after.name, "text": after.text},
        )
    return after


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

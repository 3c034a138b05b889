"""The audit log's filters, read from the query string (no CSRF token: nothing changes)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, Regexp, ValidationError

from ..domain import audit_words
from ..forms import filter_day

#: The action filter's choices: every action with a sentence of its own, by name.
ACTION_CHOICES = [SelectChoice("", "Any action")] + [
    SelectChoice(action, name)
    for action, name in sorted(audit_words.ACTIONS.items(), key=lambda item: item[1])
]


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    actor = StringField("Actor", validators=[Optional(), Length(max=254)])
    # Offered: the known actions in words. An action id of another kind (an older or newer
    # release's, in a shared link) is still accepted and offered by its id in words.
    action = SelectField(
        "Action",
        choices=ACTION_CHOICES,
        default="",
        validate_choice=False,
        validators=[
            Optional(),
            Length(max=64),
            Regexp(r"^[a-z0-9_.]*$", message="Choose an action from the list."),
        ],
    )
    date_from = filter_day("From")
    date_to = filter_day("To")
    after = HiddenField()

    #: The filters behind the "Filters (n)" disclosure (the actor is always shown).
    FOLDED = ("action", "date_from", "date_to")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        chosen = self.action.data or ""
        if chosen and chosen not in audit_words.ACTIONS:
            self.action.choices = [
                *ACTION_CHOICES,
                SelectChoice(chosen, audit_words.action_name(chosen)),
            ]

    @property
    def folded_set(self) -> int:
        """How many of the folded filters are set (the disclosure's count)."""
        return sum(1 for name in self.FOLDED if self[name].data)

    @property
    def folded_errors(self) -> bool:
        return any(self[name].errors for name in self.FOLDED)

    def validate_date_to(self, field):
        if field.errors or self.date_from.errors:
            return  # out of range: said already
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")

"""The audit log's filters, read from the query string (no CSRF token: nothing changes)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import Length, Optional, ValidationError

from ..forms import filter_day


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    actor = StringField("Actor", validators=[Optional(), Length(max=254)])
    action = StringField("Action", validators=[Optional(), Length(max=64)])
    date_from = filter_day("From")
    date_to = filter_day("To")
    after = HiddenField()

    def validate_date_to(self, field):
        if field.errors or self.date_from.errors:
            return  # out of range: said already
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")

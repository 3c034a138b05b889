"""The audit log's filters, read from the query string (no CSRF token: nothing changes)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, StringField
from wtforms.validators import Length, Optional


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    actor = StringField("Actor", validators=[Optional(), Length(max=254)])
    action = StringField("Action", validators=[Optional(), Length(max=64)])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    after = HiddenField()

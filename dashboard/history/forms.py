"""The history search form: a GET form, so a search is a shareable URL."""

from flask_wtf import FlaskForm
from wtforms import IntegerField, SearchField
from wtforms.validators import Length, NumberRange, Optional


class HistorySearchForm(FlaskForm):
    class Meta:
        csrf = False  # reading only; the filters live in the URL

    q = SearchField("Search", validators=[Optional(), Length(max=32)])
    before = IntegerField(validators=[Optional(), NumberRange(min=1, max=2**63 - 1)])

"""Form pieces every blueprint may use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, SubmitField
from wtforms.validators import Optional, ValidationError

from .domain import days
from .domain.text import has_visible_text


class ButtonForm(FlaskForm):
    """A form that is only a button (and its CSRF token)."""

    submit = SubmitField()


def visible_text(message: str) -> Callable[[Any, Any], None]:
    """A WTForms validator: the text must hold a visible character (a reason made only of
    spaces, zero-width or other format characters says nothing)."""

    def validate(form: Any, field: Any) -> None:
        if not has_visible_text(field.data or ""):
            raise ValidationError(message)

    return validate


def filter_day(label: str) -> DateField:
    """A date filter (history, the audit log): optional, and a day the filters can hold
    (days.FIRST_DAY to LAST_DAY), which the browser's date picker is told too."""
    return DateField(
        label,
        validators=[Optional(), _holdable_day],
        render_kw={"min": days.FIRST_DAY.isoformat(), "max": days.LAST_DAY.isoformat()},
    )


def _holdable_day(form: Any, field: Any) -> None:
    if field.data and (problem := days.problem_with(field.data)):
        raise ValidationError(problem)

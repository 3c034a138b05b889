"""Form pieces every blueprint may use."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import SubmitField
from wtforms.validators import ValidationError


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


def has_visible_text(text: str) -> bool:
    """Whether ``text`` has a character that is neither space nor control/format/unassigned."""
    return any(not ch.isspace() and unicodedata.category(ch)[0] not in "CZ" for ch in text)

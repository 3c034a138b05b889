"""The send, resend and check-a-code forms."""

import uuid

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Regexp

from ..forms import visible_text
from ..services.sending import MAX_REASON_LENGTH


def _plain_line_breaks(text: str | None) -> str | None:
    """Browsers send a textarea's line breaks as CRLF; an SMS has plain LF."""
    return text.replace("\r\n", "\n") if text else text


def _form_key() -> HiddenField:
    """One key per rendered form: a second submit of the same form never sends again."""
    return HiddenField(
        default=lambda: str(uuid.uuid4()),
        validators=[
            InputRequired("Reload the form and try again."),
            Regexp(r"^[0-9a-f-]{36}$", message="Reload the form and try again."),
        ],
    )


SAY_WHY = "Say why the code is sent (a ticket number, for example)."


def _reason() -> StringField:
    return StringField(
        "Reason",
        validators=[DataRequired(SAY_WHY), visible_text(SAY_WHY), Length(max=MAX_REASON_LENGTH)],
    )


def _message() -> TextAreaField:
    """The text to send. No validators: unless admins let senders edit, a posted text is
    ignored (never an error), and an edit is checked by the service, which knows the template
    (message_templates)."""
    return TextAreaField("Message", filters=[_plain_line_breaks])


class SendCodeForm(FlaskForm):
    # Choices: the allowed countries; a value outside them is still taken, and blocked (and
    # recorded) by the limits, rather than dropped as a form error.
    country_code = SelectField("Country code", validate_choice=False)
    phone_number = StringField(
        "Phone number", validators=[DataRequired("Enter the phone number."), Length(max=32)]
    )
    reason = _reason()
    template = SelectField("Template", validate_choice=False)
    message = _message()
    idempotency_key = _form_key()
    submit = SubmitField("Send code")
    #: Why the database could not record the send (nothing was sent), shown above the button.
    busy: str | None = None


class ResendForm(FlaskForm):
    reason = _reason()
    message = _message()
    idempotency_key = _form_key()
    submit = SubmitField("Resend code")
    busy: str | None = None  # as SendCodeForm.busy


def _code() -> StringField:
    return StringField(
        "Code",
        validators=[
            DataRequired("Enter the code the customer reads out."),
            # 0-9, not \d: a full-width or other script's digits would hash as another code
            Regexp(r"^\s*[0-9]{6}\s*$", message="A code is 6 digits."),
        ],
    )


class CheckCodeForm(FlaskForm):
    """A check of the number typed (the "Check a code" page)."""

    country_code = SelectField("Country code", validate_choice=False)
    phone_number = StringField(
        "Phone number", validators=[DataRequired("Enter the phone number."), Length(max=32)]
    )
    code = _code()
    submit = SubmitField("Check the code")


class CheckSendCodeForm(FlaskForm):
    """A check of the number of one send (its result page, or "Check a code" opened from it):
    the attempt's public id travels, never the number, which may be masked for the viewer."""

    attempt = HiddenField(
        validators=[
            InputRequired("Open the send again and check from there."),
            Regexp(r"^[0-9a-f-]{36}$", message="Open the send again and check from there."),
        ]
    )
    code = _code()
    submit = SubmitField("Check the code")


class RevealForm(FlaskForm):
    reason = StringField(
        "Why you need the full number",
        validators=[
            DataRequired("Say why you need the full number."),
            visible_text("Say why you need the full number."),
            Length(max=200),
        ],
    )
    submit = SubmitField("Show the full number")

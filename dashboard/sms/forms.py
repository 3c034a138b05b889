"""The send form."""

import uuid

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Regexp

from ..services.messages import DEFAULT_TEMPLATE
from ..services.sending import MAX_REASON_LENGTH


class SendCodeForm(FlaskForm):
    country_code = StringField(
        "Country code",
        default="60",
        validators=[DataRequired("Enter a country calling code such as 60."), Length(max=4)],
    )
    phone_number = StringField(
        "Phone number", validators=[DataRequired("Enter the phone number."), Length(max=32)]
    )
    reason = StringField(
        "Reason",
        validators=[
            DataRequired("Say why the code is sent (a ticket number, for example)."),
            Length(max=MAX_REASON_LENGTH),
        ],
    )
    message = TextAreaField(
        "Message",
        default=DEFAULT_TEMPLATE,
        # Browsers send a textarea's line breaks as CRLF; an SMS has plain LF.
        filters=[lambda text: text.replace("\r\n", "\n") if text else text],
        validators=[DataRequired("Write the message; it must contain {code}."), Length(max=1000)],
    )
    # One key per rendered form: a second submit of the same form never sends again.
    idempotency_key = HiddenField(
        default=lambda: str(uuid.uuid4()),
        validators=[
            InputRequired("Reload the form and try again."),
            Regexp(r"^[0-9a-f-]{36}$", message="Reload the form and try again."),
        ],
    )
    submit = SubmitField("Send code")

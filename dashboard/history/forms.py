"""The history filters: a GET form, so a search is a shareable URL."""

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SearchField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional, Regexp, ValidationError

from ..domain import statuses
from ..models import ENVIRONMENTS
from ..services.history import MAX_PAGE_SIZE, MIN_CONTAINS_DIGITS

ANY = SelectChoice("", "Any")


class HistoryFilterForm(FlaskForm):
    class Meta:
        csrf = False  # reading only; the filters live in the URL

    q = SearchField(
        "Search",
        validators=[
            Optional(),
            Length(max=32),
            Regexp(r"^[\d\s+()-]*$", message="Type digits of the number (spaces and + are fine)."),
        ],
    )
    match = SelectField(
        "Match",
        choices=[
            SelectChoice("ends", "ends with"),
            SelectChoice("starts", "starts with (country code first)"),
            SelectChoice("contains", "contains"),
            SelectChoice("exact", "is exactly"),
        ],
        default="ends",
    )
    status = SelectField(
        "Status", choices=[ANY] + [SelectChoice(s.value, s.word) for s in statuses.ALL], default=""
    )
    response_code = StringField(
        "Response code",
        validators=[
            Optional(),
            Length(max=64),
            Regexp(r"^[A-Z0-9_]*$", message="Codes look like SMS_FAIL."),
        ],
        filters=[lambda value: value.strip().upper() if value else value],
    )
    environment = SelectField(
        "Environment",
        choices=[ANY] + [SelectChoice(e, e.title()) for e in ENVIRONMENTS],
        default="",
    )
    sender = SelectField("Sender", default="", validate_choice=True)
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    reason = StringField(
        "Reason contains",
        validators=[Optional(), Length(min=3, max=100, message="Type 3 to 100 characters.")],
    )
    limit = IntegerField(
        validators=[
            Optional(),
            NumberRange(min=1, max=MAX_PAGE_SIZE, message=f"At most {MAX_PAGE_SIZE} rows a page."),
        ]
    )
    after = HiddenField()

    senders: dict[int, str]  # id -> display name, for the sender choices and the rows

    def validate_q(self, field):
        digits = "".join(ch for ch in field.data or "" if ch.isdigit())
        if self.match.data == "contains" and 0 < len(digits) < MIN_CONTAINS_DIGITS:
            raise ValidationError(
                f"Type at least {MIN_CONTAINS_DIGITS} digits to search within numbers."
            )

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")

"""The history filters: a GET form, so a search is a shareable URL. Which number searches it
accepts depends on the viewer's role: the view says whose search it is (``for_viewer``)
before validating."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SearchField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Length, NumberRange, Optional, Regexp, ValidationError

from ..domain import capabilities, statuses
from ..forms import filter_day
from ..models import ENVIRONMENTS
from ..services.history import MAX_PAGE_SIZE, MIN_CONTAINS_DIGITS

ANY = SelectChoice("", "Any")
MATCHES = {
    "ends": SelectChoice("ends", "ends with"),
    "starts": SelectChoice("starts", "starts with (country code first)"),
    "contains": SelectChoice("contains", "contains"),
    "exact": SelectChoice("exact", "is exactly"),
}
#: Next to the Search field, for a viewer who sees other people's numbers masked.
ONLY_WHAT_IS_SHOWN = (
    f"Type the whole number, or at most its last {capabilities.SHOWN_LAST_DIGITS} digits:"
    " the rest of other people's numbers is masked for you."
)
WHOLE_OR_LAST_DIGITS = f"The whole number, or its last {capabilities.SHOWN_LAST_DIGITS} digits."


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
    # Offered: the matches the viewer may use (for_viewer); any known one is read from a URL,
    # so that one they may not use is refused next to the Search field, where it is explained.
    match = SelectField(
        "Match",
        choices=[MATCHES[m] for m in capabilities.NUMBER_MATCHES],
        default="ends",
        validate_choice=False,
        validators=[AnyOf(capabilities.NUMBER_MATCHES, message="Not a valid choice.")],
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
    date_from = filter_day("From")
    date_to = filter_day("To")
    # Open to every role: a reason is shown in full on its attempt's page anyway
    # (capabilities.may_search_numbers).
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

    #: The filters behind the "Filters (n)" disclosure: all but the Search field.
    FOLDED = (
        "match",
        "status",
        "environment",
        "response_code",
        "sender",
        "date_from",
        "date_to",
        "reason",
    )

    senders: dict[int, str]  # id -> display name, for the sender choices and the rows
    role = ""  # the viewer's (for_viewer); none: searched as the most restricted role

    def for_viewer(self, role: str) -> HistoryFilterForm:
        """The form as ``role`` fills it in: only the number matches it may use are offered."""
        self.role = role
        self.match.choices = [MATCHES[m] for m in capabilities.number_matches(role)]
        return self

    @property
    def folded_set(self) -> int:
        """How many of the folded filters are set (the disclosure's count): a match other
        than the default one counts only with digits to match."""
        count = sum(1 for name in self.FOLDED if name != "match" and self[name].data)
        other_match = self.match.data not in ("", self.match.default)
        return count + (1 if other_match and self.q.data else 0)

    @property
    def folded_errors(self) -> bool:
        """Whether a folded filter was refused: the disclosure opens to show why."""
        return any(self[name].errors for name in self.FOLDED)

    @property
    def number_hint(self) -> str:
        """What the Search field takes, for a viewer who may not search by every match."""
        every_match = capabilities.number_matches(self.role) == capabilities.NUMBER_MATCHES
        return "" if every_match else WHOLE_OR_LAST_DIGITS

    def validate_q(self, field):
        digits = "".join(ch for ch in field.data or "" if ch.isdigit())
        if not capabilities.may_search_numbers(self.role, self.match.data or "", len(digits)):
            raise ValidationError(ONLY_WHAT_IS_SHOWN)
        if self.match.data == "contains" and 0 < len(digits) < MIN_CONTAINS_DIGITS:
            raise ValidationError(
                f"Type at least {MIN_CONTAINS_DIGITS} digits to search within numbers."
            )

    def validate_date_to(self, field):
        if field.errors or self.date_from.errors:
            return  # out of range: said already
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")

"""Forms of the admin pages."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Regexp,
    ValidationError,
)

from ..domain.capabilities import ROLES
from ..domain.text import has_visible_text
from ..forms import visible_text

ROLE_CHOICES = [SelectChoice(role, role.title()) for role in ROLES]


class CreateUserForm(FlaskForm):
    email = EmailField(
        "Email", validators=[DataRequired("Enter the person's email."), Length(max=254)]
    )
    name = StringField("Name", validators=[Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="support")
    submit = SubmitField("Create user")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    submit = SubmitField("Change role")


class SettingsForm(FlaskForm):
    two_step_for_everyone = BooleanField("Require two-step sign-in for everyone")
    message_editing = BooleanField("Let senders edit the message before sending")
    submit = SubmitField("Save settings")


def _count(label: str, maximum: int) -> IntegerField:
    return IntegerField(
        label,
        validators=[
            InputRequired(f"Enter a number for “{label}”."),
            NumberRange(min=0, max=maximum, message=f"Use a whole number from 0 to {maximum}."),
        ],
    )


class LimitsForm(FlaskForm):
    cooldown_seconds = _count("Seconds between two sends to one number", 86400)
    per_number_per_hour = _count("Sends to one number per hour", 1000)
    per_number_per_day = _count("Sends to one number per day", 10000)
    per_user_per_hour = _count("Sends by one person per hour", 10000)
    per_user_per_day = _count("Sends by one person per day", 100000)
    allowed_regions = StringField(
        "Countries codes may go to",
        validators=[
            DataRequired("Allow at least one country."),
            Regexp(
                r"^\s*[A-Za-z]{2}(\s*,\s*[A-Za-z]{2})*\s*$",
                message="List two-letter country codes separated by commas, e.g. MY, SG.",
            ),
        ],
    )
    paused = BooleanField("Pause all sending")
    paused_reason = StringField("Why sending is paused", validators=[Length(max=200)])
    submit = SubmitField("Save limits")

    def validate_paused_reason(self, field: StringField) -> None:
        """Agents read the reason on the send form: a pause says why, in visible words."""
        if self.paused.data and not has_visible_text(field.data or ""):
            raise ValidationError("Say why sending is paused; agents see it on the send form.")
        if field.data and not has_visible_text(field.data):
            raise ValidationError("Write the reason in visible characters.")


class TemplateForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[
            DataRequired("Name the template."),
            visible_text("Name the template in visible characters."),
            Length(max=60),
        ],
    )
    text = TextAreaField(
        "Text",
        validators=[DataRequired("Write the message; it must contain {code}."), Length(max=1000)],
        filters=[lambda text: text.replace("\r\n", "\n") if text else text],
    )
    submit = SubmitField("Add template")


class EditTemplateForm(TemplateForm):
    """The same fields and rules as adding (message_templates.edit checks the text alike)."""

    submit = SubmitField("Save template")


class CredentialsForm(FlaskForm):
    """Write-only: the secret and the key are never filled back in."""

    client_id = StringField("Client ID", validators=[Length(max=128)])
    client_secret = PasswordField(
        "Client secret", validators=[Length(max=512)], render_kw={"autocomplete": "off"}
    )
    private_key = TextAreaField("Private key (PEM)", validators=[Length(max=20000)])
    private_key_file = FileField("…or a private key file")
    submit = SubmitField("Save credentials")


class SwitchEnvironmentForm(FlaskForm):
    environment = SelectField(
        "Environment",
        choices=[SelectChoice("sandbox", "Sandbox"), SelectChoice("production", "Production")],
    )
    reason = StringField(
        "Reason",
        validators=[
            DataRequired("Say why you switch."),
            visible_text("Say why you switch, in visible characters."),
            Length(max=200),
        ],
    )
    confirmation = StringField("Type production to confirm", validators=[Length(max=20)])
    submit = SubmitField("Switch environment")

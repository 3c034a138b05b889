"""Forms of the admin pages."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..models import ROLES

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
    submit = SubmitField("Save settings")

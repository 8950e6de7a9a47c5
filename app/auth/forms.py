"""Forms for signing in, the first run, changing a password and the admin settings."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from app.auth.passwords import password_problem
from app.leads.validation import BAD_TEXT, EMAIL, FieldError, check_email, is_text
from app.models import Role

# Every role, in the order of the enum: the add form, the role menus and their checks.
ROLE_CHOICES = [SelectChoice(role.value, role.value.capitalize()) for role in Role]


def _text(form: FlaskForm, field: StringField) -> None:
    """Refuse what is not text (Flask-WTF also reads JSON bodies, which may hold "\\ud800")."""
    if not is_text(field.data or ""):
        field.data, field.raw_data = "", []  # never shown back: no page could be encoded
        raise ValidationError(BAD_TEXT)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254), _text])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000), _text])


def _strong_password(form: FlaskForm, field: PasswordField) -> None:
    if problem := password_problem(field.data or ""):
        raise ValidationError(problem)


def _valid_email(form: FlaskForm, field: EmailField) -> None:
    try:
        check_email((field.data or "").strip())
    except FieldError:
        raise ValidationError(EMAIL) from None


class SetupForm(FlaskForm):
    """The first-run form: the first account and its admin."""

    account_name = StringField("Account name", validators=[DataRequired(), Length(max=200), _text])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254), _valid_email])
    password = PasswordField("Password", validators=[DataRequired(), _strong_password])
    confirm = PasswordField(
        "Repeat password",
        validators=[DataRequired(), EqualTo("password", "The two passwords differ.")],
    )


class PasswordForm(FlaskForm):
    """A signed-in user's own password change."""

    current = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=1000), _text]
    )
    password = PasswordField("New password", validators=[DataRequired(), _strong_password])
    confirm = PasswordField(
        "Repeat new password",
        validators=[DataRequired(), EqualTo("password", "The two passwords differ.")],
    )


class InvitationForm(FlaskForm):
    """Invite someone to the account by email, with a role."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254), _valid_email])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.MEMBER.value)


class JoinForm(FlaskForm):
    """Someone new accepts an invitation: the password they choose (the email is the
    invitation's)."""

    token = HiddenField(validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Choose a password", validators=[DataRequired(), _strong_password])
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", "The two passwords differ.")],
    )


class AcceptForm(FlaskForm):
    """A signed-in user accepts an invitation for their email."""

    token = HiddenField(validators=[DataRequired(), Length(max=100)])


class RoleForm(FlaskForm):
    """Another role for a member."""

    role = SelectField("Role", choices=ROLE_CHOICES)


class TokenForm(FlaskForm):
    """A new API token of the account."""

    name = StringField("Name", validators=[DataRequired(), Length(max=100), _text])
    read_only = BooleanField("Read-only: may read leads, never change them")

"""Sign-in and first-run forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from app.auth.passwords import password_problem
from app.leads.validation import EMAIL, FieldError, check_email


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])


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

    account_name = StringField("Account name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254), _valid_email])
    password = PasswordField("Password", validators=[DataRequired(), _strong_password])
    confirm = PasswordField(
        "Repeat password",
        validators=[DataRequired(), EqualTo("password", "The two passwords differ.")],
    )

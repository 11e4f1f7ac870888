"""Forms of the admin blueprint (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class CreateUserForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=60)])
    full_name = StringField("Printed name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("E-mail", validators=[Optional(), Length(max=200)])
    password = PasswordField("Temporary password", validators=[DataRequired(), Length(max=200)])
    #: Optional: empty keeps the configured default; `engine.identity` refuses unknown values.
    timezone = SelectField("Time zone", validate_choice=False)
    locale = SelectField("Language", validate_choice=False)


class ReasonForm(FlaskForm):
    """A change that must say why (deactivate, reactivate, unlock, revoke, reset two-factor)."""

    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=1000)])


class ResetPasswordForm(FlaskForm):
    """A temporary password an administrator gives a user, who must change it at next log-in.
    `engine.identity.reset_password` checks both fields (the policy, a reason) and names every
    one wrong at once, so they are not required here."""

    password = PasswordField("Temporary password", validators=[Length(max=200)])
    reason = StringField("Reason", validators=[Length(max=1000)])


class GrantRoleForm(FlaskForm):
    role = SelectField("Role", validators=[DataRequired()])


class RevokeRoleForm(FlaskForm):
    role = HiddenField(validators=[DataRequired()])
    reason = StringField("Reason", validators=[DataRequired(), Length(max=1000)])


class TrainingForm(FlaskForm):
    role = SelectField("Role", validators=[DataRequired()])
    trained_on = DateField("Trained on", validators=[DataRequired()])
    expires_on = DateField("Expires on", validators=[Optional()])
    evidence = TextAreaField("Evidence", validators=[DataRequired(), Length(max=2000)])


class RolePolicyForm(FlaskForm):
    """One checkbox per role, named `mfa_<role>`; the fields are read from the request."""


class TokenForm(FlaskForm):
    user_id = SelectField("API client", coerce=int, validators=[DataRequired()])
    name = StringField("What it is for", validators=[DataRequired(), Length(max=120)])
    days = IntegerField("Valid for (days)", default=365,
                        validators=[DataRequired(), NumberRange(min=1, max=730)])


class ConfirmReasonForm(ReasonForm):
    confirm = BooleanField("I understand this cannot be undone",
                           validators=[DataRequired()])

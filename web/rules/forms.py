"""Forms of the rule-pack pages (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateTimeLocalField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional


class EmptyForm(FlaskForm):
    """Only the CSRF token: for buttons such as "Run cases"."""


class UploadForm(FlaskForm):
    archive = FileField("Pack zip (pack.yaml and cases.yaml)")
    pack_file = FileField("pack.yaml")
    cases_file = FileField("cases.yaml")


class ActivateForm(FlaskForm):
    site = SelectField("Site", validators=[DataRequired()])
    effective_at = DateTimeLocalField("Effective from", format="%Y-%m-%dT%H:%M",
                                      validators=[Optional()])
    reason = StringField("Reason", validators=[DataRequired(), Length(max=500)])
    confirm = BooleanField("I have reviewed the rules, the diff and the case results.")
    username = StringField("User name", validators=[DataRequired(), Length(max=60)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class DeactivateForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired(), Length(max=500)])
    username = StringField("User name", validators=[DataRequired(), Length(max=60)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])

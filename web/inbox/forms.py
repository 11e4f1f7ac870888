"""Forms of the inbox. A task's own fields come from its BPMN form (engine.workflow.forms) and
are read from the request by name; these Flask-WTF forms carry the CSRF token and the rest."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class SignatureFields(FlaskForm):
    """User name (first signature of a session) and password to sign with (21 CFR 11.200)."""

    username = StringField("User name", validators=[Optional(), Length(max=60)])
    password = PasswordField("Password", validators=[Optional(), Length(max=200)])


class TaskForm(SignatureFields):
    """Completing a task: the CSRF token and, when the step is signed, the signature."""


class AssignForm(FlaskForm):
    assignee = SelectField("Assign to", coerce=int, validators=[DataRequired()])
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=2000)])

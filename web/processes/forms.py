"""Forms of the processes blueprint (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp

from web.inbox.forms import SignatureFields


class DeployForm(SignatureFields):
    """A new version from a file, or from the modeler (the XML in `xml`), signed."""

    file = FileField("BPMN file")
    xml = HiddenField()
    source = HiddenField(default="upload")
    key = HiddenField()
    new_key = StringField("Process key", validators=[
        Optional(), Length(min=3, max=60),
        Regexp(r"^[a-z][a-z0-9_]*$", message="Lower-case letters, digits and _ only, starting "
                                              "with a letter.")])
    note = TextAreaField("Why this version", validators=[Optional(), Length(max=2000)])


class StartForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired(), Length(max=200)])
    site_code = SelectField("Site", choices=[SelectChoice("", "—")], default="")  # + the sites


class InstanceActionForm(FlaskForm):
    """Suspend, resume or terminate: a reason and an explicit confirmation."""

    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=2000)])
    confirm = BooleanField("I confirm", validators=[DataRequired()])

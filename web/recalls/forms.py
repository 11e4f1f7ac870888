"""Forms of the recall pages (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

LEVEL_CHOICES = [SelectChoice("I", "Level I / 一级"), SelectChoice("II", "Level II / 二级"),
                 SelectChoice("III", "Level III / 三级")]


class StartRecallForm(FlaskForm):
    product = StringField("Product code or GTIN", validators=[DataRequired(), Length(max=60)])
    lots = TextAreaField("Lots (one per line or comma-separated)",
                         validators=[Optional(), Length(max=20000)])
    serials = TextAreaField("Serial numbers (one per line or comma-separated)",
                            validators=[Optional(), Length(max=200000)])
    level = SelectField("Level", choices=LEVEL_CHOICES)
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(min=3, max=4000)])
    source = StringField("Source (manufacturer notice, authority...)",
                         validators=[DataRequired(), Length(max=200)])
    confirm = BooleanField("I understand: every unit of these lots is held at once, at every "
                           "site, and every customer who received them is notified.",
                           validators=[DataRequired()])


class AcknowledgeForm(FlaskForm):
    note = StringField("How the customer confirmed", validators=[DataRequired(),
                                                                   Length(max=500)])


class CloseRecallForm(FlaskForm):
    note = TextAreaField("Conclusion and disposition of the recovered stock",
                         validators=[DataRequired(), Length(max=4000)])
    username = StringField("User name", validators=[Optional(), Length(max=60)])
    password = PasswordField("Password", validators=[Optional(), Length(max=200)])

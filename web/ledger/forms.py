"""Forms of the ledger pages (Flask-WTF, so CSRF is checked)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from web.masterdata.forms import options
from web.signing import SignatureForm


class OpenCountForm(FlaskForm):
    location_id = SelectField("Location", coerce=str, validate_choice=False)


class CountEntryForm(FlaskForm):
    """Counted quantities come as `counted-<line id>` and `note-<line id>`; stock the ledger did
    not expect is entered in the `found_*` fields."""

    found_product = StringField("Product code or GTIN", validators=[Optional(), Length(max=40)])
    found_lot = StringField("Lot", validators=[Optional(), Length(max=40)])
    found_serial = StringField("Serial", validators=[Optional(), Length(max=40)])
    found_counted = StringField("Counted", validators=[Optional(), Length(max=10)])


class PostCountForm(SignatureForm):
    reason = TextAreaField("Reason for the variances",
                           validators=[DataRequired(message="Say why."), Length(max=1000)])


class CancelCountForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[DataRequired(message="Say why."),
                                                 Length(max=1000)])


class TemperatureForm(FlaskForm):
    file = FileField("Logger CSV file", validators=[FileRequired(message="Choose a CSV file.")])
    subject = SelectField("Readings of", choices=options([("location", "A storage location"),
                                                          ("shipment", "A shipment")]))
    location_id = SelectField("Location", coerce=str, validate_choice=False)
    shipment = StringField("Shipment or receipt number", validators=[Optional(),
                                                                     Length(max=80)])
    direction = SelectField("Direction", choices=options([("inbound", "Inbound"),
                                                          ("outbound", "Outbound")]),
                            validate_choice=False)
    timezone = StringField("Time zone of times without an offset",
                           validators=[Optional(), Length(max=64)])

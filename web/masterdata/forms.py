"""Forms of the master-data pages (Flask-WTF, so CSRF is checked). The engine validates the
values; these forms only shape them."""

from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from engine.masterdata.models import DEVICE_CLASSES, LICENCE_TYPES, REGIONS, ZONES
from web.i18n import Lazy
from web.signing import SignatureForm


def options(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """Choices of a select field as (value, label) pairs, each label shown in the user's
    language (a label without a translation, such as a location code, shows as it is)."""
    return [SelectChoice(value, Lazy(label)) for value, label in pairs]  # type: ignore[arg-type]


LICENCE_TYPE_LABELS = {
    "business_licence": "Business licence (营业执照)",
    "manufacturing_licence": "Manufacturing licence or filing (生产许可证/备案凭证)",
    "operating_licence": "Operating licence or filing (经营许可证/备案凭证)",
    "registrant_proof": "Registrant / filer proof (注册人/备案人证明)",
    "authorisation": "Authorisation letter (授权书)",
    "fda_establishment": "FDA establishment registration",
    "eu_registration": "EUDAMED actor registration (SRN)",
    "other": "Other",
}
ZONE_LABELS = {"quarantine": "Pending inspection / quarantine", "available": "Available",
               "nonconforming": "Nonconforming", "returns": "Returns", "shipping": "Shipping"}


class ProductForm(FlaskForm):
    code = StringField("Product code", validators=[Optional(), Length(max=40)])
    name_zh = StringField("Chinese name", validators=[Optional(), Length(max=200)])
    name_en = StringField("English name", validators=[Optional(), Length(max=200)])
    model = StringField("Model", validators=[Optional(), Length(max=120)])
    specification = StringField("Specification", validators=[Optional(), Length(max=200)])
    gtin = StringField("GTIN (UDI-DI)", validators=[Optional(), Length(max=20)])
    udi_di = StringField("Other UDI-DI (no GTIN)", validators=[Optional(), Length(max=80)])
    registration_no = StringField("Registration or filing number",
                                  validators=[Optional(), Length(max=120)])
    registration_expiry = DateField("Registration expiry", validators=[Optional()])
    device_class = SelectField("Device class", choices=options((c, c) for c in DEVICE_CLASSES))
    implantable = BooleanField("Implantable")
    storage_temp_min = StringField("Storage from (°C)", validators=[Optional(), Length(max=10)])
    storage_temp_max = StringField("Storage to (°C)", validators=[Optional(), Length(max=10)])
    cold_chain = BooleanField("Cold chain")
    near_expiry_days = IntegerField("Near-expiry warning (days)", default=180,
                                    validators=[Optional(), NumberRange(min=0, max=3650)])
    serialised = BooleanField("Serialised (one serial number per unit)")
    fda_tracked = BooleanField("FDA-tracked device (21 CFR 821)")
    manufacturer_id = SelectField("Manufacturer", coerce=str, validate_choice=False)
    reason = TextAreaField("Reason for the change", validators=[Optional(), Length(max=1000)])


class PartyForm(FlaskForm):
    code = StringField("Party code", validators=[Optional(), Length(max=40)])
    name = StringField("Registered name", validators=[Optional(), Length(max=200)])
    name_en = StringField("English name", validators=[Optional(), Length(max=200)])
    is_supplier = BooleanField("Supplier")
    is_manufacturer = BooleanField("Manufacturer")
    is_customer = BooleanField("Customer")
    user_facility = BooleanField("User facility (hospital, clinic: final user of devices)")
    country = StringField("Country (two letters)", validators=[Optional(), Length(max=2)])
    address = TextAreaField("Address", validators=[Optional(), Length(max=1000)])
    contact = StringField("Contact", validators=[Optional(), Length(max=200)])
    notify_email = StringField("Recall notices by e-mail",
                               validators=[Optional(), Length(max=200)])
    notify_webhook = StringField("Recall notices by webhook (URL)",
                                 validators=[Optional(), Length(max=300)])
    reason = TextAreaField("Reason for the change", validators=[Optional(), Length(max=1000)])


class LicenceForm(FlaskForm):
    type = SelectField("Licence type", choices=options((t, LICENCE_TYPE_LABELS[t])
                                                        for t in LICENCE_TYPES))
    number = StringField("Number", validators=[Optional(), Length(max=120)])
    class_i = BooleanField("Class I")
    class_ii = BooleanField("Class II")
    class_iii = BooleanField("Class III")
    scope_text = TextAreaField("Scope (as written on the licence)",
                               validators=[Optional(), Length(max=2000)])
    issuer = StringField("Issuer", validators=[Optional(), Length(max=200)])
    issued_on = DateField("Issued on", validators=[Optional()])
    expires_on = DateField("Expires on", validators=[Optional()])
    reason = TextAreaField("Reason for the change", validators=[Optional(), Length(max=1000)])

    def scope_classes(self) -> list[str]:
        return [c for c, field in (("I", self.class_i), ("II", self.class_ii),
                                   ("III", self.class_iii)) if field.data]


class SiteForm(FlaskForm):
    code = StringField("Site code", validators=[Optional(), Length(max=40)])
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    region = SelectField("Region", choices=options((r, r) for r in REGIONS))
    timezone = StringField("Time zone", validators=[Optional(), Length(max=64)])
    address = TextAreaField("Address", validators=[Optional(), Length(max=1000)])
    reason = TextAreaField("Reason for the change", validators=[Optional(), Length(max=1000)])


class LocationForm(FlaskForm):
    site_id = SelectField("Site", coerce=str, validate_choice=False)
    code = StringField("Location code", validators=[Optional(), Length(max=40)])
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    zone = SelectField("Zone", choices=options((z, ZONE_LABELS[z]) for z in ZONES))
    temp_min = StringField("Temperature from (°C)", validators=[Optional(), Length(max=10)])
    temp_max = StringField("Temperature to (°C)", validators=[Optional(), Length(max=10)])
    reason = TextAreaField("Reason for the change", validators=[Optional(), Length(max=1000)])


class ActiveForm(FlaskForm):
    """Retire or bring back a record: always with a reason."""

    reason = TextAreaField("Reason", validators=[DataRequired(message="Say why."),
                                                 Length(max=1000)])
    stock_acknowledged = BooleanField("The stock on hand stays here, no longer picked for "
                                      "orders.")


class ReviewForm(SignatureForm):
    """First-purchase / first-sale review (首营), signed."""

    decision = SelectField("Decision", choices=options([("approved", "Approved"),
                                                        ("rejected", "Rejected")]))
    note = TextAreaField("What was checked", validators=[Optional(), Length(max=2000)])

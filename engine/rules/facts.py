"""The compliance steps our processes gate, the typed fact each one hands the gate, and typing.

Every field below is what a rule may test; `type_fact` turns a raw dict (form data, service
results) into that typed fact or refuses it with the field and the reason. `steps_markdown()`
prints the whole catalog as the table process authors fill from (engine/rules/FACTS.md).

Types: bool; int; number (decimals and floats, sent to the engine as float); str; enum (one of
the listed values); date (sent as ISO `YYYY-MM-DD`, so it compares in calendar order);
datetime (zone required, sent as UTC `YYYY-MM-DDTHH:MM:SSZ`); list[str] (when the field lists
its values, only those). A field left out, given as None or as blank text is *missing*: a
rule test on a missing field is false, and a required field may not be missing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.rules.errors import FactError, clip, echo

FIELD_TYPES = ("bool", "int", "number", "str", "enum", "date", "datetime", "list[str]")
ORDERED_TYPES = frozenset({"int", "number", "date", "datetime"})
NUMERIC_TYPES = frozenset({"int", "number"})

# The engine reads JSON numbers without exponents only, and compares ints as doubles: keep
# every number inside the range where both hold.
MAX_INT = 2**53
MAX_NUMBER = 1e15
MIN_NONZERO_NUMBER = 1e-4
MAX_TEXT = 2000

FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")
RESERVED_NAMES = frozenset({"sid", "id"})


@dataclass(frozen=True)
class FieldSpec:
    """One field of a step's fact: its type, whether it must be present, and what it means."""

    name: str
    type: str
    doc: str
    required: bool = False
    choices: tuple[str, ...] = ()

    @property
    def is_list(self) -> bool:
        return self.type == "list[str]"


@dataclass(frozen=True)
class StepSchema:
    """A compliance step and the fields of its fact."""

    id: str
    title: str
    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)


def _bool(name: str, doc: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "bool", doc, required)


def _int(name: str, doc: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "int", doc, required)


def _number(name: str, doc: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "number", doc, required)


def _str(name: str, doc: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "str", doc, required)


def _enum(name: str, choices: Iterable[str], doc: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "enum", doc, required, tuple(choices))


def _list(name: str, choices: Iterable[str], doc: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "list[str]", doc, required, tuple(choices))


DEVICE_CLASSES = ("I", "II", "IIa", "IIb", "III")
STOCK_STATUSES = ("quarantine", "available", "nonconforming", "recalled", "shipped")
RECALL_LEVELS = ("I", "II", "III")
DELIVERY_NOTE_FIELDS = (
    "supplier", "registrant", "manufacturer", "product_name", "model_spec", "registration_no",
    "lot_or_serial", "expiry", "quantity", "transport_conditions", "storage_conditions",
    "consignee", "consignee_address", "consignee_contact", "ship_date", "seal",
)
INSPECTION_RECORD_FIELDS = (
    "product", "registration_no", "registrant_or_manufacturer", "lot_or_serial", "expiry",
    "supplier", "conclusion", "accepted_quantity", "inspector", "inspection_date", "udi",
)
SALES_RECORD_FIELDS = (
    "purchaser", "ship_to_address", "contact", "purchaser_licence_no", "product_name",
    "model_spec", "registration_no", "manufacturer", "lot_or_serial", "expiry", "quantity",
    "sale_date",
)
RECALL_RECORD_FIELDS = (
    "affected_products", "affected_lots", "quantities", "consignees", "notifications_sent",
    "stock_recovered", "disposition",
)
TRACKING_FIELDS = ("lot_or_serial", "receipt_date", "source")

# Shared field definitions, so one name means one thing at every step.
_DEVICE_CLASS = _enum("device_class", DEVICE_CLASSES,
                      "Device class: I, II, III (NMPA, FDA) or I, IIa, IIb, III (MDR).")
_IMPLANTABLE = _bool("implantable", "The device is implantable.")
_COLD_CHAIN = _bool("cold_chain", "The product must be kept in a temperature range "
                                  "(cold chain).")
_COLD_CHAIN_REQUIRED = _bool("cold_chain", _COLD_CHAIN.doc, required=True)
_IS_RETURN = _bool("is_return", "The goods are a customer return, not a purchase.",
                   required=True)
_TEMP_MIN = _number("temp_min_c", "Lowest temperature the manufacturer allows, in °C.")
_TEMP_MAX = _number("temp_max_c", "Highest temperature the manufacturer allows, in °C.")
_ARRIVAL_TEMP = _number("arrival_temperature_c", "Temperature measured on arrival, in °C.")
_TRANSIT_RECORD = _bool("in_transit_record_present",
                        "The carrier's in-transit temperature record was handed over.")
_TRANSIT_MIN = _number("in_transit_min_c", "Lowest temperature in the in-transit record, °C.")
_TRANSIT_MAX = _number("in_transit_max_c", "Highest temperature in the in-transit record, °C.")
_REGISTRATION_VALID = _bool(
    "product_registration_valid",
    "The product's registration or filing (注册证/备案凭证, FDA listing, CE certificate) is "
    "valid: not expired, not cancelled.")
_UDI_APPLICABLE = _bool("udi_applicable",
                        "UDI rules in force apply to this product (its class and date).")
_UDI_PRESENT = _bool("udi_present", "The label carries a UDI (plain text and barcode).")
_UDI_SCANNED = _bool("udi_scanned", "The UDI was scanned on this movement (带码入库/出库).")
_DAYS_TO_EXPIRY = _int("days_to_expiry",
                       "Days from today to the lot's expiry date; negative once expired.")
_NEAR_EXPIRY_DAYS = _int("near_expiry_days",
                         "The product's own near-expiry threshold in days; leave out to use "
                         "the pack default (180).")
_STOCK_STATUS = _enum("stock_status", STOCK_STATUSES, "Ledger status of the stock concerned.")
_DELIVERY_NOTE_MISSING = _list(
    "delivery_note_missing_fields", DELIVERY_NOTE_FIELDS,
    "Items the delivery note (随货同行单) lacks; empty list when complete.", required=True)
_RECALL_LEVEL = _enum("recall_level", RECALL_LEVELS,
                      "Recall level: 一级/二级/三级 (NMPA) or class I/II/III (FDA).",
                      required=True)

STEPS: Mapping[str, StepSchema] = {
    step.id: step
    for step in (
        StepSchema("master.supplier_review", "Supplier first-purchase review (首营企业)", (
            _enum("supplier_kind", ("manufacturer", "distributor"),
                  "Whether the supplier is the registrant/manufacturer or a distributor."),
            _bool("business_licence_valid", "The supplier's business licence is on file and "
                                            "valid.", required=True),
            _bool("supplier_licence_valid",
                  "The registrant/filer proof (manufacturer) or 经营许可证/备案凭证 "
                  "(distributor) is on file and valid.", required=True),
            _bool("authorisation_letter_valid",
                  "The authorisation letter is on file, names products, territory, term and "
                  "salesperson, and is in its term.", required=True),
            _bool("delivery_note_template_present",
                  "A sealed template of the supplier's delivery note (随货同行单) is on file.",
                  required=True),
            _int("supplier_licence_days_to_expiry",
                 "Days until the supplier licence ends; negative once expired."),
        )),
        StepSchema("master.product_review", "Product first-purchase review (首营品种)", (
            _bool("product_registration_present",
                  "A copy of the registration certificate or filing (注册证/备案凭证) is on "
                  "file.", required=True),
            _bool("product_registration_valid", _REGISTRATION_VALID.doc, required=True),
            _int("product_registration_days_to_expiry",
                 "Days until the registration ends; negative once expired."),
            _bool("label_sample_present", "A label sample is on file.", required=True),
            _UDI_APPLICABLE,
            _bool("udi_di_present", "The product's UDI-DI is recorded."),
            _DEVICE_CLASS,
            _IMPLANTABLE,
            _COLD_CHAIN,
        )),
        StepSchema("master.customer_review", "Customer first-sale review", (
            _bool("customer_licence_verified",
                  "The customer file holds a licence or filing that was checked and is "
                  "valid.", required=True),
            _bool("customer_scope_covers_class",
                  "The customer's licensed business scope covers the product's class.",
                  required=True),
            FieldSpec("device_class", "enum", "Highest device class the customer will buy.",
                      True, DEVICE_CLASSES),
        )),
        StepSchema("receiving.arrival", "Arrival against a purchase order, or a customer return", (
            _IS_RETURN,
            _COLD_CHAIN_REQUIRED,
            _bool("matches_purchase_order",
                  "Goods and transport match the purchase order (for returns: the original "
                  "sale).", required=True),
            _bool("matches_delivery_note", "Goods match the delivery note (随货同行单).",
                  required=True),
            _DELIVERY_NOTE_MISSING,
            _REGISTRATION_VALID,
            _str("transport_mode", "How the goods came (e.g. refrigerated truck)."),
            _ARRIVAL_TEMP,
            _TEMP_MIN,
            _TEMP_MAX,
            _TRANSIT_RECORD,
            _TRANSIT_MIN,
            _TRANSIT_MAX,
            FieldSpec("dispatch_time", "datetime", "When the goods left the sender."),
            FieldSpec("arrival_time", "datetime", "When the goods arrived."),
            _DEVICE_CLASS,
            _IMPLANTABLE,
            _UDI_APPLICABLE,
            _UDI_PRESENT,
            _UDI_SCANNED,
            _bool("label_dates_iso", "Dates on the label are written YYYY-MM-DD."),
            _bool("tracked_device", "The device is under FDA tracking (21 CFR 821)."),
            _list("tracking_missing_fields", TRACKING_FIELDS,
                  "Tracking data not yet recorded for a tracked device."),
        )),
        StepSchema("receiving.inspect", "Acceptance inspection (验收)", (
            _IS_RETURN,
            _COLD_CHAIN_REQUIRED,
            _bool("inspection_passed", "The inspector accepted the goods.", required=True),
            _list("inspection_record_missing_fields", INSPECTION_RECORD_FIELDS,
                  "Items the inspection record lacks; empty list when complete.",
                  required=True),
            _ARRIVAL_TEMP,
            _TEMP_MIN,
            _TEMP_MAX,
            _TRANSIT_RECORD,
            _TRANSIT_MIN,
            _TRANSIT_MAX,
            _DAYS_TO_EXPIRY,
            _DEVICE_CLASS,
            _IMPLANTABLE,
            _UDI_APPLICABLE,
            _UDI_PRESENT,
        )),
        StepSchema("receiving.putaway", "Putaway into a storage zone", (
            _bool("inspection_passed", "The goods passed acceptance inspection.",
                  required=True),
            _enum("target_zone", ("yellow", "green", "red"),
                  "Zone chosen: yellow = pending/returns, green = accepted/shipping, "
                  "red = nonconforming.", required=True),
            _bool("is_return", "The goods are a customer return."),
            _COLD_CHAIN,
        )),
        StepSchema("review.dual", "Second-person (four-eyes) review of another step", (
            _enum("review_of_step", (
                "receiving.inspect", "release.decide", "outbound.check", "receiving.arrival",
                "receiving.putaway", "outbound.pick", "outbound.ship", "recall.close",
                "storage.scan"), "The step whose work is reviewed.", required=True),
            _bool("reviewer_is_performer",
                  "The reviewer is the same user who performed that step.", required=True),
            _enum("review_decision", ("confirmed", "rejected"), "The reviewer's decision."),
        )),
        StepSchema("release.decide", "Quality release decision (放行)", (
            _enum("decision", ("release", "reject"), "Release or reject the stock.",
                  required=True),
            _bool("inspection_completed", "Acceptance inspection of this stock is complete.",
                  required=True),
            _bool("inspection_passed", "The inspection accepted the stock."),
            _STOCK_STATUS,
            _bool("ce_marking", "The device bears the CE marking."),
            _bool("eu_declaration_present", "The EU declaration of conformity is on file."),
            _bool("label_language_ok",
                  "The label is in the language of the destination Member State."),
            _bool("ifu_language_ok",
                  "The instructions for use are in the destination Member State's language."),
            _UDI_APPLICABLE,
            _UDI_PRESENT,
            _DAYS_TO_EXPIRY,
            _DEVICE_CLASS,
        )),
        StepSchema("outbound.order", "Sales order (销售)", (
            _bool("customer_licence_verified",
                  "The customer file holds a verified, valid licence or filing.",
                  required=True),
            _bool("customer_scope_covers_class",
                  "The customer's business scope covers the product's class.", required=True),
            FieldSpec("device_class", "enum", "Class of the product sold.", True,
                      DEVICE_CLASSES),
            _bool("product_registration_valid", _REGISTRATION_VALID.doc, required=True),
            _list("sales_record_missing_fields", SALES_RECORD_FIELDS,
                  "Items the sales record lacks; empty list when complete.", required=True),
            _STOCK_STATUS,
            _DAYS_TO_EXPIRY,
            _NEAR_EXPIRY_DAYS,
        )),
        StepSchema("outbound.pick", "Picking", (
            FieldSpec("stock_status", "enum", "Ledger status of the picked stock.", True,
                      STOCK_STATUSES),
            _DAYS_TO_EXPIRY,
            _NEAR_EXPIRY_DAYS,
            FieldSpec("expiry_date", "date", "Expiry date of the picked lot."),
            _UDI_APPLICABLE,
            _UDI_SCANNED,
        )),
        StepSchema("outbound.check", "Outbound check (出库复核)", (
            _bool("package_damaged", "A package is damaged.", required=True),
            _bool("seal_intact", "Every package is properly sealed.", required=True),
            _bool("label_legible", "Every label is legible.", required=True),
            _bool("label_matches", "Labels match the order and the goods.", required=True),
            _bool("anomaly_found", "The checker found any other anomaly.", required=True),
            _DAYS_TO_EXPIRY,
            _STOCK_STATUS,
        )),
        StepSchema("outbound.ship", "Shipment", (
            _COLD_CHAIN_REQUIRED,
            _bool("check_completed", "The outbound check (出库复核) of this shipment is done.",
                  required=True),
            _DELIVERY_NOTE_MISSING,
            _bool("boxes_preconditioned", "Cold-chain boxes were pre-conditioned."),
            _bool("vehicle_at_temperature", "The vehicle reached the required temperature "
                                            "before loading."),
            _str("cold_chain_responsible_person", "Named person responsible for the "
                                                  "cold-chain shipment."),
            _str("carrier", "Carrier name."),
            _str("waybill_no", "Waybill number."),
            _UDI_APPLICABLE,
            _UDI_SCANNED,
            _bool("tracked_device", "The device is under FDA tracking (21 CFR 821)."),
            _bool("final_distributor", "We sell this tracked device to the patient's "
                                       "provider (final distributor)."),
            _bool("patient_data_recorded", "Patient tracking data is recorded."),
        )),
        StepSchema("recall.open", "Recall opened", (
            _RECALL_LEVEL,
            _bool("manufacturer_notice_received", "The recall notice came from the "
                                                  "manufacturer/registrant.", required=True),
            _bool("affected_stock_on_hand", "We hold stock of an affected lot (any site).",
                  required=True),
            _bool("affected_lots_shipped", "We supplied affected lots to customers.",
                  required=True),
            _bool("correction_or_removal", "We correct or remove devices ourselves."),
            _bool("acting_as_manufacturer_or_importer",
                  "We act as manufacturer or importer of the device."),
            _bool("serious_risk", "The device presents a serious risk."),
        )),
        StepSchema("recall.notify", "Recall relayed to customers", (
            _RECALL_LEVEL,
            _int("days_since_manufacturer_notice",
                 "Whole days since the manufacturer's recall notice arrived.", required=True),
            _bool("consignee_list_complete",
                  "Every customer who received an affected lot is on the notice list.",
                  required=True),
        )),
        StepSchema("recall.close", "Recall closed", (
            _list("recall_record_missing_fields", RECALL_RECORD_FIELDS,
                  "Items the recall record lacks; empty list when complete.", required=True),
            _bool("all_consignees_notified", "Every consignee was notified.", required=True),
            _bool("register_entry_present",
                  "The recall is entered in the register of complaints, nonconformities, "
                  "recalls and withdrawals.", required=True),
        )),
        StepSchema("storage.scan", "Stock check, expiry and storage-condition scan", (
            _bool("quality_doubt", "A quality doubt was raised about this stock.",
                  required=True),
            _bool("serious_quality_issue", "The doubt is a serious quality issue."),
            _bool("serious_risk", "The device presents a serious risk."),
            _DAYS_TO_EXPIRY,
            _NEAR_EXPIRY_DAYS,
            FieldSpec("expiry_date", "date", "Expiry date of the lot."),
            _number("storage_temperature_c", "Storage temperature recorded, in °C."),
            _TEMP_MIN,
            _TEMP_MAX,
            _int("env_log_entries_last_24h",
                 "Temperature/humidity log entries recorded in the last 24 hours."),
            _STOCK_STATUS,
            _COLD_CHAIN,
        )),
        StepSchema("vigilance.report", "Adverse event, incident or complaint report", (
            _enum("outcome", ("death", "serious_injury", "serious_deterioration", "none"),
                  "Worst outcome for a person.", required=True),
            _bool("serious_incident", "The event is a serious incident (MDR Art 2(65))."),
            _bool("serious_public_health_threat", "The event is a serious public health "
                                                  "threat."),
            _bool("cluster", "A cluster of events (群体不良事件)."),
            _bool("nonconformity_after_sale", "A device already supplied is believed "
                                              "nonconforming."),
            _bool("complaint", "A complaint was received."),
            _bool("complaint_registered", "The complaint is entered in the register."),
            FieldSpec("aware_at", "datetime", "When we became aware of the event."),
        )),
        StepSchema("relabel.request", "Relabelling or repackaging (MDR Art 16)", (
            _enum("relabel_kind", ("translate_label", "repackage"),
                  "Translating label/IFU, or repackaging.", required=True),
            _bool("notified_manufacturer_and_authority",
                  "The manufacturer and the competent authority were notified.",
                  required=True),
            _int("days_since_notification", "Whole days since that notification."),
        )),
    )
}


def step_schema(step: str) -> StepSchema:
    """The schema of a step; FactError if the step is unknown."""
    try:
        return STEPS[step]
    except KeyError:
        raise FactError(f"Unknown compliance step {echo(step)}; steps: {', '.join(STEPS)}.",
                        fields={"step": "unknown step"}) from None


def type_fact(step: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Coerce a raw dict into the step's typed fact; FactError names each bad field."""
    schema = step_schema(step)
    if not isinstance(raw, Mapping):
        raise FactError(f"{step}: the fact must be a mapping of field to value, "
                        f"got {type(raw).__name__}.")
    problems: dict[str, str] = {}
    for name in raw:
        if schema.field(str(name)) is None:
            problems[clip(str(name))] = f"is not a field of step {step}"
    typed: dict[str, Any] = {}
    for spec in schema.fields:
        value = raw.get(spec.name)
        if isinstance(value, str) and not value.strip() and spec.type != "list[str]":
            value = None  # a blank text box is a field not given
        if value is None:
            if spec.required:
                problems[spec.name] = "is required"
            continue
        try:
            typed[spec.name] = coerce_value(spec, value)
        except ValueError as err:
            problems[spec.name] = str(err)
    if problems:
        detail = "; ".join(f"field '{name}' {reason}" for name, reason in problems.items())
        raise FactError(f"{step}: {detail}.", fields=problems)
    return typed


def coerce_value(spec: FieldSpec, value: Any) -> Any:
    """The typed form of one value; ValueError with the reason when it does not fit."""
    coerce = _COERCERS[spec.type]
    return coerce(spec, value)


def _to_bool(spec: FieldSpec, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"must be true or false, got {echo(value)} ({type(value).__name__})")


def _to_int(spec: FieldSpec, value: Any) -> int:
    number: Any = value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"must be a whole number, got {echo(value)}") from None
    if isinstance(number, bool) or not isinstance(number, int | float | Decimal):
        raise ValueError(f"must be a whole number, got {echo(value)} "
                         f"({type(value).__name__})")
    if isinstance(number, float | Decimal) and (not _finite(number) or number != int(number)):
        raise ValueError(f"must be a whole number, got {echo(value)}")
    result = int(number)
    if abs(result) >= MAX_INT:
        raise ValueError(f"is out of range (at most {MAX_INT - 1} in size)")
    return result


def _finite(number: float | Decimal) -> bool:
    return number.is_finite() if isinstance(number, Decimal) else math.isfinite(number)


def _to_number(spec: FieldSpec, value: Any) -> float:
    number: Any = value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"must be a number, got {echo(value)}") from None
    if isinstance(number, bool) or not isinstance(number, int | float | Decimal):
        raise ValueError(f"must be a number, got {echo(value)} ({type(value).__name__})")
    if isinstance(number, float | Decimal) and not _finite(number):
        raise ValueError(f"must be a finite number, got {echo(value)}")
    result = float(number)
    if abs(result) >= MAX_NUMBER:
        raise ValueError(f"is out of range (below {MAX_NUMBER:.0f} in size)")
    if result != 0 and abs(result) < MIN_NONZERO_NUMBER:
        raise ValueError(f"is too small to compare (round it to 4 decimals), got {value}")
    return result


def _to_str(spec: FieldSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, got {echo(value)} ({type(value).__name__})")
    if len(value) > MAX_TEXT:
        raise ValueError(f"is longer than {MAX_TEXT} characters")
    if not _clean_text(value):
        raise ValueError("must be valid Unicode text without NUL characters")
    return value


def _clean_text(text: str) -> bool:
    """Text the engine can carry: encodable as UTF-8 (no lone surrogates) and without NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _to_enum(spec: FieldSpec, value: Any) -> str:
    if not isinstance(value, str) or value not in spec.choices:
        raise ValueError(f"must be one of {', '.join(spec.choices)}; got {echo(value)}")
    return value


def _to_date(spec: FieldSpec, value: Any) -> str:
    if isinstance(value, datetime):
        raise ValueError("must be a date without a time, got a date-time")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise ValueError(f"must be a date YYYY-MM-DD, got {echo(value)}")


def _to_datetime(spec: FieldSpec, value: Any) -> str:
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z")
                                            else text)
        except ValueError:
            moment = None
    if moment is None:
        raise ValueError(f"must be an ISO date-time with a zone, got {echo(value)}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("must carry a time zone (e.g. 2024-07-01T08:00:00+08:00)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _to_list(spec: FieldSpec, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(f"must be a list of text, got {echo(value)} "
                         f"({type(value).__name__})")
    items: list[str] = []
    for item in value:
        if not isinstance(item, str) or not _clean_text(item) or len(item) > MAX_TEXT:
            raise ValueError(f"must hold valid text only (at most {MAX_TEXT} characters), "
                             f"got {echo(item)}")
        if spec.choices and item not in spec.choices:
            raise ValueError(f"may only hold {', '.join(spec.choices)}; got {echo(item)}")
        if item not in items:
            items.append(item)
    if isinstance(value, set | frozenset):
        items.sort()
    return items


_COERCERS = {
    "bool": _to_bool,
    "int": _to_int,
    "number": _to_number,
    "str": _to_str,
    "enum": _to_enum,
    "date": _to_date,
    "datetime": _to_datetime,
    "list[str]": _to_list,
}


def steps_markdown() -> str:
    """The step catalog as Markdown: one table per step, one row per field."""
    lines = [
        "# Steps and their facts",
        "",
        "Generated from `engine/rules/facts.py` by `steps_markdown()`; do not edit by hand.",
        "A field left out is *missing*: every rule test on it is false. Required fields "
        "must be given.",
    ]
    for schema in STEPS.values():
        lines += ["", f"## `{schema.id}`: {schema.title}", "",
                  "| field | type | required | meaning |", "| --- | --- | --- | --- |"]
        for spec in schema.fields:
            kind = spec.type
            if spec.choices:
                kind += ": " + ", ".join(spec.choices)
            lines.append(f"| `{spec.name}` | {kind} | {'yes' if spec.required else ''} | "
                         f"{spec.doc} |")
    return "\n".join(lines) + "\n"

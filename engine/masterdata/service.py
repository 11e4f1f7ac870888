"""Master data services: create and change sites, locations, products, parties and licences,
first-purchase / first-sale review (首营), and the validity flags of licences and registrations.

Every create and change is audited with before and after values; a change needs a reason.
Nothing is deleted: `set_active(..., False)` retires a record. Services flush; the caller commits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from biip import ParseError
from biip.gtin import Gtin
from flask import current_app
from sqlalchemy import or_, select

from engine import audit, netguard, signatures
from engine.db import db, utcnow
from engine.errors import Bilingual, Conflict, InvalidInput, NotFound
from engine.identity import service as identity
from engine.identity.models import User
from engine.masterdata import countries
from engine.masterdata.models import (
    DEVICE_CLASSES,
    LICENCE_TYPES,
    REGIONS,
    ZONES,
    Licence,
    Location,
    Party,
    Product,
    Site,
)

#: Licences and registrations are flagged this many days before they expire (GSP 51(4)(5)).
VALIDITY_WARNING_DAYS = 90
PARTY_KINDS = ("supplier", "manufacturer", "customer")

Record = TypeVar("Record", Site, Location, Product, Party, Licence)
Validator = Callable[[dict[str, Any]], dict[str, str]]


def _require(actor: User | audit.Actor, action: str) -> None:
    if isinstance(actor, User):
        identity.require(actor, action)


def _refuse(message: str, problems: Mapping[str, str]) -> None:
    if problems:
        raise InvalidInput(message, fields=dict(problems))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _decimal(value: Any, name: str, problems: dict[str, str]) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        problems[name] = "Enter a temperature in °C, for example 2 or -20.5."
        return None
    if not number.is_finite() or abs(number) >= 1000:
        problems[name] = "Enter a temperature between -999 and 999 °C."
        return None
    return number.quantize(Decimal("0.1"))


def _temperature_range(values: dict[str, Any], low: str, high: str,
                       problems: dict[str, str]) -> None:
    values[low] = _decimal(values.get(low), low, problems)
    values[high] = _decimal(values.get(high), high, problems)
    if values[low] is not None and values[high] is not None and values[low] > values[high]:
        problems[high] = "The upper limit is below the lower limit."


def normalise_gtin(value: str) -> str:
    """A GTIN-8/12/13/14 as its 14-digit form; a wrong length or check digit is refused."""
    digits = value.strip()
    try:
        return Gtin.parse(digits).as_gtin_14()
    except ParseError as exc:
        raise InvalidInput(f"{digits!r} is not a valid GTIN.", fields={"gtin": str(exc)}) from None


def _changed(record: Record, changes: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise InvalidInput("These fields cannot be changed here: " + ", ".join(sorted(unknown)),
                           fields={name: "Not changeable." for name in sorted(unknown)})
    return {name: getattr(record, name) for name in allowed}


def _update(actor: User | audit.Actor, record: Record, action: str, entity: str,
            changes: Mapping[str, Any], allowed: tuple[str, ...], validate: Validator,
            reason: str, what: str) -> Record:
    _require(actor, "masterdata.edit")
    if not reason.strip():
        raise InvalidInput(f"Say why the {what} is changed.", fields={"reason": "Required."})
    values = _changed(record, changes, allowed) | dict(changes)
    _refuse(f"The {what} was not changed.", validate(values))
    before = record.audit_values()
    for name in allowed:
        setattr(record, name, values[name])
    db.session.flush()
    after = record.audit_values()
    if after != before:
        audit.record(actor, action, entity, record.id, before=before, after=after,
                     reason=reason, reason_required=True)
    return record


# -- sites and locations -------------------------------------------------------------------

SITE_FIELDS = ("name", "region", "timezone", "address")


def _validate_site(values: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    values["name"] = _text(values.get("name"))
    values["address"] = _text(values.get("address"))
    values["region"] = _text(values.get("region")).upper()
    if not values["name"]:
        problems["name"] = "Name the site."
    if values["region"] not in REGIONS:
        problems["region"] = "Choose CN, US or EU."
    try:
        ZoneInfo(_text(values.get("timezone")) or "-")
        values["timezone"] = _text(values.get("timezone"))
    except (ZoneInfoNotFoundError, ValueError):
        problems["timezone"] = "Use an IANA time zone, for example Asia/Shanghai."
    return problems


def _check_code(code: str, problems: dict[str, str]) -> str:
    code = _text(code)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,39}", code):
        problems["code"] = "Use 1-40 letters, digits, dots, dashes, slashes or underscores."
    return code


def create_site(actor: User | audit.Actor, code: str, name: str, region: str, timezone: str,
                address: str = "") -> Site:
    _require(actor, "masterdata.edit")
    problems: dict[str, str] = {}
    code = _check_code(code, problems)
    values = {"name": name, "region": region, "timezone": timezone, "address": address}
    problems |= _validate_site(values)
    _refuse("The site could not be created.", problems)
    if db.session.scalar(select(Site.id).where(Site.code == code)) is not None:
        raise Conflict(f"A site with code {code!r} exists.", zh=f"编码为 {code} 的仓库已存在。",
                       fields={"code": "Code taken."})
    site = Site(code=code, **values)
    db.session.add(site)
    db.session.flush()
    audit.record(actor, "site.create", "site", site.id, after=site.audit_values())
    return site


def update_site(actor: User | audit.Actor, site: Site, reason: str, **changes: Any) -> Site:
    return _update(actor, site, "site.update", "site", changes, SITE_FIELDS, _validate_site,
                   reason, "site")


LOCATION_FIELDS = ("name", "zone", "temp_min", "temp_max")


def _validate_location(values: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    values["name"] = _text(values.get("name"))
    if values.get("zone") not in ZONES:
        problems["zone"] = "Choose one of: " + ", ".join(ZONES) + "."
    _temperature_range(values, "temp_min", "temp_max", problems)
    return problems


def create_location(actor: User | audit.Actor, site: Site, code: str, zone: str, name: str = "",
                    temp_min: Any = None, temp_max: Any = None) -> Location:
    _require(actor, "masterdata.edit")
    problems: dict[str, str] = {}
    code = _check_code(code, problems)
    values = {"name": name, "zone": zone, "temp_min": temp_min, "temp_max": temp_max}
    problems |= _validate_location(values)
    _refuse("The location could not be created.", problems)
    taken = select(Location.id).where(Location.site_id == site.id, Location.code == code)
    if db.session.scalar(taken) is not None:
        raise Conflict(f"Site {site.code} already has a location {code!r}.",
                       zh=f"仓库 {site.code} 已有库位 {code}。", fields={"code": "Code taken."})
    location = Location(site=site, code=code, **values)
    db.session.add(location)
    db.session.flush()
    audit.record(actor, "location.create", "location", location.id,
                 after=location.audit_values())
    return location


def update_location(actor: User | audit.Actor, location: Location, reason: str,
                    **changes: Any) -> Location:
    return _update(actor, location, "location.update", "location", changes, LOCATION_FIELDS,
                   _validate_location, reason, "location")


# -- products ------------------------------------------------------------------------------

PRODUCT_FIELDS = (
    "name_zh", "name_en", "model", "specification", "gtin", "udi_di", "registration_no",
    "registration_expiry", "device_class", "implantable", "storage_temp_min",
    "storage_temp_max", "cold_chain", "near_expiry_days", "serialised", "fda_tracked",
    "manufacturer_id",
)


def _validate_product(values: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    for name in ("name_zh", "name_en", "model", "specification", "udi_di", "registration_no"):
        values[name] = _text(values.get(name))
    if not values["name_zh"]:
        problems["name_zh"] = "Give the Chinese name (中文名称)."
    if not values["name_en"]:
        problems["name_en"] = "Give the English name."
    if values.get("device_class") not in DEVICE_CLASSES:
        problems["device_class"] = "Choose class I, II or III."
    gtin = _text(values.get("gtin"))
    if gtin:
        try:
            values["gtin"] = normalise_gtin(gtin)
        except InvalidInput as refused:
            problems["gtin"] = refused.fields["gtin"]
    else:
        values["gtin"] = None
    expiry = values.get("registration_expiry")
    if expiry is not None and not isinstance(expiry, date):
        problems["registration_expiry"] = "Give the expiry as a date."
    days = values.get("near_expiry_days")
    if days is None:
        values["near_expiry_days"] = 180
    elif not isinstance(days, int) or days < 0 or days > 3650:
        problems["near_expiry_days"] = "Give a whole number of days between 0 and 3650."
    _temperature_range(values, "storage_temp_min", "storage_temp_max", problems)
    for flag in ("implantable", "cold_chain", "serialised", "fda_tracked"):
        values[flag] = bool(values.get(flag))
    if values["cold_chain"] and (values["storage_temp_min"] is None
                                 or values["storage_temp_max"] is None):
        problems["storage_temp_min"] = "A cold-chain product needs its storage temperature range."
    manufacturer_id = values.get("manufacturer_id")
    if manufacturer_id is not None:
        maker = db.session.get(Party, manufacturer_id)
        if maker is None or not maker.is_manufacturer:
            problems["manufacturer_id"] = "Choose a party recorded as a manufacturer."
    return problems


def create_product(actor: User | audit.Actor, code: str, **fields: Any) -> Product:
    """Create a product; `fields` are the names in `PRODUCT_FIELDS`."""
    _require(actor, "masterdata.edit")
    problems: dict[str, str] = {}
    code = _check_code(code, problems)
    values = {name: None for name in PRODUCT_FIELDS} | dict(fields)
    unknown = set(values) - set(PRODUCT_FIELDS)
    if unknown:
        raise InvalidInput("Unknown product fields: " + ", ".join(sorted(unknown)))
    problems |= _validate_product(values)
    _refuse("The product could not be created.", problems)
    if db.session.scalar(select(Product.id).where(Product.code == code)) is not None:
        raise Conflict(f"A product with code {code!r} exists.", zh=f"编码为 {code} 的产品已存在。",
                       fields={"code": "Code taken."})
    if values["gtin"] and find_product(values["gtin"]) is not None:
        raise Conflict(f"GTIN {values['gtin']} belongs to another product.",
                       zh=f"GTIN {values['gtin']} 已属于其他产品。", fields={"gtin": "GTIN taken."})
    product = Product(code=code, **values)
    product.registration_flag = registration_flag(product)
    db.session.add(product)
    db.session.flush()
    audit.record(actor, "product.create", "product", product.id, after=product.audit_values())
    return product


def update_product(actor: User | audit.Actor, product: Product, reason: str,
                   **changes: Any) -> Product:
    _require(actor, "masterdata.edit")
    if changes.get("gtin"):
        other = find_product(normalise_gtin(str(changes["gtin"])))
        if other is not None and other.id != product.id:
            raise Conflict(f"GTIN {other.gtin} belongs to {other.code}.",
                           zh=f"GTIN {other.gtin} 已属于产品 {other.code}。",
                           fields={"gtin": "GTIN taken."})
    _update(actor, product, "product.update", "product", changes, PRODUCT_FIELDS,
            _validate_product, reason, "product")
    product.registration_flag = registration_flag(product)
    db.session.flush()
    return product


def find_product(key: str) -> Product | None:
    """A product by its code, or by a GTIN given in any of its lengths."""
    key = key.strip()
    if not (key.isdigit() and len(key) in (8, 12, 13, 14)):
        return db.session.scalar(select(Product).where(Product.code == key))
    # One statement: a product whose code is these digits comes before one with this GTIN.
    return db.session.scalar(
        select(Product).where(or_(Product.code == key, Product.gtin == key.zfill(14)))
        .order_by((Product.code == key).desc(), Product.id).limit(1))


def get_product(key: str) -> Product:
    product = find_product(key)
    if product is None:
        raise NotFound(f"No product with code or GTIN {key!r}.")
    return product


# -- parties and licences ------------------------------------------------------------------

PARTY_FIELDS = ("name", "name_en", "is_supplier", "is_manufacturer", "is_customer",
                "user_facility", "country", "address", "contact", "notify_email",
                "notify_webhook")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _validate_party(values: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    for name in ("name", "name_en", "address", "contact", "notify_email", "notify_webhook"):
        values[name] = _text(values.get(name))
    if values["notify_email"] and not _EMAIL.fullmatch(values["notify_email"]):
        problems["notify_email"] = "Give one e-mail address (name@example.com)."
    if values["notify_webhook"] and not re.fullmatch(r"https?://[^\s]+",
                                                      values["notify_webhook"]):
        problems["notify_webhook"] = "Give an http:// or https:// address."
    elif values["notify_webhook"]:
        settings = current_app.extensions["gxpflow.settings"]
        try:
            netguard.check_webhook(values["notify_webhook"], settings.webhook_allowed_hosts)
        except netguard.WebhookRefused as refused:
            problems["notify_webhook"] = Bilingual(refused.message, refused.zh or "")
    values["country"] = _text(values.get("country")).upper()
    if not values["name"]:
        problems["name"] = "Give the registered name."
    if values["country"] and values["country"] not in countries.CODES:
        problems["country"] = "Use the two-letter country code (CN, US, DE...)."
    for flag in ("is_supplier", "is_manufacturer", "is_customer", "user_facility"):
        values[flag] = bool(values.get(flag))
    if not (values["is_supplier"] or values["is_manufacturer"] or values["is_customer"]):
        problems["kinds"] = "A party is a supplier, a manufacturer or a customer (or several)."
    if values["user_facility"] and not values["is_customer"]:
        problems["user_facility"] = "Only a customer can be a user facility."
    return problems


def create_party(actor: User | audit.Actor, code: str, name: str, *, kinds: Iterable[str],
                 name_en: str = "", country: str = "", address: str = "",
                 contact: str = "", notify_email: str = "", notify_webhook: str = "",
                 user_facility: bool = False) -> Party:
    _require(actor, "masterdata.edit")
    kinds = set(kinds)
    problems: dict[str, str] = {}
    if kinds - set(PARTY_KINDS):
        problems["kinds"] = "Kinds are supplier, manufacturer and customer."
    code = _check_code(code, problems)
    values = {"name": name, "name_en": name_en, "country": country, "address": address,
              "contact": contact, "notify_email": notify_email,
              "notify_webhook": notify_webhook, "is_supplier": "supplier" in kinds,
              "is_manufacturer": "manufacturer" in kinds, "is_customer": "customer" in kinds,
              "user_facility": user_facility}
    problems |= _validate_party(values)
    _refuse("The party could not be created.", problems)
    if db.session.scalar(select(Party.id).where(Party.code == code)) is not None:
        raise Conflict(f"A party with code {code!r} exists.",
                       zh=f"编码为 {code} 的往来单位已存在。", fields={"code": "Code taken."})
    party = Party(code=code, **values)
    db.session.add(party)
    db.session.flush()
    audit.record(actor, "party.create", "party", party.id, after=party.audit_values())
    return party


def update_party(actor: User | audit.Actor, party: Party, reason: str, **changes: Any) -> Party:
    return _update(actor, party, "party.update", "party", changes, PARTY_FIELDS,
                   _validate_party, reason, "party")


def get_party(code: str) -> Party:
    party = db.session.scalar(select(Party).where(Party.code == code.strip()))
    if party is None:
        raise NotFound(f"No party with code {code!r}.")
    return party


LICENCE_FIELDS = ("type", "number", "scope_classes", "scope_text", "issuer", "issued_on",
                  "expires_on")


def _validate_licence(values: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    for name in ("number", "scope_text", "issuer"):
        values[name] = _text(values.get(name))
    if values.get("type") not in LICENCE_TYPES:
        problems["type"] = "Choose one of: " + ", ".join(LICENCE_TYPES) + "."
    if not values["number"]:
        problems["number"] = "Give the licence or certificate number."
    scope = values.get("scope_classes") or ()
    classes = [c.strip() for c in (scope.split(",") if isinstance(scope, str) else scope)]
    classes = [c for c in classes if c]
    if set(classes) - set(DEVICE_CLASSES):
        problems["scope_classes"] = "Scope classes are I, II and III."
    values["scope_classes"] = ",".join(c for c in DEVICE_CLASSES if c in classes)
    issued, expires = values.get("issued_on"), values.get("expires_on")
    if issued is not None and expires is not None and expires < issued:
        problems["expires_on"] = "The licence expires before it was issued."
    return problems


def add_licence(actor: User | audit.Actor, party: Party, type: str, number: str, *,
                expires_on: date | None, scope_classes: Iterable[str] | str = (),
                issuer: str = "", issued_on: date | None = None,
                scope_text: str = "") -> Licence:
    _require(actor, "masterdata.edit")
    values = {"type": type, "number": number, "scope_classes": scope_classes,
              "scope_text": scope_text, "issuer": issuer, "issued_on": issued_on,
              "expires_on": expires_on}
    _refuse("The licence could not be recorded.", _validate_licence(values))
    taken = select(Licence.id).where(Licence.party_id == party.id, Licence.type == values["type"],
                                     Licence.number == values["number"])
    if db.session.scalar(taken) is not None:
        raise Conflict(f"{party.code} already has {type} {number}.")
    licence = Licence(party=party, **values)
    db.session.add(licence)
    db.session.flush()
    audit.record(actor, "licence.create", "licence", licence.id, after=licence.audit_values())
    party.licence_flag = licence_flag(party)
    db.session.flush()
    return licence


def update_licence(actor: User | audit.Actor, licence: Licence, reason: str,
                   **changes: Any) -> Licence:
    _update(actor, licence, "licence.update", "licence", changes, LICENCE_FIELDS,
            _validate_licence, reason, "licence")
    licence.party.licence_flag = licence_flag(licence.party)
    db.session.flush()
    return licence


# -- retiring records ----------------------------------------------------------------------

ENTITY_NAMES: dict[type, str] = {Site: "site", Location: "location", Product: "product",
                                 Party: "party", Licence: "licence"}


def set_active(actor: User | audit.Actor, record: Site | Location | Product | Party | Licence,
               active: bool, reason: str, *, stock_acknowledged: bool = False) -> None:
    """Retire (or bring back) a master record; master records are never deleted.

    A site, location or product that still holds stock is retired only when the person says
    they know (`stock_acknowledged`): its stock stays, traceable, but is no longer picked for
    orders (a retired location) or received and ordered again (a retired product). What was on
    hand is recorded with the act."""
    _require(actor, "masterdata.edit")
    entity = ENTITY_NAMES[type(record)]
    if record.active == active:
        return
    held = {} if active else stock_on_hand(record)
    if held and not stock_acknowledged:
        total = sum(held.values())
        shown = ", ".join(f"{quantity} {status}" for status, quantity in held.items())
        raise Conflict(
            f"{_record_name(record)} still holds {total} units ({shown}). Retired, it takes no "
            "new stock and its stock is no longer picked for orders: move the stock first, or "
            "confirm that it stays.",
            zh=f"{_record_name(record, 'zh')} 仍有库存 {total} 件。停用后不再接收新库存，"
               "其库存也不再被拣货出库：请先移库，或确认库存保留在此。",
            fields={"stock_acknowledged": f"{total} units on hand."})
    before = record.audit_values()
    record.active = active
    if isinstance(record, Licence):
        record.party.licence_flag = licence_flag(record.party)
    db.session.flush()
    after = record.audit_values() | ({"stock_on_hand": held} if held else {})
    audit.record(actor, f"{entity}.{'activate' if active else 'deactivate'}", entity, record.id,
                 before=before, after=after, reason=reason, reason_required=True)


def stock_on_hand(record: Site | Location | Product | Party | Licence) -> dict[str, int]:
    """Units on hand per status at a site, in a location or of a product (empty: none; parties
    and licences hold no stock)."""
    from engine.ledger import service as ledger  # the ledger builds on master data

    if isinstance(record, Location):
        return ledger.on_hand_by_status(location=record)
    if isinstance(record, Site):
        return ledger.on_hand_by_status(site=record)
    if isinstance(record, Product):
        return ledger.on_hand_by_status(product=record)
    return {}


def _record_name(record: Site | Location | Product | Party | Licence, locale: str = "en") -> str:
    """"Location SH/A-01", "库位 SH/A-01": a record as a message names it."""
    zh = locale == "zh"
    if isinstance(record, Location):
        return f"{'库位' if zh else 'Location'} {record.label}"
    if isinstance(record, Site):
        return f"{'仓库' if zh else 'Site'} {record.code}"
    if isinstance(record, Product):
        return f"{'产品' if zh else 'Product'} {record.code}"
    return f"{ENTITY_NAMES[type(record)].capitalize()} {record.id}"


# -- validity of licences and registrations ------------------------------------------------

def validity(expires_on: date | None, today: date,
             warn_days: int = VALIDITY_WARNING_DAYS, issued_on: date | None = None) -> str:
    """`ok`, `near_expiry` or `expired` for a document valid up to and including `expires_on`;
    `not_yet_valid` before the day it was issued for (shown, never stored: a party's flag
    counts the licences in force only)."""
    if issued_on is not None and issued_on > today:
        return "not_yet_valid"
    if expires_on is None:
        return "ok"
    if expires_on < today:
        return "expired"
    if expires_on <= today + timedelta(days=warn_days):
        return "near_expiry"
    return "ok"


def licence_flag(party: Party, today: date | None = None) -> str:
    """The worst state among the party's active licences in force (`missing` when it has
    none; a licence issued for a later day is not in force yet)."""
    today = today or utcnow().date()
    states = {validity(lic.expires_on, today) for lic in party.licences
              if lic.active and not _future(lic, today)}
    if not states:
        return "missing"
    for state in ("expired", "near_expiry"):
        if state in states:
            return state
    return "ok"


def registration_flag(product: Product, today: date | None = None) -> str:
    if not product.registration_no:
        return "missing"
    return validity(product.registration_expiry, today or utcnow().date())


def licences_covering(party: Party, device_class: str, today: date | None = None) -> list[Licence]:
    """The party's licences in force whose scope covers a device class (GSP 82)."""
    today = today or utcnow().date()
    return [lic for lic in party.licences
            if lic.active and device_class in lic.classes
            and validity(lic.expires_on, today, issued_on=lic.issued_on)
            not in ("expired", "not_yet_valid")]


def _future(licence: Licence, today: date) -> bool:
    return licence.issued_on is not None and licence.issued_on > today


@dataclass
class FlagChanges:
    """What a validity scan changed: (code, old flag, new flag) per party and product."""

    parties: list[tuple[str, str, str]] = field(default_factory=list)
    products: list[tuple[str, str, str]] = field(default_factory=list)


def refresh_flags(today: date | None = None) -> FlagChanges:
    """Recompute the licence flag of every active party and the registration flag of every
    active product; changed flags are audited. Running it twice changes nothing the second time.
    """
    today = today or utcnow().date()
    changes = FlagChanges()
    horizon = today + timedelta(days=VALIDITY_WARNING_DAYS)
    near = select(Licence.party_id).where(Licence.active.is_(True),
                                          Licence.expires_on <= horizon)
    parties = db.session.scalars(
        select(Party).where(Party.active.is_(True),
                            or_(Party.licence_flag != "ok", Party.id.in_(near)))
    )
    for party in parties:
        flag = licence_flag(party, today)
        if flag != party.licence_flag:
            changes.parties.append((party.code, party.licence_flag, flag))
            audit.record(audit.SYSTEM, "party.licence_flag", "party", party.id,
                         before={"licence_flag": party.licence_flag},
                         after={"licence_flag": flag})
            party.licence_flag = flag
    products = db.session.scalars(
        select(Product).where(Product.active.is_(True),
                              or_(Product.registration_flag != "ok",
                                  Product.registration_expiry <= horizon))
    )
    for product in products:
        flag = registration_flag(product, today)
        if flag != product.registration_flag:
            changes.products.append((product.code, product.registration_flag, flag))
            audit.record(audit.SYSTEM, "product.registration_flag", "product", product.id,
                         before={"registration_flag": product.registration_flag},
                         after={"registration_flag": flag})
            product.registration_flag = flag
    db.session.flush()
    return changes


# -- first-purchase / first-sale review (首营) ---------------------------------------------

def _review(user: User, record: Party | Product, entity: str, decision: str, note: str,
            password: str, username: str | None, first_in_session: bool) -> None:
    identity.require(user, "masterdata.review")
    if decision not in ("approved", "rejected"):
        raise InvalidInput("Decide approved or rejected.", zh="请选择通过或不通过。",
                           fields={"decision": "Choose one."})
    if not note.strip():
        raise InvalidInput("Say what was checked.", zh="请说明审核了哪些内容。",
                           fields={"note": "A review note is required."})
    before = record.audit_values()
    content = {"decision": decision, "note": note.strip(), "record": before}
    signatures.sign(user, password, "approved" if decision == "approved" else "reviewed",
                    entity, record.id, content, username=username,
                    first_in_session=first_in_session)
    record.review_status = decision
    record.review_note = note.strip()
    record.reviewed_by = user.id
    record.reviewed_at = utcnow()
    db.session.flush()
    audit.record(user, f"{entity}.review", entity, record.id, before=before,
                 after=record.audit_values(), reason=note, reason_required=True)


#: A validity flag that refuses an approval, in Chinese.
_FLAG_ZH = {"missing": "缺失", "expired": "已过期"}


def review_party(user: User, party: Party, decision: str, note: str, *, password: str,
                 username: str | None = None, first_in_session: bool = True) -> Party:
    """Record the first-purchase (supplier, GSP 53) or first-sale (customer, GSP 81-82) review,
    signed by the reviewer. Approval needs licences on file, none of them expired."""
    party.licence_flag = licence_flag(party)
    if decision == "approved" and party.licence_flag in ("missing", "expired"):
        raise InvalidInput(
            f"{party.name} cannot be approved: its licences are {party.licence_flag}.",
            zh=f"{party.name} 不能审核通过：其许可证"
               f"{_FLAG_ZH.get(party.licence_flag, party.licence_flag)}。",
            fields={"licences": "Record valid licences (business licence, 经营许可证/备案凭证, "
                                "authorisation) first."})
    _review(user, party, "party", decision, note, password, username, first_in_session)
    return party


def review_product(user: User, product: Product, decision: str, note: str, *, password: str,
                   username: str | None = None, first_in_session: bool = True) -> Product:
    """First-purchase review of a product (首营品种, GSP 54), signed by the reviewer."""
    product.registration_flag = registration_flag(product)
    if decision == "approved" and product.registration_flag in ("missing", "expired"):
        raise InvalidInput(
            f"{product.code} cannot be approved: its registration is "
            f"{product.registration_flag}.",
            zh=f"{product.code} 不能审核通过：其注册证"
               f"{_FLAG_ZH.get(product.registration_flag, product.registration_flag)}。",
            fields={"registration_no": "Record a registration or filing number in force."})
    _review(user, product, "product", decision, note, password, username, first_in_session)
    return product


def active_sites(region: str | None = None) -> list[Site]:
    """The sites in use (of a region), in code order: what a form offers to choose from."""
    query = select(Site).where(Site.active.is_(True)).order_by(Site.code)
    if region is not None:
        query = query.where(Site.region == region)
    return list(db.session.scalars(query))


def get_site(code: str) -> Site:
    site = db.session.scalar(select(Site).where(Site.code == code.strip()))
    if site is None:
        raise NotFound(f"No site with code {code!r}.")
    return site


def get_location(site_code: str, code: str) -> Location:
    location = db.session.scalar(
        select(Location).join(Site).where(Site.code == site_code.strip(),
                                          Location.code == code.strip()))
    if location is None:
        raise NotFound(f"No location {code!r} at site {site_code!r}.")
    return location

"""Persistence of master data: sites, storage locations, products, parties and licences.

Rows are never deleted; `active` is switched off instead, so history keeps pointing somewhere.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import UTCDateTime, db, one_of, utcnow

REGIONS: Final = ("CN", "US", "EU")
#: Zone types of a storage location (GSP 40: pending/returns yellow, accepted/shipping green,
#: nonconforming red).
ZONES: Final = ("quarantine", "available", "nonconforming", "returns", "shipping")
DEVICE_CLASSES: Final = ("I", "II", "III")
#: First-purchase / first-sale review (首营) of a party or product.
REVIEW_STATUSES: Final = ("pending", "approved", "rejected")
#: Validity of a party's licences or a product's registration, kept fresh by the daily scan.
VALIDITY_FLAGS: Final = ("ok", "near_expiry", "expired", "missing")
LICENCE_TYPES: Final = (
    "business_licence",       # 营业执照
    "manufacturing_licence",  # 医疗器械生产许可证 / 备案凭证
    "operating_licence",      # 医疗器械经营许可证 / 备案凭证
    "registrant_proof",       # 注册人/备案人证明
    "authorisation",          # 授权书
    "fda_establishment",      # FDA establishment registration
    "eu_registration",        # EUDAMED actor registration (SRN)
    "other",
)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _number(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class Site(db.Model):  # type: ignore[name-defined]
    """A warehouse of the distributor, in one regulatory region and one time zone."""

    __tablename__ = "site"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    region: Mapped[str] = mapped_column(String(2), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    address: Mapped[str] = mapped_column(Text, nullable=False, default="")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (CheckConstraint(one_of("region", REGIONS), name="region"),)

    def audit_values(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "region": self.region,
                "timezone": self.timezone, "address": self.address, "active": self.active}


class Location(db.Model):  # type: ignore[name-defined]
    """A storage place in a site, of one zone type, with the temperature range it keeps."""

    __tablename__ = "location"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), nullable=False)
    code: Mapped[str] = mapped_column(String(40), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    zone: Mapped[str] = mapped_column(String(20), nullable=False)
    temp_min: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    temp_max: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    site: Mapped[Site] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("site_id", "code", name="uq_location_site_code"),
        CheckConstraint(one_of("zone", ZONES), name="zone"),
        CheckConstraint("temp_min IS NULL OR temp_max IS NULL OR temp_min <= temp_max",
                        name="temp_range"),
        Index("ix_location_site_zone", "site_id", "zone"),
    )

    @property
    def label(self) -> str:
        return f"{self.site.code}/{self.code}"

    def audit_values(self) -> dict[str, Any]:
        return {"site": self.site.code, "code": self.code, "name": self.name, "zone": self.zone,
                "temp_min": _number(self.temp_min), "temp_max": _number(self.temp_max),
                "active": self.active}


class Party(db.Model):  # type: ignore[name-defined]
    """A supplier, manufacturer or customer (one company may be several of these)."""

    __tablename__ = "party"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    name_en: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    is_supplier: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    is_manufacturer: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    is_customer: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: A customer that uses devices on patients (hospital, clinic): selling it a tracked device
    #: makes us the final distributor (21 CFR 821.30).
    user_facility: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    country: Mapped[str] = mapped_column(String(2), nullable=False, default="")
    address: Mapped[str] = mapped_column(Text, nullable=False, default="")
    contact: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    #: Where recall notices go: an e-mail address and/or an HTTPS webhook (customers).
    notify_email: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    notify_webhook: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    review_status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    licence_flag: Mapped[str] = mapped_column(String(12), nullable=False, default="missing")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    licences: Mapped[list[Licence]] = relationship(
        back_populates="party", lazy="selectin", order_by="Licence.id")

    __table_args__ = (
        CheckConstraint(one_of("review_status", REVIEW_STATUSES), name="review_status"),
        CheckConstraint(one_of("licence_flag", VALIDITY_FLAGS), name="licence_flag"),
        CheckConstraint("is_supplier OR is_manufacturer OR is_customer", name="has_role"),
    )

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, flag in (("supplier", self.is_supplier),
                                        ("manufacturer", self.is_manufacturer),
                                        ("customer", self.is_customer)) if flag]

    def audit_values(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "name_en": self.name_en,
                "kinds": self.kinds, "country": self.country, "address": self.address,
                "contact": self.contact, "notify_email": self.notify_email,
                "notify_webhook": self.notify_webhook, "user_facility": self.user_facility,
                "review_status": self.review_status,
                "licence_flag": self.licence_flag, "active": self.active}


class Licence(db.Model):  # type: ignore[name-defined]
    """A licence, certificate or authorisation a party holds, with its scope and expiry."""

    __tablename__ = "licence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), nullable=False)
    type: Mapped[str] = mapped_column(String(30), nullable=False)
    number: Mapped[str] = mapped_column(String(120), nullable=False)
    #: Device classes the licence covers, as "I,II,III" (empty: not class-bound).
    scope_classes: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    scope_text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    issuer: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    issued_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    party: Mapped[Party] = relationship(back_populates="licences")

    __table_args__ = (
        CheckConstraint(one_of("type", LICENCE_TYPES), name="type"),
        UniqueConstraint("party_id", "type", "number", name="uq_licence_party_type_number"),
        Index("ix_licence_expires", "expires_on"),
    )

    @property
    def classes(self) -> set[str]:
        return {c for c in self.scope_classes.split(",") if c}

    def audit_values(self) -> dict[str, Any]:
        return {"party": self.party_id, "type": self.type, "number": self.number,
                "scope_classes": self.scope_classes, "scope_text": self.scope_text,
                "issuer": self.issuer, "issued_on": _day(self.issued_on),
                "expires_on": _day(self.expires_on), "active": self.active}


class Product(db.Model):  # type: ignore[name-defined]
    """A medical device as the distributor buys, stores and sells it."""

    __tablename__ = "product"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    name_zh: Mapped[str] = mapped_column(String(200), nullable=False)
    name_en: Mapped[str] = mapped_column(String(200), nullable=False)
    model: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    specification: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    #: GTIN-14 (the UDI-DI when the issuer is GS1).
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)
    #: UDI-DI from another issuing agency (MA code, HIBC), when there is no GTIN.
    udi_di: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    registration_no: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    registration_expiry: Mapped[date | None] = mapped_column(Date)
    device_class: Mapped[str] = mapped_column(String(3), nullable=False)
    implantable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    storage_temp_min: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    storage_temp_max: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    cold_chain: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    near_expiry_days: Mapped[int] = mapped_column(Integer, nullable=False, default=180)
    serialised: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: Under FDA device tracking (21 CFR 821): receipts and final sales report to the maker.
    fda_tracked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    manufacturer_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"))
    review_status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    registration_flag: Mapped[str] = mapped_column(String(12), nullable=False, default="ok")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    #: Loaded when read (few steps need it; joined, every product lookup also read the
    #: manufacturer's licences).
    manufacturer: Mapped[Party | None] = relationship()

    __table_args__ = (
        CheckConstraint(one_of("device_class", DEVICE_CLASSES), name="device_class"),
        CheckConstraint(one_of("review_status", REVIEW_STATUSES), name="review_status"),
        CheckConstraint(one_of("registration_flag", VALIDITY_FLAGS), name="registration_flag"),
        CheckConstraint("near_expiry_days >= 0", name="near_expiry_days"),
        CheckConstraint("storage_temp_min IS NULL OR storage_temp_max IS NULL "
                        "OR storage_temp_min <= storage_temp_max", name="temp_range"),
        Index("ix_product_registration_expiry", "registration_expiry"),
    )

    @property
    def label(self) -> str:
        return f"{self.code} {self.name_en}"

    def audit_values(self) -> dict[str, Any]:
        return {
            "code": self.code, "name_zh": self.name_zh, "name_en": self.name_en,
            "model": self.model, "specification": self.specification, "gtin": self.gtin,
            "udi_di": self.udi_di, "registration_no": self.registration_no,
            "registration_expiry": _day(self.registration_expiry),
            "device_class": self.device_class, "implantable": self.implantable,
            "storage_temp_min": _number(self.storage_temp_min),
            "storage_temp_max": _number(self.storage_temp_max),
            "cold_chain": self.cold_chain, "near_expiry_days": self.near_expiry_days,
            "serialised": self.serialised, "fda_tracked": self.fda_tracked,
            "manufacturer_id": self.manufacturer_id,
            "review_status": self.review_status, "registration_flag": self.registration_flag,
            "active": self.active,
        }

"""Persistence of the inventory ledger: lots, serial units, append-only movements, balances,
count sheets and temperature records.

The database itself guards the invariants the ledger promises: movements are append-only on
PostgreSQL (trigger), a balance can never go below zero (CHECK), and a serial number has a
positive balance in at most one place (partial unique index).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import UTCDateTime, db, one_of, utcnow
from engine.masterdata.models import Location, Party, Product

#: Statuses stock can have while it is on hand (a balance row's status). "picked" is available
#: stock reserved for a sales order at the dispatch area: nothing allocates or sells it but the
#: order's own ship step.
STATUSES: Final = ("quarantine", "available", "picked", "nonconforming", "recalled")
#: Where stock goes when it leaves the ledger's locations.
OUT_STATUSES: Final = ("shipped", "scrapped", "missing")
KINDS: Final = (
    "receive", "putaway", "move", "status_change", "pick", "ship", "return", "return_supplier",
    "count_adjust", "scrap", "recall_hold", "recall_release", "reversal",
)
EXPIRY_FLAGS: Final = ("ok", "near_expiry", "expired")

BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class Lot(db.Model):  # type: ignore[name-defined]
    """A production lot (batch) of one product, with its dates and the supplier it came from."""

    __tablename__ = "lot"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), nullable=False)
    lot_no: Mapped[str] = mapped_column(String(40), nullable=False)
    expiry_date: Mapped[date | None] = mapped_column(Date)
    production_date: Mapped[date | None] = mapped_column(Date)
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"))
    expiry_flag: Mapped[str] = mapped_column(String(12), nullable=False, default="ok")
    locked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    lock_reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    product: Mapped[Product] = relationship(lazy="joined")
    supplier: Mapped[Party | None] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("product_id", "lot_no", name="uq_lot_product_lot_no"),
        CheckConstraint(one_of("expiry_flag", EXPIRY_FLAGS), name="expiry_flag"),
        Index("ix_lot_expiry", "expiry_date"),
    )

    def expired_on(self, day: date) -> bool:
        """A lot may be used up to and including its expiry date."""
        return self.expiry_date is not None and self.expiry_date < day

    def audit_values(self) -> dict[str, Any]:
        return {"product": self.product_id, "lot_no": self.lot_no,
                "expiry_date": self.expiry_date.isoformat() if self.expiry_date else None,
                "production_date": (self.production_date.isoformat()
                                    if self.production_date else None),
                "supplier": self.supplier_id, "expiry_flag": self.expiry_flag,
                "locked": self.locked, "lock_reason": self.lock_reason}


class SerialUnit(db.Model):  # type: ignore[name-defined]
    """One serialised item: where it is now and in which status (kept by the ledger service)."""

    __tablename__ = "serial_unit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), nullable=False)
    serial: Mapped[str] = mapped_column(String(40), nullable=False)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), nullable=False)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    #: An on-hand status, an out status (shipped, scrapped, missing), or None when its receipt
    #: was reversed.
    status: Mapped[str | None] = mapped_column(String(14))

    lot: Mapped[Lot] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("product_id", "serial", name="uq_serial_unit_product_serial"),
        CheckConstraint("(location_id IS NULL) = (status IS NULL OR "
                        + one_of("status", OUT_STATUSES) + ")", name="placed"),
    )


class StockBalance(db.Model):  # type: ignore[name-defined]
    """How much of a product, lot and serial is at a location in one status."""

    __tablename__ = "stock_balance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"), nullable=False)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), nullable=False)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), nullable=False)
    serial: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(14), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    location: Mapped[Location] = relationship(lazy="joined")
    lot: Mapped[Lot] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("location_id", "product_id", "lot_id", "serial", "status",
                         name="uq_stock_balance_key"),
        CheckConstraint("quantity >= 0", name="not_negative"),
        CheckConstraint("serial = '' OR quantity <= 1", name="serial_single"),
        CheckConstraint(one_of("status", STATUSES), name="status"),
        # A serial number is in one place, in one status, at a time.
        Index("uq_stock_balance_serial_on_hand", "product_id", "serial", unique=True,
              postgresql_where=text("serial <> '' AND quantity > 0"),
              sqlite_where=text("serial <> '' AND quantity > 0")),
        Index("ix_stock_balance_lot", "lot_id", "status"),
        Index("ix_stock_balance_on_hand", "product_id", "status",
              postgresql_where=text("quantity > 0"), sqlite_where=text("quantity > 0")),
    )


class StockMovement(db.Model):  # type: ignore[name-defined]
    """One posting: a quantity of a product, lot and serial going from a place and status to
    another. Never updated or deleted; a correction is a movement that `reverses` another."""

    __tablename__ = "stock_movement"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), nullable=False)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), nullable=False)
    serial: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    from_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    from_status: Mapped[str | None] = mapped_column(String(14))
    to_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    to_status: Mapped[str | None] = mapped_column(String(14))
    #: The supplier of a receipt or a return to supplier, the customer of a shipment or a return.
    party_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"))
    #: Receipt, shipment, count sheet or recall number the movement belongs to.
    document: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(120), nullable=False)
    instance_id: Mapped[str | None] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(String(64))
    reverses_id: Mapped[int | None] = mapped_column(
        BIG_ID, ForeignKey("stock_movement.id"), unique=True)

    lot: Mapped[Lot] = relationship(lazy="raise")
    from_location: Mapped[Location | None] = relationship(foreign_keys=[from_location_id],
                                                          lazy="raise")
    to_location: Mapped[Location | None] = relationship(foreign_keys=[to_location_id],
                                                        lazy="raise")

    __table_args__ = (
        CheckConstraint(one_of("kind", KINDS), name="kind"),
        CheckConstraint("quantity > 0", name="positive"),
        CheckConstraint("serial = '' OR quantity = 1", name="serial_single"),
        CheckConstraint("from_location_id IS NOT NULL OR to_location_id IS NOT NULL",
                        name="somewhere"),
        CheckConstraint("from_location_id IS NULL OR " + one_of("from_status", STATUSES),
                        name="from_status"),
        CheckConstraint("to_location_id IS NULL OR " + one_of("to_status", STATUSES),
                        name="to_status"),
        # Trace, both directions: every movement of a lot, filtered by kind.
        Index("ix_stock_movement_lot", "lot_id", "kind", "at"),
        Index("ix_stock_movement_serial", "product_id", "serial", "at",
              postgresql_where=text("serial <> ''"), sqlite_where=text("serial <> ''")),
        Index("ix_stock_movement_party", "party_id", "at"),
        Index("ix_stock_movement_document", "document"),
        Index("ix_stock_movement_instance", "instance_id", "task_id"),
    )

    def audit_values(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "product": self.product_id, "lot": self.lot_id,
            "serial": self.serial, "quantity": self.quantity,
            "from_location": self.from_location_id, "from_status": self.from_status,
            "to_location": self.to_location_id, "to_status": self.to_status,
            "party": self.party_id, "document": self.document, "reason": self.reason,
            "instance_id": self.instance_id, "task_id": self.task_id,
            "reverses": self.reverses_id, "at": self.at.isoformat(),
        }


class CountSheet(db.Model):  # type: ignore[name-defined]
    """A stock count (盘点) of one location; while it is open the location is frozen."""

    __tablename__ = "count_sheet"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="open")
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("e_signature.id"))

    location: Mapped[Location] = relationship(lazy="joined")
    lines: Mapped[list[CountLine]] = relationship(
        back_populates="sheet", lazy="selectin", order_by="CountLine.id")

    __table_args__ = (
        CheckConstraint(one_of("status", ("open", "posted", "cancelled")), name="status"),
        Index("uq_count_sheet_open_location", "location_id", unique=True,
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
    )


class CountLine(db.Model):  # type: ignore[name-defined]
    """What the ledger expected and what was counted, for one balance key of the location."""

    __tablename__ = "count_line"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("count_sheet.id"), nullable=False)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), nullable=False)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), nullable=False)
    serial: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(14), nullable=False)
    expected: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    counted: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    movement_id: Mapped[int | None] = mapped_column(BIG_ID, ForeignKey("stock_movement.id"))

    sheet: Mapped[CountSheet] = relationship(back_populates="lines")
    lot: Mapped[Lot] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("sheet_id", "product_id", "lot_id", "serial", "status",
                         name="uq_count_line_key"),
        CheckConstraint("counted IS NULL OR counted >= 0", name="counted"),
    )

    @property
    def variance(self) -> int | None:
        return None if self.counted is None else self.counted - self.expected


class TemperatureImport(db.Model):  # type: ignore[name-defined]
    """One file of temperature readings, for a location or for an inbound/outbound shipment."""

    __tablename__ = "temperature_import"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: "location:<id>" or "shipment:<direction>:<document>"; a file is imported once per subject.
    subject: Mapped[str] = mapped_column(String(120), nullable=False)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    shipment: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    direction: Mapped[str] = mapped_column(String(10), nullable=False, default="")
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    readings: Mapped[int] = mapped_column(Integer, nullable=False)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    excursions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    imported_by: Mapped[int | None] = mapped_column(Integer)
    imported_by_name: Mapped[str] = mapped_column(String(120), nullable=False)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("subject", "sha256", name="uq_temperature_import_file"),
        CheckConstraint("(location_id IS NULL) <> (shipment = '')", name="one_subject"),
        CheckConstraint(one_of("direction", ("", "inbound", "outbound")), name="direction"),
        Index("ix_temperature_import_location", "location_id", "first_at"),
        Index("ix_temperature_import_shipment", "shipment", "direction"),
    )


class TemperatureReading(db.Model):  # type: ignore[name-defined]
    """One reading of a logger or sensor (append-only on PostgreSQL)."""

    __tablename__ = "temperature_reading"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("temperature_import.id"), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    celsius: Mapped[Decimal] = mapped_column(Numeric(5, 2), nullable=False)
    sensor: Mapped[str] = mapped_column(String(80), nullable=False, default="")

    __table_args__ = (Index("ix_temperature_reading_import", "import_id", "recorded_at"),)


class TemperatureExcursion(db.Model):  # type: ignore[name-defined]
    """Readings of one import outside a permitted range: the location's own range (product
    None) or a product's storage range for goods stored there or carried in the shipment."""

    __tablename__ = "temperature_excursion"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("temperature_import.id"), nullable=False)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    allowed_min: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    allowed_max: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    lowest: Mapped[Decimal] = mapped_column(Numeric(5, 2), nullable=False)
    highest: Mapped[Decimal] = mapped_column(Numeric(5, 2), nullable=False)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    readings_out: Mapped[int] = mapped_column(Integer, nullable=False)

    temperature_import: Mapped[TemperatureImport] = relationship(lazy="joined")
    product: Mapped[Product | None] = relationship(lazy="joined")

    __table_args__ = (Index("ix_temperature_excursion_import", "import_id"),)

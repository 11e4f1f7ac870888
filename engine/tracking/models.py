"""A tracking report to a device's manufacturer and each attempt to deliver it.

Both are evidence (what the manufacturer was to be told, by when; who was told, how, when) and
are append-only: a report's state (pending, sent, failed, no channel) is computed from its
deliveries, never stored on it.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import UTCDateTime, db, one_of, utcnow
from engine.recall.models import DeliveryAttempt

EVENTS: Final = ("received", "shipped")
#: "none": no channel to try (no manufacturer on file, or neither e-mail nor webhook);
#: "manual": a quality manager sent it by other means (phone, letter, fax, portal) and says so.
CHANNELS: Final = ("email", "webhook", "none", "manual")
DELIVERY_STATUSES: Final = ("sent", "failed", "no_channel")
#: A report's state, computed from its deliveries (see engine.tracking.service.state).
STATES: Final = ("pending", "sent", "failed", "no_channel")


class TrackingNotice(db.Model):  # type: ignore[name-defined]
    """One lot of a tracked device received or provided, as its manufacturer is to be told."""

    __tablename__ = "tracking_notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    event: Mapped[str] = mapped_column(String(10), nullable=False)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), nullable=False)
    lot: Mapped[str] = mapped_column(String(40), nullable=False)
    #: JSON list of the serial numbers (empty for goods without serials).
    serials: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    #: Who it came from (received: the supplier, or the customer returning it) or went to
    #: (shipped: the customer).
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), nullable=False)
    #: The product's manufacturer when the report was made (None: none on file).
    manufacturer_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"))
    site_code: Mapped[str] = mapped_column(String(40), nullable=False)
    #: The site's calendar date of the receipt or shipment.
    event_date: Mapped[date] = mapped_column(Date, nullable=False)
    document: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    #: What a final distributor records about the patient (21 CFR 821.30), or nothing.
    patient_data: Mapped[str] = mapped_column(Text, nullable=False, default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    rule_id: Mapped[str] = mapped_column(String(80), nullable=False)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    step: Mapped[str] = mapped_column(String(60), nullable=False)

    product = relationship("Product", lazy="joined")
    party = relationship("Party", foreign_keys=[party_id], lazy="joined")
    manufacturer = relationship("Party", foreign_keys=[manufacturer_id], lazy="joined")

    __table_args__ = (
        CheckConstraint(one_of("event", EVENTS), name="event"),
        CheckConstraint("quantity > 0", name="quantity"),
        Index("ix_tracking_notice_product_lot", "product_id", "lot"),
        Index("ix_tracking_notice_due_at", "due_at"),
    )

    @property
    def reference(self) -> str:
        """The report's number as the manufacturer sees it."""
        return f"TRK-{self.id:06d}"

    @property
    def serial_list(self) -> list[str]:
        return list(json.loads(self.serials))

    def audit_values(self) -> dict[str, Any]:
        return {"reference": self.reference, "event": self.event, "product_id": self.product_id,
                "lot": self.lot, "serials": self.serial_list, "quantity": self.quantity,
                "party_id": self.party_id, "manufacturer_id": self.manufacturer_id,
                "site": self.site_code, "event_date": self.event_date.isoformat(),
                "document": self.document, "patient_data": bool(self.patient_data),
                "due_at": self.due_at.isoformat(), "rule": self.rule_id,
                "instance_id": self.instance_id, "step": self.step}


class TrackingDelivery(DeliveryAttempt, db.Model):  # type: ignore[name-defined]
    """One attempt to deliver a tracking report, through one channel (append-only)."""

    __tablename__ = "tracking_delivery"

    notice_id: Mapped[int] = mapped_column(ForeignKey("tracking_notice.id"), nullable=False,
                                           index=True)

    __table_args__ = (
        CheckConstraint(one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(one_of("status", DELIVERY_STATUSES), name="status"),
    )

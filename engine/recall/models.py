"""Recalls: the recall itself, each consignee (customer) it reaches, and each delivery attempt.

A recall holds every affected unit at once and lists every customer the forward trace finds.
Deliveries are evidence (who was told what, when, through which channel) and are append-only.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import UTCDateTime, db, one_of, utcnow

LEVELS: Final = ("I", "II", "III")
STATUSES: Final = ("open", "closed")
CHANNELS: Final = ("email", "webhook")
DELIVERY_STATUSES: Final = ("sent", "failed", "no_channel")


class Recall(db.Model):  # type: ignore[name-defined]
    __tablename__ = "recall"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(30), nullable=False, unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), nullable=False)
    #: JSON lists of the lot numbers and serial numbers named by the request.
    lots: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    serials: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    level: Mapped[str] = mapped_column(String(3), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="open")
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    #: SHA-256 (hex) of the request that came with the idempotency key (its canonical JSON):
    #: the same key with another request is refused, not answered with this recall.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    started_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    held_units: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: Hours the active packs give to notify every customer (None: no pack set one).
    deadline_hours: Mapped[int | None] = mapped_column(Integer)
    notify_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: JSON list of the gate's verdicts at opening (rule, effect, pack and version, message).
    verdicts: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    close_signature_id: Mapped[int | None] = mapped_column(ForeignKey("e_signature.id"))
    close_note: Mapped[str] = mapped_column(Text, nullable=False, default="")

    product = relationship("Product", lazy="joined")
    consignees: Mapped[list[RecallConsignee]] = relationship(
        back_populates="recall", order_by="RecallConsignee.id", lazy="select")

    __table_args__ = (
        CheckConstraint(one_of("level", LEVELS), name="level"),
        CheckConstraint(one_of("status", STATUSES), name="status"),
    )

    @property
    def lot_list(self) -> list[str]:
        return list(json.loads(self.lots))

    @property
    def serial_list(self) -> list[str]:
        return list(json.loads(self.serials))

    @property
    def verdict_list(self) -> list[dict[str, Any]]:
        return list(json.loads(self.verdicts))

    def audit_values(self) -> dict[str, Any]:
        return {"number": self.number, "product_id": self.product_id, "lots": self.lot_list,
                "serials": self.serial_list, "level": self.level, "reason": self.reason,
                "source": self.source, "status": self.status, "held_units": self.held_units,
                "deadline_hours": self.deadline_hours,
                "notify_due_at": self.notify_due_at.isoformat() if self.notify_due_at else None}


class RecallConsignee(db.Model):  # type: ignore[name-defined]
    """A customer who received affected units: what they got, and how far the recall reached."""

    __tablename__ = "recall_consignee"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recall_id: Mapped[int] = mapped_column(ForeignKey("recall.id"), nullable=False)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), nullable=False)
    #: JSON list of {lot, serial, quantity, document, shipped_at} from the forward trace.
    lines: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    quantity: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    notify_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    returned_quantity: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    recall: Mapped[Recall] = relationship(back_populates="consignees")
    party = relationship("Party", lazy="joined")

    __table_args__ = (
        UniqueConstraint("recall_id", "party_id", name="uq_recall_consignee"),
        Index("ix_recall_consignee_due", "notified_at", "notify_due_at"),
    )

    @property
    def line_list(self) -> list[dict[str, Any]]:
        return list(json.loads(self.lines))

    @property
    def outstanding(self) -> int:
        return max(self.quantity - self.returned_quantity, 0)

    def audit_values(self) -> dict[str, Any]:
        return {"recall_id": self.recall_id, "party_id": self.party_id,
                "quantity": self.quantity, "returned_quantity": self.returned_quantity,
                "notified_at": self.notified_at.isoformat() if self.notified_at else None,
                "acknowledged_at":
                    self.acknowledged_at.isoformat() if self.acknowledged_at else None,
                "acknowledged_note": self.acknowledged_note}


class DeliveryAttempt:
    """The columns of one attempt to deliver a notice through one channel (append-only rows:
    recall notices to customers, tracking reports to manufacturers)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    target: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")


class RecallDelivery(DeliveryAttempt, db.Model):  # type: ignore[name-defined]
    """One attempt to tell a consignee, through one channel (append-only)."""

    __tablename__ = "recall_delivery"

    consignee_id: Mapped[int] = mapped_column(ForeignKey("recall_consignee.id"), nullable=False,
                                              index=True)

    __table_args__ = (
        CheckConstraint(one_of("status", DELIVERY_STATUSES), name="status"),
    )

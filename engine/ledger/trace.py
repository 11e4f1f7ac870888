"""Traceability: for a lot or a serial number, where it came from (receipts, suppliers,
inspection decisions) and where it went (shipments, returns, customers, returns to suppliers).

Each direction is one indexed query on `stock_movement` (index `ix_stock_movement_lot` or
`ix_stock_movement_serial`): a lot keeps its identity across sites, so a multi-hop history
(received in Shanghai, moved to Chicago, shipped, returned, shipped again) is found without
recursion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Select, and_, func, not_, select
from sqlalchemy.orm import aliased

from engine.db import db
from engine.errors import InvalidInput, NotFound
from engine.ledger.models import Lot, SerialUnit, StockMovement
from engine.masterdata.models import Location, Party, Product, Site

#: Kinds that say where stock came from, and what was decided about it on the way in.
BACKWARD: Final = ("receive", "status_change")
#: Kinds that say where stock went: to customers and back, or back to a supplier.
FORWARD: Final = ("ship", "return", "return_supplier")


@dataclass(frozen=True)
class TraceRow:
    movement_id: int
    at: datetime
    kind: str
    quantity: int
    lot_no: str
    serial: str
    site: str
    location: str
    from_status: str | None
    to_status: str | None
    party_code: str | None
    party_name: str | None
    document: str
    actor: str
    instance_id: str | None
    task_id: str | None
    reversed_by: int | None
    #: Why: the inspection decision of a status change, the reason of a return.
    reason: str = ""

    @property
    def counts(self) -> bool:
        """False when a later reversal cancelled this movement."""
        return self.reversed_by is None


@dataclass(frozen=True)
class Trace:
    product: Product
    lot: Lot | None
    serial: str
    backward: list[TraceRow]
    forward: list[TraceRow]

    @property
    def suppliers(self) -> list[str]:
        return _distinct(r.party_name for r in self.backward if r.kind == "receive" and r.counts)

    @property
    def customers(self) -> list[str]:
        return _distinct(r.party_name for r in self.forward if r.kind == "ship" and r.counts)

    @property
    def returned_to_suppliers(self) -> list[str]:
        return _distinct(r.party_name for r in self.forward
                         if r.kind == "return_supplier" and r.counts)

    @property
    def net_shipped(self) -> int:
        """Net quantity at customers; what went back to a supplier is not at a customer."""
        sign = {"ship": 1, "return": -1}
        return sum(sign.get(r.kind, 0) * r.quantity for r in self.forward if r.counts)


def _distinct(names: object) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:  # type: ignore[attr-defined]
        if name:
            seen[name] = None
    return list(seen)


def _query(kinds: tuple[str, ...]) -> Select:  # type: ignore[type-arg]
    m = StockMovement
    reversal = aliased(StockMovement)
    place = aliased(Location)
    # Picking in place and undoing it are status changes too, but no decision about the goods.
    reserving = and_(m.kind == "status_change", m.from_status.in_(("available", "picked")),
                     m.to_status.in_(("available", "picked")))
    return (
        select(m.id, m.at, m.kind, m.quantity, Lot.lot_no, m.serial,
               Site.code.label("site"), place.code.label("location"), m.from_status,
               m.to_status, Party.code.label("party_code"), Party.name.label("party_name"),
               m.document, m.actor_name, m.instance_id, m.task_id,
               reversal.id.label("reversed_by"), m.reason)
        .join(Lot, Lot.id == m.lot_id)
        .outerjoin(place, place.id == func.coalesce(m.to_location_id, m.from_location_id))
        .outerjoin(Site, Site.id == place.site_id)
        .outerjoin(Party, Party.id == m.party_id)
        .outerjoin(reversal, reversal.reverses_id == m.id)
        .where(m.kind.in_(kinds), not_(reserving))
        .order_by(m.at, m.id)
    )


def _rows(query: Select) -> list[TraceRow]:  # type: ignore[type-arg]
    return [TraceRow(*row) for row in db.session.execute(query)]


def lot_backward(lot: Lot) -> list[TraceRow]:
    """Receipts (suppliers, delivery documents) and inspection decisions of a lot."""
    return _rows(_query(BACKWARD).where(StockMovement.lot_id == lot.id))


def lot_forward(lot: Lot) -> list[TraceRow]:
    """Shipments, returns and returns to suppliers of a lot: parties, quantities, serials,
    dates."""
    return _rows(_query(FORWARD).where(StockMovement.lot_id == lot.id))


def serial_backward(product: Product, serial: str) -> list[TraceRow]:
    return _rows(_query(BACKWARD).where(StockMovement.product_id == product.id,
                                        StockMovement.serial == serial))


def serial_forward(product: Product, serial: str) -> list[TraceRow]:
    return _rows(_query(FORWARD).where(StockMovement.product_id == product.id,
                                       StockMovement.serial == serial))


def trace(product: Product, *, lot_no: str | None = None, serial: str | None = None) -> Trace:
    """Trace a lot, or one serial number (whose lot is then shown too), in both directions."""
    lot_no = (lot_no or "").strip()
    serial = (serial or "").strip()
    if not lot_no and not serial:
        raise InvalidInput("Give a lot number or a serial number to trace.",
                           fields={"lot": "Lot or serial required."})
    lot = None
    if lot_no:
        lot = db.session.scalar(select(Lot).where(Lot.product_id == product.id,
                                                  Lot.lot_no == lot_no))
        if lot is None:
            raise NotFound(f"{product.code} has no lot {lot_no!r} in the ledger.",
                           zh=f"库存台账中没有 {product.code} 的批号 {lot_no}。")
    if serial:
        unit = db.session.scalar(select(SerialUnit).where(SerialUnit.product_id == product.id,
                                                          SerialUnit.serial == serial))
        if unit is None:
            raise NotFound(f"{product.code} has no serial {serial!r} in the ledger.",
                           zh=f"库存台账中没有 {product.code} 的序列号 {serial}。")
        if lot is not None and unit.lot_id != lot.id:
            raise InvalidInput(f"Serial {serial} belongs to lot {unit.lot.lot_no}, not {lot_no}.",
                               zh=f"序列号 {serial} 属于批号 {unit.lot.lot_no}，不是 {lot_no}。")
        return Trace(product, unit.lot, serial, serial_backward(product, serial),
                     serial_forward(product, serial))
    assert lot is not None
    return Trace(product, lot, "", lot_backward(lot), lot_forward(lot))

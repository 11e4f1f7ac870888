"""The ledger: post stock movements, keep balances and serial units in the same transaction,
allocate first-expiry-first-out, pick (reserve) stock for an order, lock lots, hold and release
recalled stock, reverse mistakes.

Every posting goes through `_post`, which takes stock with a conditional UPDATE (`quantity >=
:q`, so concurrent postings cannot overdraw), adds it with an upsert, moves the serial unit under
a row lock, appends the movement, audits it and sends `engine.signals.movement_posted`. The
database backs each promise (CHECK quantity >= 0, one on-hand row per serial). Services flush;
the caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from engine import audit, signals
from engine.db import db, utcnow
from engine.errors import Conflict, InvalidInput, NotFound
from engine.identity import service as identity
from engine.identity.models import User
from engine.ledger import gs1
from engine.ledger.models import (
    STATUSES,
    CountSheet,
    Lot,
    SerialUnit,
    StockBalance,
    StockMovement,
)
from engine.masterdata.models import Location, Party, Product, Site
from engine.masterdata.service import find_product

Who = User | audit.Actor

#: The permission each kind of posting needs (status changes depend on where they start).
ACTIONS = {
    "receive": "ledger.receive", "return": "ledger.receive", "putaway": "ledger.move",
    "move": "ledger.move", "pick": "ledger.move", "ship": "ledger.move",
    "return_supplier": "ledger.release", "count_adjust": "ledger.count",
    "scrap": "ledger.correct", "reversal": "ledger.correct",
    # Whoever may start a recall may hold its stock (an API client included); releasing it is
    # the quality manager's decision.
    "recall_hold": "recalls.start", "recall_release": "ledger.release",
}
#: Sellable stock lives in green zones only; nonconforming stock in the red zone only (GSP 40);
#: stock picked for an order waits in the dispatch area.
STATUS_ZONES = {"available": ("available", "shipping"), "picked": ("shipping",),
                "nonconforming": ("nonconforming",)}
OUTBOUND = ("pick", "ship")
#: Picking reserves available stock for an order; undoing a pick frees it again. Both are the
#: warehouse operator's work, not a quality decision.
RESERVING = (("available", "picked"), ("picked", "available"))
#: Whoever handles stock may set it aside for QA when they find a problem (GSP 87: a failed
#: outbound check); taking it out of quarantine again is QA's decision.
SETTING_ASIDE = (("available", "quarantine"), ("picked", "quarantine"))


@dataclass(frozen=True)
class Place:
    """Where stock is: a location and a status."""

    location: Location
    status: str

    def describe(self) -> str:
        return f"{self.location.label} ({self.status})"


@dataclass(frozen=True)
class Allocation:
    """One line of a FEFO allocation: take `quantity` from this balance."""

    location: Location
    lot: Lot
    serial: str
    quantity: int


def site_today(site: Site) -> date:
    """The calendar date at the site now: expiry dates are days where the goods are."""
    return utcnow().astimezone(ZoneInfo(site.timezone)).date()


def _actor(actor: Who) -> audit.Actor:
    return actor if isinstance(actor, audit.Actor) else audit.Actor(actor.id, actor.full_name)


def _require(actor: Who, action: str) -> None:
    if isinstance(actor, User):
        identity.require(actor, action)


def _upsert_balance(place: Place, lot: Lot, serial: str, quantity: int) -> None:
    table = StockBalance.__table__
    values = {"location_id": place.location.id, "product_id": lot.product_id, "lot_id": lot.id,
              "serial": serial, "status": place.status, "quantity": quantity}
    insert = (postgresql.insert(table) if db.session.get_bind().dialect.name == "postgresql"
              else sqlite.insert(table))
    statement = insert.values(**values).on_conflict_do_update(
        index_elements=["location_id", "product_id", "lot_id", "serial", "status"],
        set_={"quantity": table.c.quantity + quantity},
    )
    db.session.execute(statement)


def _key(place: Place, lot: Lot, serial: str) -> list[ColumnElement[bool]]:
    return [StockBalance.location_id == place.location.id, StockBalance.lot_id == lot.id,
            StockBalance.product_id == lot.product_id, StockBalance.serial == serial,
            StockBalance.status == place.status]


def _take_balance(place: Place, lot: Lot, serial: str, quantity: int) -> None:
    taken = db.session.execute(
        update(StockBalance).where(*_key(place, lot, serial), StockBalance.quantity >= quantity)
        .values(quantity=StockBalance.quantity - quantity)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        have = db.session.scalar(select(StockBalance.quantity).where(*_key(place, lot, serial)))
        what = f"serial {serial}" if serial else f"{quantity} of lot {lot.lot_no}"
        raise InvalidInput(
            f"Cannot take {what} of {lot.product.code} from {place.describe()}: "
            f"only {have or 0} there.",
            zh=f"无法从 {place.describe()} 取出 {lot.product.code} 的 {what}："
               f"该处仅有 {have or 0}。",
            fields={"quantity": f"{have or 0} on hand at {place.describe()}."})


def _lock_rows(places: Sequence[Place], lot: Lot, serial: str) -> None:
    """Lock the balance rows a posting touches, always in id order, so two postings that touch
    the same two rows in opposite directions queue up instead of deadlocking."""
    keys = [and_(*_key(place, lot, serial)) for place in places]
    db.session.execute(select(StockBalance.id).where(or_(*keys))
                       .order_by(StockBalance.id).with_for_update())


def _expire_balances() -> None:
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, StockBalance):
            db.session.expire(obj)


def _check_target(kind: str, target: Place) -> None:
    if kind == "reversal":  # a correction puts stock back exactly where it was
        return
    if not target.location.active:
        raise InvalidInput(f"Location {target.location.label} is retired.",
                           zh=f"库位 {target.location.label} 已停用。")
    zones = STATUS_ZONES.get(target.status)
    if zones and target.location.zone not in zones:
        raise InvalidInput(
            f"{target.status.capitalize()} stock cannot go to {target.location.label}, a "
            f"{target.location.zone} zone; choose a location in a {' or '.join(zones)} zone.",
            zh=f"{target.location.label} 所在库区不能存放该状态的库存，请选择正确库区的库位。",
            fields={"location": "Wrong zone for this status."})


def _check_frozen(places: Sequence[Place], count_sheet: CountSheet | None) -> None:
    ids = {p.location.id for p in places}
    counting = db.session.execute(
        select(CountSheet.id, CountSheet.number)
        .where(CountSheet.location_id.in_(ids), CountSheet.status == "open")
    ).first()
    if counting is not None and (count_sheet is None or counting.id != count_sheet.id):
        raise Conflict(f"The location is being counted (sheet {counting.number}); post after "
                       "the count is posted or cancelled.",
                       zh=f"该库位正在盘点（盘点单 {counting.number}），"
                          "请在盘点过账或取消后再操作。")


def _goes_out(kind: str, target: Place | None) -> bool:
    """A pick (to the dispatch area, or in place as a status change) or a shipment."""
    return kind in OUTBOUND or (kind == "status_change" and target is not None
                                and target.status == "picked")


def _check_outbound(kind: str, lot: Lot, source: Place) -> None:
    if lot.locked:
        raise InvalidInput(f"Lot {lot.lot_no} is locked from outbound: {lot.lock_reason}",
                           zh=f"批号 {lot.lot_no} 已锁定，不能出库：{lot.lock_reason}",
                           fields={"lot": "Locked."})
    if lot.expired_on(site_today(source.location.site)):
        raise InvalidInput(f"Lot {lot.lot_no} expired on {lot.expiry_date}; it cannot go out.",
                           zh=f"批号 {lot.lot_no} 已于 {lot.expiry_date} 过期，不能出库。",
                           fields={"lot": "Expired."})
    # A shipment takes the goods picked for its order; a pick takes available stock only.
    allowed = ("available", "picked") if kind == "ship" else ("available",)
    if source.status not in allowed:
        raise InvalidInput(f"Only available stock can go out; this is {source.status}.",
                           zh="只有合格（可用）库存才能出库。",
                           fields={"status": "Not available."})


def _move_serial(kind: str, lot: Lot, serial: str, source: Place | None, target: Place | None,
                 out_status: str | None, prior: tuple[str | None, ...]) -> None:
    unit = db.session.scalar(
        select(SerialUnit).where(SerialUnit.product_id == lot.product_id,
                                 SerialUnit.serial == serial)
        .options(lazyload(SerialUnit.lot))
        .with_for_update(of=SerialUnit).execution_options(populate_existing=True)
    )
    name = f"Serial {serial} of {lot.product.code}"
    if source is not None:
        if unit is None or unit.location_id != source.location.id or unit.status != source.status:
            raise Conflict(f"{name} is not at {source.describe()}.")
    elif unit is not None and unit.status not in prior:
        where = (f"already in stock ({unit.status})" if unit.status in STATUSES
                 else f"{unit.status or 'not received'}")
        raise Conflict(f"{name} is {where}: a {kind} cannot bring it in.")
    if unit is not None and unit.lot_id != lot.id:
        raise Conflict(f"{name} belongs to lot {unit.lot.lot_no}, not {lot.lot_no}.")
    if unit is None:
        unit = SerialUnit(product_id=lot.product_id, serial=serial, lot_id=lot.id)
        db.session.add(unit)
    unit.location_id = target.location.id if target else None
    unit.status = target.status if target else out_status
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict(f"{name} was just received by another posting; it is in stock once.",
                       fields={"serial": "Already in stock."}) from None


def _post(actor: Who, kind: str, lot: Lot, quantity: int, *, serial: str = "",
          source: Place | None = None, target: Place | None = None,
          out_status: str | None = None, party: Party | None = None, document: str = "",
          reason: str = "", instance_id: str | None = None, task_id: str | None = None,
          reverses: StockMovement | None = None, serial_prior: tuple[str | None, ...] = (None,),
          count_sheet: CountSheet | None = None, sale: bool = True) -> StockMovement:
    product = lot.product
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise InvalidInput("The quantity must be a whole number above zero.",
                           zh="数量必须是大于零的整数。", fields={"quantity": "Above zero."})
    serial = (serial or "").strip()
    if product.serialised and not serial:
        raise InvalidInput(f"{product.code} is serialised: give the serial number of each unit.",
                           zh=f"{product.code} 按序列号管理：请填写每件的序列号。",
                           fields={"serial": "Required."})
    if serial and not product.serialised:
        raise InvalidInput(f"{product.code} is not serialised; leave the serial empty.",
                           zh=f"{product.code} 不按序列号管理，序列号请留空。",
                           fields={"serial": "Not tracked."})
    if serial and quantity != 1:
        raise InvalidInput("A serial number is one unit: the quantity must be 1.",
                           zh="一个序列号对应一件：数量必须为 1。",
                           fields={"quantity": "Must be 1."})
    places = [p for p in (source, target) if p is not None]
    for where in places:
        if where.status not in STATUSES:
            raise InvalidInput(f"Unknown stock status {where.status!r}.",
                               fields={"status": "One of " + ", ".join(STATUSES) + "."})
    if target is not None:
        _check_target(kind, target)
    if source is not None and sale and _goes_out(kind, target):
        _check_outbound(kind, lot, source)
    _check_frozen(places, count_sheet)

    if serial:
        _move_serial(kind, lot, serial, source, target, out_status, serial_prior)
    _lock_rows(places, lot, serial)
    try:
        if source is not None:
            _take_balance(source, lot, serial, quantity)
        if target is not None:
            _upsert_balance(target, lot, serial, quantity)
        who = _actor(actor)
        movement = StockMovement(
            kind=kind, at=utcnow(), product_id=product.id, lot_id=lot.id, serial=serial,
            quantity=quantity,
            from_location_id=source.location.id if source else None,
            from_status=source.status if source else (
                reverses.to_status if reverses is not None else
                ("shipped" if kind == "return" else None)),
            to_location_id=target.location.id if target else None,
            to_status=target.status if target else out_status,
            party_id=party.id if party else None, document=document.strip(),
            reason=reason.strip(), actor_id=who.id, actor_name=who.name,
            instance_id=instance_id, task_id=task_id,
            reverses_id=reverses.id if reverses else None,
        )
        db.session.add(movement)
        db.session.flush()
    except IntegrityError as clash:
        raise Conflict(f"The posting clashes with another one made at the same time "
                       f"({_constraint(clash)}); reload and try again.") from None
    _expire_balances()
    audit.record(who, f"stock.{kind}", "stock_movement", movement.id,
                 after=movement.audit_values(), reason=reason,
                 reason_required=kind in ("reversal", "count_adjust", "scrap"))
    signals.movement_posted.send(kind, movement=movement)
    return movement


def _constraint(error: IntegrityError) -> str:
    text = str(error.orig)
    for name in ("uq_stock_balance_serial_on_hand", "uq_serial_unit_product_serial",
                 "ck_stock_balance_not_negative", "uq_stock_movement_reverses_id"):
        if name in text or name.removeprefix("uq_").removeprefix("ck_") in text:
            return name
    return text.splitlines()[0][:120]


# -- lots ------------------------------------------------------------------------------------

def find_lot(product: Product, lot_no: str) -> Lot | None:
    return db.session.scalar(select(Lot).where(Lot.product_id == product.id,
                                               Lot.lot_no == lot_no.strip()))


def get_lot(product: Product, lot_no: str) -> Lot:
    lot = find_lot(product, lot_no)
    if lot is None:
        raise NotFound(f"{product.code} has no lot {lot_no!r}.")
    return lot


def _lot_for_receipt(actor: Who, product: Product, lot_no: str, expiry: date | None,
                     production_date: date | None, supplier: Party) -> Lot:
    lot_no = lot_no.strip()
    if not lot_no or len(lot_no) > 40:
        raise InvalidInput("Give the lot number (1-40 characters).",
                           zh="请填写批号（1-40 个字符）。",
                           fields={"lot_no": "Required."})
    if expiry is not None and production_date is not None and expiry < production_date:
        raise InvalidInput("The expiry date is before the production date.",
                           zh="有效期早于生产日期。", fields={"expiry": "Before production."})
    lot = find_lot(product, lot_no)
    if lot is None:
        # Two receipts of a new lot at the same moment: the second one finds the first's row.
        table = Lot.__table__
        insert = (postgresql.insert(table) if db.session.get_bind().dialect.name == "postgresql"
                  else sqlite.insert(table))
        created = db.session.execute(
            insert.values(product_id=product.id, lot_no=lot_no, expiry_date=expiry,
                          production_date=production_date, supplier_id=supplier.id,
                          expiry_flag="ok", locked=False, lock_reason="", created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["product_id", "lot_no"])
        )
        lot = get_lot(product, lot_no)
        if created.rowcount == 1:  # type: ignore[attr-defined]
            audit.record(actor, "lot.create", "lot", lot.id, after=lot.audit_values())
            return lot
    if lot.expiry_date != expiry:
        raise InvalidInput(
            f"Lot {lot_no} of {product.code} is recorded with expiry {lot.expiry_date}, the "
            f"goods say {expiry}: check the label before receiving.",
            zh=f"{product.code} 批号 {lot_no} 记录的有效期为 {lot.expiry_date}，"
               f"货物标示为 {expiry}：请先核对标签再收货。",
            fields={"expiry": f"Lot expires {lot.expiry_date}."})
    return lot


def lock_lot(actor: Who, lot: Lot, reason: str) -> None:
    """Lock a lot from outbound (quality doubt, expiry): FEFO skips it, picks are refused."""
    _require(actor, "ledger.release")
    if lot.locked:
        return
    before = lot.audit_values()
    lot.locked, lot.lock_reason, lot.locked_at = True, reason.strip(), utcnow()
    db.session.flush()
    audit.record(actor, "lot.lock", "lot", lot.id, before=before, after=lot.audit_values(),
                 reason=reason, reason_required=True)


def unlock_lot(actor: Who, lot: Lot, reason: str) -> None:
    _require(actor, "ledger.release")
    if not lot.locked:
        return
    if lot.expired_on(utcnow().date()):
        raise InvalidInput(f"Lot {lot.lot_no} is expired; it stays locked.")
    before = lot.audit_values()
    lot.locked, lot.lock_reason, lot.locked_at = False, "", None
    db.session.flush()
    audit.record(actor, "lot.unlock", "lot", lot.id, before=before, after=lot.audit_values(),
                 reason=reason, reason_required=True)


# -- postings ----------------------------------------------------------------------------------

def receive(actor: Who, location: Location, product: Product, lot_no: str,
            quantity: int | None = None, *, supplier: Party, document: str,
            expiry: date | None, production_date: date | None = None,
            serials: Sequence[str] = (), reason: str = "", instance_id: str | None = None,
            task_id: str | None = None) -> list[StockMovement]:
    """Receive goods into quarantine at `location`: one movement, or one per serial."""
    _require(actor, ACTIONS["receive"])
    if not supplier.is_supplier:
        raise InvalidInput(f"{supplier.name} is not recorded as a supplier.",
                           zh=f"{supplier.name} 未登记为供应商。",
                           fields={"supplier": "Not a supplier."})
    if not document.strip():
        raise InvalidInput("Give the receipt or delivery note number.",
                           zh="请填写收货单或随货同行单编号。", fields={"document": "Required."})
    serials = [s.strip() for s in serials]
    if len(set(serials)) != len(serials):
        raise InvalidInput("A serial number appears twice in this receipt.",
                           zh="本次收货中有重复的序列号。", fields={"serials": "Duplicate."})
    if serials and quantity not in (None, len(serials)):
        raise InvalidInput(f"{len(serials)} serial numbers for a quantity of {quantity}.",
                           fields={"quantity": "Must match the serial numbers."})
    lot = _lot_for_receipt(actor, product, lot_no, expiry, production_date, supplier)
    target = Place(location, "quarantine")
    lines = [(s, 1) for s in serials] or [("", quantity or 0)]
    return [_post(actor, "receive", lot, qty, serial=serial, target=target, party=supplier,
                  document=document, reason=reason, instance_id=instance_id, task_id=task_id)
            for serial, qty in lines]


def identify(scan: str, expected: Product | None = None) -> tuple[Product, gs1.Udi]:
    """The product and production identifiers of a scanned UDI label."""
    udi = gs1.parse_udi(scan, expected_gtin=expected.gtin if expected and expected.gtin else None)
    if expected is not None and expected.gtin == udi.gtin:
        return expected, udi
    product = find_product(udi.gtin)
    if product is None:
        raise NotFound(f"No product has GTIN {udi.gtin}; record the product (首营品种) first.",
                       zh=f"没有 GTIN 为 {udi.gtin} 的产品：请先登记该产品（首营品种）。",
                       fields={"scan": "Unknown GTIN."})
    return product, udi


def receive_scan(actor: Who, location: Location, scan: str, quantity: int = 1, *,
                 supplier: Party, document: str, expected: Product | None = None,
                 instance_id: str | None = None, task_id: str | None = None
                 ) -> list[StockMovement]:
    """Receive what one UDI label says (GTIN, lot, serial, dates), as scanned at the dock."""
    product, udi = identify(scan, expected)
    if not udi.lot:
        raise InvalidInput("The label has no lot (AI 10): enter the lot by hand.",
                           zh="标签上没有批号（AI 10）：请手工填写批号。",
                           fields={"lot_no": "Not on the label."})
    return receive(actor, location, product, udi.lot, None if udi.serial else quantity,
                   supplier=supplier, document=document, expiry=udi.expiry,
                   production_date=udi.production_date,
                   serials=[udi.serial] if udi.serial else (), instance_id=instance_id,
                   task_id=task_id)


def transfer(actor: Who, kind: str, lot: Lot, quantity: int, *, source: Place, target: Place,
             serial: str = "", document: str = "", reason: str = "",
             instance_id: str | None = None, task_id: str | None = None) -> StockMovement:
    """Putaway or move (another location, same status); pick (available stock to the dispatch
    area, picked for an order); status change (another status, the same or another location);
    recall hold or release (same location).

    Picked stock is reserved for its order: only available stock is picked, in place as a status
    change when it already is in the dispatch area. Undoing a pick is a move back to storage
    (picked to available) or, in place, a status change back to available."""
    same_place = source.location.id == target.location.id
    same_status = source.status == target.status
    statuses = (source.status, target.status)
    rules = {
        "putaway": same_status and not same_place,
        "move": not same_place and (same_status or statuses == ("picked", "available")),
        "pick": not same_place and statuses == ("available", "picked"),
        "status_change": not same_status and "recalled" not in statuses
        and (same_place or statuses not in RESERVING)
        and (target.status != "picked" or source.status == "available"),
        "recall_hold": same_place and source.status != "recalled"
        and target.status == "recalled",
        "recall_release": same_place and source.status == "recalled"
        and target.status != "recalled",
    }
    if kind not in rules:
        raise InvalidInput(f"{kind!r} is not a transfer.")
    if not rules[kind]:
        raise InvalidInput(f"A {kind} cannot go from {source.describe()} to {target.describe()}.")
    if kind == "status_change" and (statuses in RESERVING or statuses in SETTING_ASIDE):
        _require(actor, ACTIONS["pick"])
    elif kind == "status_change":
        _require(actor, "ledger.inspect" if source.status == "quarantine" else "ledger.release")
    else:
        _require(actor, ACTIONS[kind])
    return _post(actor, kind, lot, quantity, serial=serial, source=source, target=target,
                 document=document, reason=reason, instance_id=instance_id, task_id=task_id)


def put_away_inspected(actor: Who, lot: Lot, quantity: int, *, source: Place, target: Place,
                       inspected_by: Who, serial: str = "", document: str = "",
                       reason: str = "", instance_id: str | None = None,
                       task_id: str | None = None) -> StockMovement:
    """Putaway after acceptance inspection: the warehouse operator (ledger.move) takes
    quarantined stock to the status the inspector (ledger.inspect) decided, available or
    nonconforming, at the location chosen; posted as a status change by the operator. Accepted
    stock of a lot under an open recall is held where it lies instead (`recalled`, posted as a
    recall hold)."""
    _require(actor, ACTIONS["putaway"])
    _require(inspected_by, "ledger.inspect")
    held = target.status == "recalled" and target.location.id == source.location.id
    if source.status != "quarantine" or (
            target.status not in ("available", "nonconforming") and not held):
        raise InvalidInput(f"A putaway after inspection goes from quarantine to available or "
                           f"nonconforming, not {source.describe()} to {target.describe()}.")
    return _post(actor, "recall_hold" if held else "status_change", lot, quantity,
                 serial=serial, source=source, target=target, document=document, reason=reason,
                 instance_id=instance_id, task_id=task_id)


def ship(actor: Who, lot: Lot, quantity: int, *, source: Place, customer: Party, document: str,
         serial: str = "", instance_id: str | None = None,
         task_id: str | None = None) -> StockMovement:
    _require(actor, ACTIONS["ship"])
    if not customer.is_customer:
        raise InvalidInput(f"{customer.name} is not recorded as a customer.",
                           zh=f"{customer.name} 未登记为客户。",
                           fields={"customer": "Not a customer."})
    if not document.strip():
        raise InvalidInput("Give the shipment number.", zh="请填写发货单号。",
                           fields={"document": "Required."})
    return _post(actor, "ship", lot, quantity, serial=serial, source=source, out_status="shipped",
                 party=customer, document=document, instance_id=instance_id, task_id=task_id)


def return_to_supplier(actor: Who, lot: Lot, quantity: int, *, source: Place, supplier: Party,
                       document: str, reason: str, serial: str = "",
                       instance_id: str | None = None, task_id: str | None = None
                       ) -> StockMovement:
    """Send quarantined or nonconforming stock back to its supplier (a quality decision): a
    `return_supplier` movement to the supplier, never a sale, so the outbound checks for
    sellable stock do not apply and `shipped_to` and the recall's consignees do not count it.
    The goods leave as "shipped": they left our custody on a shipment, like a sale."""
    _require(actor, "ledger.release")
    if not supplier.is_supplier and not supplier.is_manufacturer:
        raise InvalidInput(f"{supplier.name} is not recorded as a supplier.",
                           fields={"supplier": "Not a supplier."})
    if source.status not in ("quarantine", "nonconforming"):
        raise InvalidInput("Only quarantined or nonconforming stock goes back to the supplier "
                           f"this way; this is {source.status}.", fields={"status": "Not held."})
    if not document.strip() or not reason.strip():
        raise InvalidInput("Give the return note number and the reason.",
                           fields={"document": "Required.", "reason": "Required."})
    return _post(actor, "return_supplier", lot, quantity, serial=serial, source=source,
                 out_status="shipped", party=supplier, document=document, reason=reason,
                 instance_id=instance_id, task_id=task_id, sale=False)


def shipped_to(customer: Party, lot: Lot, serial: str = "") -> int:
    """Net quantity of a lot shipped to a customer: shipments less returns, reversals undone.
    Returns to a supplier (kind return_supplier) are not sales and do not count."""
    reversed_kind = StockMovement.__table__.alias("reversed")
    m = StockMovement.__table__
    sign = case((m.c.kind == "ship", 1), (m.c.kind == "return", -1),
                (reversed_kind.c.kind == "ship", -1), (reversed_kind.c.kind == "return", 1),
                else_=0)
    query = (select(func.coalesce(func.sum(sign * m.c.quantity), 0))
             .select_from(m.outerjoin(reversed_kind, m.c.reverses_id == reversed_kind.c.id))
             .where(m.c.lot_id == lot.id, m.c.party_id == customer.id,
                    m.c.kind.in_(("ship", "return", "reversal"))))
    if serial:
        query = query.where(m.c.serial == serial)
    return int(db.session.scalar(query) or 0)


def return_goods(actor: Who, lot: Lot, quantity: int, *, target: Place, customer: Party,
                 document: str, reason: str, serial: str = "", instance_id: str | None = None,
                 task_id: str | None = None) -> StockMovement:
    """Take back goods a customer had from us, into quarantine until inspected (GSP 106)."""
    _require(actor, ACTIONS["return"])
    if target.status != "quarantine":
        raise InvalidInput("Returned goods go to quarantine until they are inspected.",
                           zh="退回的货物须先入待验区，验收后再处理。",
                           fields={"status": "Must be quarantine."})
    had = shipped_to(customer, lot, serial)
    if quantity > had:
        raise InvalidInput(f"{customer.name} has {had} of lot {lot.lot_no} from us; "
                           f"{quantity} cannot come back.",
                           zh=f"{customer.name} 从我方收到批号 {lot.lot_no} 共 {had}，"
                              f"不能退回 {quantity}。",
                           fields={"quantity": f"At most {had}."})
    return _post(actor, "return", lot, quantity, serial=serial, target=target, party=customer,
                 document=document, reason=reason, serial_prior=("shipped",),
                 instance_id=instance_id, task_id=task_id)


def adjust(actor: Who, lot: Lot, delta: int, *, place: Place, reason: str,
           count_sheet: CountSheet, serial: str = "", instance_id: str | None = None,
           task_id: str | None = None) -> StockMovement:
    """A count adjustment from an open count sheet of the location (posted by
    `engine.ledger.counts.post_count`, which signs the sheet first): `delta` above zero adds
    found stock, below zero writes off missing stock."""
    _require(actor, ACTIONS["count_adjust"])
    if count_sheet.status != "open" or count_sheet.location_id != place.location.id:
        raise InvalidInput("Count adjustments come from an open count sheet of the location.")
    if delta == 0:
        raise InvalidInput("An adjustment of zero changes nothing.")
    common = {"serial": serial, "document": count_sheet.number, "reason": reason,
              "instance_id": instance_id, "task_id": task_id, "count_sheet": count_sheet}
    if delta > 0:
        return _post(actor, "count_adjust", lot, delta, target=place,
                     serial_prior=(None, "missing"), **common)  # type: ignore[arg-type]
    return _post(actor, "count_adjust", lot, -delta, source=place, out_status="missing",
                 **common)  # type: ignore[arg-type]


def scrap(actor: Who, lot: Lot, quantity: int, *, source: Place, reason: str, serial: str = "",
          document: str = "", instance_id: str | None = None,
          task_id: str | None = None) -> StockMovement:
    _require(actor, ACTIONS["scrap"])
    if source.status in ("available", "picked"):
        raise InvalidInput("Available stock is not scrapped directly: change its status to "
                           "nonconforming first, with the quality decision.",
                           zh="合格库存不能直接报废：请先依质量决定转为不合格品。")
    return _post(actor, "scrap", lot, quantity, serial=serial, source=source,
                 out_status="scrapped", document=document, reason=reason,
                 instance_id=instance_id, task_id=task_id)


def reverse(actor: Who, movement: StockMovement, reason: str, *, instance_id: str | None = None,
            task_id: str | None = None) -> StockMovement:
    """Correct a movement by posting its mirror image; the original stays as it was."""
    _require(actor, ACTIONS["reversal"])
    if not reason.strip():
        raise InvalidInput("Say why the movement is reversed.", zh="请说明冲销原因。",
                           fields={"reason": "Required."})
    if movement.kind == "reversal":
        raise InvalidInput("A reversal is not reversed: post the movement again instead.")
    already = db.session.scalar(select(StockMovement.id)
                                .where(StockMovement.reverses_id == movement.id))
    if already is not None:
        raise Conflict(f"Movement {movement.id} was already reversed by movement {already}.")
    lot = db.session.get(Lot, movement.lot_id)
    assert lot is not None
    source = (Place(_location(movement.to_location_id), movement.to_status or "")
              if movement.to_location_id else None)
    target = (Place(_location(movement.from_location_id), movement.from_status or "")
              if movement.from_location_id else None)
    party = db.session.get(Party, movement.party_id) if movement.party_id else None
    return _post(actor, "reversal", lot, movement.quantity, serial=movement.serial,
                 source=source, target=target, out_status=movement.from_status, party=party,
                 document=movement.document, reason=reason, reverses=movement,
                 serial_prior=(movement.to_status,), instance_id=instance_id, task_id=task_id)


def _location(location_id: int | None) -> Location:
    location = db.session.get(Location, location_id)
    if location is None:
        raise NotFound(f"Location {location_id} does not exist.")
    return location


# -- recall hold and release -------------------------------------------------------------------

def hold_lot(actor: Who, lot: Lot, reason: str, *, document: str = "",
             instance_id: str | None = None, task_id: str | None = None) -> list[StockMovement]:
    """Put every unit of a lot on hand, at every site, in the recalled status (stock picked for
    an order too: `release_lot` puts it back as picked)."""
    return hold_lots(actor, [lot], reason, document=document, instance_id=instance_id,
                     task_id=task_id)


def hold_lots(actor: Who, lots: list[Lot], reason: str, *, document: str = "",
              instance_id: str | None = None, task_id: str | None = None
              ) -> list[StockMovement]:
    """`hold_lot` for several lots, their balances read in one query (a recall's lots)."""
    _require(actor, ACTIONS["recall_hold"])
    by_id = {lot.id: lot for lot in lots}
    movements = []
    for balance in balances(lots=sorted(by_id)):
        if balance.status == "recalled":
            continue
        movements.append(_post(
            actor, "recall_hold", by_id[balance.lot_id], balance.quantity,
            serial=balance.serial, source=Place(balance.location, balance.status),
            target=Place(balance.location, "recalled"), document=document, reason=reason,
            instance_id=instance_id, task_id=task_id))
    return movements


def release_lot(actor: Who, lot: Lot, reason: str, *, to_status: str | None = None,
                document: str = "", instance_id: str | None = None,
                task_id: str | None = None) -> list[StockMovement]:
    """Release recalled stock of a lot: back to the status it had before the hold (picked
    goods go back to picked, for their order), or to `to_status` (quarantine, for
    re-inspection, say)."""
    _require(actor, ACTIONS["recall_release"])
    if to_status is not None and to_status not in STATUSES:
        raise InvalidInput(f"Unknown status {to_status!r}.")
    if to_status == "picked":
        raise InvalidInput("Only an order's pick reserves stock: release to another status.",
                           fields={"to_status": "Not picked."})
    before_hold = _held_from(lot)
    movements = []
    for balance in balances(lot=lot, status="recalled"):
        parts = ({to_status: balance.quantity} if to_status else
                 _split(balance.quantity, before_hold.get((balance.location_id, balance.serial),
                                                          {})))
        for status, quantity in parts.items():
            movements.append(_post(
                actor, "recall_release", lot, quantity, serial=balance.serial,
                source=Place(balance.location, "recalled"),
                target=Place(balance.location, status), document=document, reason=reason,
                instance_id=instance_id, task_id=task_id))
    return movements


def _held_from(lot: Lot) -> dict[tuple[int | None, str], dict[str, int]]:
    """Per location and serial, how much of each status the holds since the last release
    took: a dispatch area can hold the same lot both available and picked."""
    rows = db.session.execute(
        select(StockMovement.kind, StockMovement.to_location_id, StockMovement.serial,
               StockMovement.from_status, StockMovement.quantity)
        .where(StockMovement.lot_id == lot.id,
               StockMovement.kind.in_(("recall_hold", "recall_release")))
        .order_by(StockMovement.id)
    ).all()
    held: dict[tuple[int | None, str], dict[str, int]] = {}
    for row in rows:
        key = (row.to_location_id, row.serial)
        if row.kind == "recall_release":
            held.pop(key, None)  # released: the holds before it are settled
            continue
        statuses = held.setdefault(key, {})
        statuses[row.from_status] = statuses.get(row.from_status, 0) + row.quantity
    return held


def _split(quantity: int, held: dict[str, int]) -> dict[str, int]:
    """Share a recalled balance out to the statuses it was held from, in the order held; what
    the holds do not explain (stock found while held) goes to the last of them, or to
    quarantine."""
    parts: dict[str, int] = {}
    left = quantity
    for status, most in held.items():
        take = min(left, most)
        if take:
            parts[status] = take
            left -= take
    if left:
        rest = next(reversed(held), "quarantine")
        parts[rest] = parts.get(rest, 0) + left
    return parts


# -- balances and FEFO -------------------------------------------------------------------------

def still_picked(instance_id: str) -> list[tuple[Lot, str, Location, int]]:
    """What a process's own movements left picked, per lot, serial and place: picked in less
    picked out (shipped, or put back when the outbound check failed). A recall hold since
    (another process's movement) can leave less than that in the balance."""
    moved = StockMovement
    into = (select(moved.lot_id, moved.serial, moved.to_location_id.label("place"),
                   moved.quantity.label("quantity"))
            .where(moved.instance_id == instance_id, moved.to_status == "picked"))
    out = (select(moved.lot_id, moved.serial, moved.from_location_id.label("place"),
                  (-moved.quantity).label("quantity"))
           .where(moved.instance_id == instance_id, moved.from_status == "picked"))
    both = into.union_all(out).subquery()
    net = (select(both.c.lot_id, both.c.serial, both.c.place,
                  func.sum(both.c.quantity).label("quantity"))
           .group_by(both.c.lot_id, both.c.serial, both.c.place)
           .having(func.sum(both.c.quantity) > 0).subquery())
    rows = db.session.execute(
        select(Lot, net.c.serial, Location, net.c.quantity)
        .join(Lot, Lot.id == net.c.lot_id).join(Location, Location.id == net.c.place)
        .order_by(net.c.lot_id, net.c.serial, net.c.place)).all()
    return [(lot, serial, place, int(quantity)) for lot, serial, place, quantity in rows]


def balances(*, product: Product | None = None, lot: Lot | None = None,
             lots: list[int] | None = None, location: Location | None = None,
             site: Site | None = None, status: str | None = None) -> list[StockBalance]:
    """Balances above zero, filtered as asked (`lots`: lot ids), in location and lot order."""
    query = _where_balances(select(StockBalance), product=product, lot=lot, lots=lots,
                            location=location, site=site, status=status)
    return list(db.session.scalars(
        query.order_by(StockBalance.location_id, StockBalance.lot_id, StockBalance.serial,
                       StockBalance.status)
        .execution_options(populate_existing=True)))


def on_hand_by_status(*, product: Product | None = None, location: Location | None = None,
                      site: Site | None = None) -> dict[str, int]:
    """Units above zero per status, filtered as `balances` is (one aggregate statement)."""
    query = _where_balances(
        select(StockBalance.status, func.sum(StockBalance.quantity)), product=product,
        location=location, site=site).group_by(StockBalance.status).order_by(StockBalance.status)
    return {str(status): int(quantity) for status, quantity in db.session.execute(query)}


def _where_balances(query: Any, *, product: Product | None = None, lot: Lot | None = None,
                    lots: list[int] | None = None, location: Location | None = None,
                    site: Site | None = None, status: str | None = None) -> Any:
    """`query` limited to balances above zero and to what is asked (shared by the lists and
    the sums)."""
    query = query.where(StockBalance.quantity > 0)
    if product is not None:
        query = query.where(StockBalance.product_id == product.id)
    if lot is not None:
        query = query.where(StockBalance.lot_id == lot.id)
    if lots is not None:
        query = query.where(StockBalance.lot_id.in_(lots))
    if location is not None:
        query = query.where(StockBalance.location_id == location.id)
    if site is not None:
        query = query.where(StockBalance.location.has(Location.site_id == site.id))
    if status is not None:
        query = query.where(StockBalance.status == status)
    return query


def on_hand(product: Product, *, lot: Lot | None = None, status: str | None = None,
            site: Site | None = None) -> int:
    return sum(b.quantity for b in balances(product=product, lot=lot, status=status, site=site))


def serial_unit(product: Product, serial: str) -> SerialUnit | None:
    return db.session.scalar(select(SerialUnit).where(SerialUnit.product_id == product.id,
                                                      SerialUnit.serial == serial))


def allocate_fefo(product: Product, quantity: int, *, site: Site,
                  not_expiring_before: date | None = None) -> list[Allocation]:
    """Choose what to pick, first expiry first out: available stock in green zones of the site,
    skipping locked lots and lots expired (or expiring before `not_expiring_before`). Stock
    already picked for another order is never allocated."""
    if quantity <= 0:
        raise InvalidInput("Allocate a quantity above zero.", fields={"quantity": "Above zero."})
    first_day = max(site_today(site), not_expiring_before or date.min)
    rows = db.session.execute(
        select(StockBalance, Lot, Location)
        .join(Lot, StockBalance.lot_id == Lot.id)
        .join(Location, StockBalance.location_id == Location.id)
        .where(StockBalance.product_id == product.id, StockBalance.status == "available",
               StockBalance.quantity > 0, Location.site_id == site.id,
               Location.active.is_(True), Location.zone.in_(("available", "shipping")),
               Lot.locked.is_(False),
               or_(Lot.expiry_date.is_(None), Lot.expiry_date >= first_day))
        .order_by(Lot.expiry_date.asc().nulls_last(), Lot.production_date.asc().nulls_last(),
                  Lot.id, Location.code, StockBalance.serial)
    ).all()
    plan: list[Allocation] = []
    wanted = quantity
    for balance, lot, location in rows:
        take = min(wanted, balance.quantity)
        plan.append(Allocation(location, lot, balance.serial, take))
        wanted -= take
        if wanted == 0:
            return plan
    raise InvalidInput(
        f"Only {quantity - wanted} of {product.code} can be allocated at {site.code} "
        f"({quantity} asked): the rest is locked, quarantined, expired or not there.",
        fields={"quantity": f"At most {quantity - wanted}."})


def pick_fefo(actor: Who, product: Product, quantity: int, *, site: Site, to: Location,
              document: str, not_expiring_before: date | None = None,
              instance_id: str | None = None, task_id: str | None = None
              ) -> list[StockMovement]:
    """Allocate FEFO and pick each line to `to` (a shipping location), where it is picked
    (reserved for the order); a line already at `to` is picked in place (a status change)."""
    plan = allocate_fefo(product, quantity, site=site, not_expiring_before=not_expiring_before)
    return [transfer(actor, "pick" if line.location.id != to.id else "status_change", line.lot,
                     line.quantity, serial=line.serial, source=Place(line.location, "available"),
                     target=Place(to, "picked"), document=document, instance_id=instance_id,
                     task_id=task_id)
            for line in plan]


def movements(*, lot: Lot | None = None, document: str | None = None,
              instance_id: str | None = None, limit: int = 500) -> list[StockMovement]:
    """Movements newest first, by lot, document or causing workflow instance."""
    query = select(StockMovement)
    if lot is not None:
        query = query.where(StockMovement.lot_id == lot.id)
    if document is not None:
        query = query.where(StockMovement.document == document)
    if instance_id is not None:
        query = query.where(StockMovement.instance_id == instance_id)
    return list(db.session.scalars(query.order_by(StockMovement.id.desc()).limit(limit)))


__all__ = [
    "Allocation", "Place", "adjust", "allocate_fefo", "balances", "find_lot",
    "get_lot", "hold_lot", "identify", "lock_lot", "movements", "on_hand", "pick_fefo",
    "put_away_inspected", "receive", "receive_scan", "release_lot", "return_goods",
    "return_to_supplier", "reverse", "scrap", "serial_unit", "ship", "shipped_to",
    "site_today", "transfer", "unlock_lot",
]

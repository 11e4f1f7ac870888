"""Stock counts (盘点): a count sheet per location, counted line by line, then posted with a
reason and an e-signature; each variance becomes a count adjustment movement.

While a sheet is open its location is frozen: no other posting can touch it, so the variance
posted is exactly counted minus what the ledger held when the count started.

A count of a dispatch area counts the goods picked for orders on their own lines (status picked,
one line per balance), apart from available stock lying there: a shortfall of picked goods is
then visible as such before the order ships.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from engine import audit, signatures
from engine.db import db, utcnow
from engine.errors import Conflict, InvalidInput
from engine.identity import service as identity
from engine.identity.models import User
from engine.ledger import service as ledger
from engine.ledger.models import STATUSES, CountLine, CountSheet, Lot, StockBalance, StockMovement
from engine.masterdata.models import Location

#: The status of stock found where the ledger expected none. Found goods in a dispatch area are
#: available: only an order's pick reserves stock, so they are never counted in as picked.
ZONE_STATUS = {"quarantine": "quarantine", "returns": "quarantine", "available": "available",
               "shipping": "available", "nonconforming": "nonconforming"}


def _require(actor: User | audit.Actor) -> None:
    if isinstance(actor, User):
        identity.require(actor, "ledger.count")


def open_count(actor: User | audit.Actor, location: Location) -> CountSheet:
    """Start counting a location: the ledger's balances become the expected lines."""
    _require(actor)
    if db.session.scalar(select(CountSheet.number).where(CountSheet.location_id == location.id,
                                                         CountSheet.status == "open")):
        raise Conflict(f"{location.label} already has an open count sheet.",
                       zh=f"库位 {location.label} 已有进行中的盘点单。")
    sheet = CountSheet(number=f"pending-{secrets.token_hex(8)}", location=location,
                       opened_by=actor.id if isinstance(actor, User) else None)
    db.session.add(sheet)
    db.session.flush()
    sheet.number = f"CS-{location.site.code}-{sheet.id:06d}"
    for balance in ledger.balances(location=location):
        sheet.lines.append(CountLine(product_id=balance.product_id, lot_id=balance.lot_id,
                                     serial=balance.serial, status=balance.status,
                                     expected=balance.quantity))
    db.session.flush()
    audit.record(actor, "count.open", "count_sheet", sheet.id, after=_content(sheet))
    return sheet


#: A closed count sheet's status, as its refusal says it in Chinese.
_SHEET_STATUS_ZH = {"posted": "已过账", "cancelled": "已取消"}


def _open(sheet: CountSheet) -> None:
    if sheet.status != "open":
        raise Conflict(f"Count sheet {sheet.number} is {sheet.status}.",
                       zh=f"盘点单 {sheet.number} "
                          f"{_SHEET_STATUS_ZH.get(sheet.status, sheet.status)}。")


def record_count(actor: User | audit.Actor, sheet: CountSheet, lot: Lot, counted: int, *,
                 serial: str = "", status: str | None = None, note: str = "") -> CountLine:
    """Enter what was counted for a lot (and serial) in the sheet's location; stock found that
    the ledger did not expect gets a new line with 0 expected."""
    _require(actor)
    _open(sheet)
    if not isinstance(counted, int) or counted < 0 or (serial and counted > 1):
        raise InvalidInput("Count a whole number, 0 or more (0 or 1 for a serial number).",
                           fields={"counted": "Invalid count."})
    status = status or ZONE_STATUS[sheet.location.zone]
    if status not in STATUSES:
        raise InvalidInput(f"Unknown status {status!r}.", zh=f"未知的库存状态 {status!r}。",
                           fields={"status": "Unknown."})
    line = next((ln for ln in sheet.lines if ln.lot_id == lot.id and ln.serial == serial
                 and ln.status == status), None)
    if line is None and status == "picked":
        raise InvalidInput("Found stock is counted as available: only an order's pick reserves "
                           "stock.", fields={"status": "Not picked."})
    if line is None:
        line = CountLine(product_id=lot.product_id, lot_id=lot.id, serial=serial,
                         status=status, expected=0)
        sheet.lines.append(line)
    line.counted = counted
    line.note = note.strip()
    db.session.flush()
    return line


def _content(sheet: CountSheet) -> dict[str, Any]:
    return {
        "number": sheet.number, "location": sheet.location.label,
        "lines": [{"product": ln.product_id, "lot": ln.lot_id, "serial": ln.serial,
                   "status": ln.status, "expected": ln.expected, "counted": ln.counted}
                  for ln in sheet.lines],
    }


def post_count(user: User, sheet: CountSheet, reason: str, *, password: str,
               username: str | None = None, first_in_session: bool = True
               ) -> list[StockMovement]:
    """Sign the count and post each variance as a count adjustment with the reason given."""
    identity.require(user, "ledger.count")
    _open(sheet)
    if not reason.strip():
        raise InvalidInput("Say why the stock differs (or confirm the count).",
                           fields={"reason": "Required."})
    missing = [ln for ln in sheet.lines if ln.counted is None]
    if missing:
        raise InvalidInput(f"{len(missing)} line(s) of {sheet.number} are not counted yet.",
                           zh=f"盘点单 {sheet.number} 尚有 {len(missing)} 行未盘点。",
                           fields={"lines": "Count every line, 0 when nothing is there."})
    signature = signatures.sign(user, password, "approved", "count_sheet", sheet.id,
                                _content(sheet), username=username,
                                first_in_session=first_in_session)
    posted = []
    for line in sheet.lines:
        held = db.session.scalar(select(StockBalance.quantity).where(
            StockBalance.location_id == sheet.location_id, StockBalance.lot_id == line.lot_id,
            StockBalance.serial == line.serial, StockBalance.status == line.status)) or 0
        assert line.counted is not None
        delta = line.counted - held
        if delta:
            lot = db.session.get(Lot, line.lot_id)
            assert lot is not None
            movement = ledger.adjust(user, lot, delta,
                                     place=ledger.Place(sheet.location, line.status),
                                     serial=line.serial, reason=reason, count_sheet=sheet)
            line.movement_id = movement.id
            posted.append(movement)
    sheet.status = "posted"
    sheet.closed_by, sheet.closed_at = user.id, utcnow()
    sheet.reason = reason.strip()
    sheet.signature_id = signature.id
    db.session.flush()
    audit.record(user, "count.post", "count_sheet", sheet.id, after=_content(sheet) | {
        "adjustments": [m.id for m in posted]}, reason=reason, reason_required=True)
    return posted


def cancel_count(actor: User | audit.Actor, sheet: CountSheet, reason: str) -> None:
    _require(actor)
    _open(sheet)
    sheet.status = "cancelled"
    sheet.closed_by = actor.id if isinstance(actor, User) else None
    sheet.closed_at = utcnow()
    sheet.reason = reason.strip()
    db.session.flush()
    audit.record(actor, "count.cancel", "count_sheet", sheet.id, reason=reason,
                 reason_required=True)

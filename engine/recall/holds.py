"""Stock of a lot (or serial) under an open recall stays held until the recall is closed.

The recall's start holds every unit on hand; units that come back later (a customer's return
through receiving, stock found in a count) must not slip back into sale. The ledger tells every
posting to its `movement_posted` receivers inside the same unit of work; this one refuses any
posting that would make such stock available or picked, except the recall's own release."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from engine import signals
from engine.db import db
from engine.errors import Conflict
from engine.ledger.models import Lot, StockMovement
from engine.recall.models import Recall

#: Statuses from which stock can be sold.
SELLABLE = ("available", "picked")


def open_recall_of(lot: Lot, serial: str = "") -> str | None:
    """The number of the first open recall covering this lot (or this serial of it)."""
    rows = db.session.execute(
        select(Recall.number, Recall.lots, Recall.serials)
        .where(Recall.product_id == lot.product_id, Recall.status == "open")
        .order_by(Recall.id))
    for number, lots, serials in rows:
        if lot.lot_no in json.loads(lots) or (serial and serial in json.loads(serials)):
            return str(number)
    return None


@signals.movement_posted.connect
def _refuse_sale_of_recalled_stock(kind: str, *, movement: StockMovement, **_: Any) -> None:
    if movement.to_status not in SELLABLE or kind == "recall_release":
        return
    lot = db.session.get_one(Lot, movement.lot_id)
    number = open_recall_of(lot, movement.serial)
    if number is not None:
        unit = f"serial {movement.serial} of lot {lot.lot_no}" if movement.serial \
            else f"lot {lot.lot_no}"
        raise Conflict(f"The {unit} is under recall {number}: it stays held and cannot become "
                       f"{movement.to_status}. Keep it in recalled status until the quality "
                       "manager closes the recall.",
                       fields={"status": f"Under recall {number}."})

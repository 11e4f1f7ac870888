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
from engine.db import db, transaction_cache
from engine.errors import Conflict
from engine.ledger.models import Lot, StockMovement
from engine.recall.models import Recall

#: Statuses from which stock can be sold.
SELLABLE = ("available", "picked")


_CACHE = "gxpflow.open_recalls"


def _open_recalls(product_id: int) -> list[tuple[str, set[str], set[str]]]:
    """(number, lots, serials) of the product's open recalls, read once per transaction (a
    putaway or pick of hundreds of units posts hundreds of times); forgotten when a recall is
    written or the transaction ends."""
    cache: dict[int, list[tuple[str, set[str], set[str]]]] = db.session.info.setdefault(
        _CACHE, {})
    found = cache.get(product_id)
    if found is None:
        rows = db.session.execute(
            select(Recall.number, Recall.lots, Recall.serials)
            .where(Recall.product_id == product_id, Recall.status == "open")
            .order_by(Recall.id))
        found = cache[product_id] = [(str(number), set(json.loads(lots)),
                                      set(json.loads(serials))) for number, lots, serials in rows]
    return found


transaction_cache(_CACHE, Recall)


def open_recall_of(lot: Lot, serial: str = "") -> str | None:
    """The number of the first open recall covering this lot (or this serial of it)."""
    for number, lots, serials in _open_recalls(lot.product_id):
        if lot.lot_no in lots or (serial and serial in serials):
            return number
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
                       zh=f"{lot.lot_no}{' / ' + movement.serial if movement.serial else ''} "
                          f"正在召回（{number}）：须继续扣留，召回结束前不能转为可用或拣货。",
                       fields={"status": f"Under recall {number}."})

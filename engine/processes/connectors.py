"""The engine's own connectors: what a BPMN service task can call by name
(`<spiffworkflow:serviceTaskOperator id="gxpflow.stock_on_hand">`), besides the connectors
plugins register (`engine.plugins.register_connector`).

A connector is called as `connector(idempotency_key=..., **parameters)` by the workflow
runtime, in a Celery worker in production, inline when Celery is eager. It returns a JSON-able
dict, merged into the task data under the operator's `resultVariable`. It raises to fail: the
instance then stops in the error state with the reason, and an administrator retries it from
its page. The key stays the same across retries, so a connector with effects applies them once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.errors import InvalidInput, NotFound
from engine.ledger import service as ledger
from engine.masterdata import service as md


def stock_on_hand(*, idempotency_key: str, product: str, site: str,
                  lot: str = "") -> dict[str, Any]:
    """Units of a product (code or GTIN) at a site, per status, optionally of one lot: read
    from the ledger's balances (reading twice changes nothing)."""
    del idempotency_key  # a read: nothing to apply once
    found = md.find_product(str(product))
    if found is None:
        raise InvalidInput(f"No product with code or GTIN {product!r}.",
                           zh=f"没有编码或 GTIN 为 {product!r} 的产品。",
                           fields={"product": "Unknown product."})
    try:
        where = md.get_site(str(site))
    except NotFound:
        raise InvalidInput(f"No site with code {site!r}.", zh=f"没有代码为 {site!r} 的仓库。",
                           fields={"site": "Unknown site."}) from None
    chosen = None
    if lot:
        chosen = ledger.find_lot(found, str(lot).strip())
        if chosen is None:
            raise InvalidInput(f"No lot {lot!r} of {found.code}.",
                               zh=f"产品 {found.code} 没有批号 {lot!r}。",
                               fields={"lot": "Unknown lot."})
        rows = ledger.balances(lot=chosen, site=where)
        by_status: dict[str, int] = {}
        for row in rows:
            by_status[row.status] = by_status.get(row.status, 0) + row.quantity
    else:
        by_status = ledger.on_hand_by_status(product=found, site=where)
    return {"product": found.code, "site": where.code,
            "lot": chosen.lot_no if chosen is not None else None,
            "by_status": by_status, "available": by_status.get("available", 0),
            "total": sum(by_status.values())}


def builtin() -> dict[str, Callable[..., Any]]:
    """The connectors every GxPFlow runtime has, by the name a service task calls."""
    return {"gxpflow.stock_on_hand": stock_on_hand}

"""The release process (processes/bpmn/release.bpmn): the quality manager's decision on
quarantined or nonconforming stock of one lot at the instance's site.

- release.decide: server facts (stock status and quantity from the ledger, inspection done,
  expiry, device class, UDI on file) for the gate; the MDR pre-supply checks come from the form
  (a form can confirm CE marking, declaration, languages and the label's UDI, never a UDI the
  product does not have). Return to supplier (a `return_supplier` movement, never a sale) and
  scrap are posted at once; a release is planned and, where a pack demands it, reviewed by a
  second person first.
- release.execute: the quality manager releases the planned stock to an accepted location
  (status change to available), signed "released".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from engine.db import db
from engine.errors import InvalidInput
from engine.ledger import service as ledger
from engine.ledger.models import Lot, StockMovement
from engine.masterdata import service as md
from engine.masterdata.models import Product, Site
from engine.processes import effect, facts, needs_site
from engine.processes import stockfacts as sf
from engine.processes.outbound import _review_demanded
from engine.recall import holds
from engine.workflow.models import ProcessInstance
from engine.workflow.runtime import GateOutcome, StepContext

needs_site("release")


def document(context: StepContext) -> str:
    return f"QD-{context.instance.site_code}-{context.instance.id:06d}"


def inspection_completed(lot: Lot, status: str) -> bool:
    """Nonconforming stock was inspected (and failed); quarantined stock was inspected when an
    inspection decision for the lot is in the ledger (a status change out of or back into
    quarantine, not its receipt)."""
    if status == "nonconforming":
        return True
    return db.session.scalar(
        select(StockMovement.id).where(
            StockMovement.lot_id == lot.id, StockMovement.kind == "status_change",
            or_(StockMovement.from_status == "quarantine",
                StockMovement.to_status == "quarantine")).limit(1)) is not None


def receiving_in_progress(lot: Lot, site: Site, serial: str = ""
                          ) -> tuple[ProcessInstance | None, set[tuple[int, str]]]:
    """The unfinished receivings at the site that brought this lot (or serial) into
    quarantine, and where: (location, serial) places whose quarantined stock their inspection
    and putaway decide, not a release. Returns the first such receiving (None if none)."""
    received = select(StockMovement.instance_id, StockMovement.to_location_id,
                      StockMovement.serial).where(
        StockMovement.lot_id == lot.id, StockMovement.kind.in_(("receive", "return")),
        StockMovement.to_status == "quarantine", StockMovement.instance_id.is_not(None))
    if serial:
        received = received.where(StockMovement.serial == serial)
    places: dict[int, set[tuple[int, str]]] = {}
    for instance_id, location_id, unit in db.session.execute(received):
        if instance_id and instance_id.isdigit() and location_id is not None:
            places.setdefault(int(instance_id), set()).add((location_id, unit))
    if not places:
        return None, set()
    open_ones = list(db.session.scalars(
        select(ProcessInstance).where(
            ProcessInstance.id.in_(places), ProcessInstance.process_key == "receiving",
            ProcessInstance.site_code == site.code,
            ProcessInstance.status.in_(("running", "waiting", "suspended", "error")))
        .order_by(ProcessInstance.id)))
    taken = {place for instance in open_ones for place in places[instance.id]}
    return (open_ones[0] if open_ones else None), taken


#: The stock a quality decision is about, as its refusals say it in Chinese.
_STATUS_ZH = {"quarantine": "待验", "nonconforming": "不合格"}


def _subject(context: StepContext) -> tuple[Site, Product, Lot, str, str, int, list[Any]]:
    data = context.task.data
    site = sf.site_of(context)
    product = sf.product_of(data.get("product"))
    lot = sf.lot_of(product, data.get("lot_no"))
    serial = str(data.get("serial") or "").strip()
    status = str(data.get("from_status") or "")
    if status not in ("quarantine", "nonconforming"):
        raise InvalidInput("A quality decision is about quarantined or nonconforming stock.",
                           zh="质量处理决定只针对待验或不合格库存。",
                           fields={"from_status": "quarantine or nonconforming"})
    balances = sf.held_balances(lot, site, status, serial)
    if status == "quarantine":  # stock a receiving is still inspecting is not decided here
        receiving, taken = receiving_in_progress(lot, site, serial)
        decidable = [b for b in balances if (b.location_id, b.serial) not in taken]
        if receiving is not None and balances and not decidable:
            raise InvalidInput(
                f"Lot {lot.lot_no} is still being received at {site.code} (receiving "
                f"#{receiving.id}, {receiving.subject}): its inspection and putaway decide its "
                "quarantined stock. Decide on it after that receiving has ended.",
                zh=f"批号 {lot.lot_no} 正在 {site.code} 收货（收货流程 #{receiving.id}）："
                   "其待验货品由验收和入库决定，请在该收货流程结束后再处理。",
                fields={"lot_no": f"In receiving #{receiving.id}."})
        balances = decidable
    total = sum(b.quantity for b in balances)
    if total == 0:
        raise InvalidInput(f"There is no {status} stock of lot {lot.lot_no} "
                           f"{serial} at {site.code} (any more).".replace("  ", " "),
                           zh=f"{site.code} 已没有批号 {lot.lot_no}"
                              f"{' 序列号 ' + serial if serial else ''} "
                              f"的{_STATUS_ZH[status]}库存。",
                           fields={"lot_no": f"Nothing {status} here."})
    # The decision may correct the quantity the request named (stock moves in between).
    quantity = int(context.form.get("quantity") or data.get("quantity") or total)
    if quantity > total:
        raise InvalidInput(f"Only {total} of lot {lot.lot_no} are {status} at {site.code}.",
                           zh=f"{site.code} 的批号 {lot.lot_no} 仅有 {total} 件{_STATUS_ZH[status]}"
                              "库存。",
                           fields={"quantity": f"At most {total}."})
    return site, product, lot, serial, status, quantity, balances


def _lines(balances: list[Any], quantity: int) -> list[tuple[Any, int]]:
    lines, left = [], quantity
    for balance in balances:
        take = min(left, balance.quantity)
        if take:
            lines.append((balance, take))
            left -= take
    return lines


@facts("release.decide")
def decide_facts(context: StepContext) -> dict[str, Any]:
    site, product, lot, serial, status, quantity, balances = _subject(context)
    disposition = context.form.get("disposition")
    found: dict[str, Any] = {
        "decision": "release" if disposition == "release" else "reject",
        "inspection_completed": inspection_completed(lot, status),
        "stock_status": status,
        "days_to_expiry": sf.days_left(lot.expiry_date, site),
        "device_class": product.device_class,
        "udi_applicable": sf.udi_applicable(product),
        "_site": site, "_product": product, "_lot": lot, "_serial": serial,
        "_quantity": quantity, "_balances": balances,
    }
    if status == "nonconforming":
        found["inspection_passed"] = False
    if not sf.udi_on_file(product):
        found["udi_present"] = False  # no UDI-DI recorded: the label cannot carry one
    if disposition == "release":
        recall = holds.open_recall_of(lot, serial)
        if recall is not None:  # the ledger would refuse it at execution, after the signature
            raise InvalidInput(
                f"Lot {lot.lot_no} is under recall {recall}: it cannot be released while the "
                "recall is open. Return it to the supplier or scrap it, or decide after the "
                "recall is closed.",
                zh=f"批号 {lot.lot_no} 正在召回（{recall}）：召回结束前不能放行。请退回供应商或"
                   "报废，或在召回结束后再处理。",
                fields={"disposition": f"Under recall {recall}."})
        found["_target"] = sf.release_location(site, product, context.form.get("target_location"))
    elif disposition == "return_to_supplier":
        supplier = lot.supplier or product.manufacturer
        if supplier is None:
            raise InvalidInput(f"Lot {lot.lot_no} has no supplier on record to return it to.",
                               zh=f"批号 {lot.lot_no} 没有登记供应商，无法退回。",
                               fields={"disposition": "No supplier on record."})
        if not (context.form.get("return_document") or "").strip():
            raise InvalidInput("Give the return note number.", zh="请填写退货单号。",
                               fields={"return_document": "Required for a return."})
        found["_supplier"] = supplier
    return {k: v for k, v in found.items() if v is not None}


@effect("release.decide")
def decide_effect(context: StepContext, outcome: GateOutcome) -> dict[str, Any]:
    f = context.facts
    site: Site = f["_site"]
    lot: Lot = f["_lot"]
    disposition = context.form["disposition"]
    reason = str(context.form.get("decision_reason") or "")
    lines = _lines(f["_balances"], f["_quantity"])
    rounds = int(context.task.data.get("release_rounds") or 0) + 1
    common = {"review_of_step": "release.decide", "release_rounds": rounds,
              "release_review": False}
    if disposition == "release":
        if lot.expired_on(ledger.site_today(site)):
            raise InvalidInput(f"Lot {lot.lot_no} expired on {lot.expiry_date}; it cannot be "
                               "released. Return it or scrap it.",
                               zh=f"批号 {lot.lot_no} 已于 {lot.expiry_date} 过期，不能放行。"
                                  "请退回或报废。",
                               fields={"disposition": "Expired stock is not released."})
        plan = {"product": f["_product"].code, "lot_no": lot.lot_no,
                "from_status": f["stock_status"], "target_location": f["_target"].code,
                "reason": reason,
                "lines": [{"location": b.location.code, "serial": b.serial, "quantity": q}
                          for b, q in lines]}
        return {**common, "release_plan": plan,
                "release_review": _review_demanded(outcome, "release.decide")}
    movements = []
    for balance, quantity in lines:
        source = ledger.Place(balance.location, balance.status)
        if disposition == "scrap":
            movement = ledger.scrap(context.actor, lot, quantity, source=source, reason=reason,
                                    serial=balance.serial, document=document(context),
                                    **sf.ids(context))
        else:
            movement = ledger.return_to_supplier(
                context.actor, lot, quantity, source=source, supplier=f["_supplier"],
                document=str(context.form.get("return_document")), reason=reason,
                serial=balance.serial, **sf.ids(context))
        movements.append(movement.id)
    return {**common, "disposed_quantity": sum(q for _b, q in lines),
            "disposal_movements": movements}


@effect("release.execute")
def execute_effect(context: StepContext, outcome: GateOutcome) -> dict[str, Any]:
    plan = context.task.data.get("release_plan")
    if not isinstance(plan, dict):
        raise InvalidInput("There is no release decision to carry out.",
                           zh="没有可执行的放行决定。")
    site = sf.site_of(context)
    product = sf.product_of(plan["product"])
    lot = sf.lot_of(product, plan["lot_no"])
    if lot.expired_on(ledger.site_today(site)):
        raise InvalidInput(f"Lot {lot.lot_no} expired on {lot.expiry_date}; it cannot be "
                           "released.",
                           zh=f"批号 {lot.lot_no} 已于 {lot.expiry_date} 过期，不能放行。")
    if lot.locked:
        ledger.unlock_lot(context.actor, lot, f"Released by quality decision {document(context)}")
    target = md.get_location(site.code, plan["target_location"])
    movements = []
    for line in plan["lines"]:
        source = ledger.Place(md.get_location(site.code, line["location"]), plan["from_status"])
        movement = ledger.transfer(
            context.actor, "status_change", lot, int(line["quantity"]), serial=line["serial"],
            source=source, target=ledger.Place(target, "available"), document=document(context),
            reason=plan["reason"] or "Released by the quality manager", **sf.ids(context))
        movements.append(movement.id)
    return {"released_quantity": sum(int(line["quantity"]) for line in plan["lines"]),
            "release_movements": movements}

"""The outbound process (processes/bpmn/outbound.bpmn): what each step reads from master data and
the ledger before the gate (customer qualification and licence scope, registration, FEFO plan,
held stock, expiry, UDI scans, the delivery note's completeness) and what it posts when it
completes (picks to the dispatch area, shipments to the customer with a delivery note).

Steps: outbound.order (sales order), outbound.pick, outbound.check (出库复核), outbound.ship and
outbound.unpick (a failed check sets the goods aside for QA). Movements carry the instance and
task.

Picked goods wait at the dispatch location in the status "picked", reserved for their order: FEFO
never allocates them to another order, the check looks for them there, the ship step ships them,
and a failed check sets them aside there in quarantine for QA's decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from engine import audit
from engine.db import utcnow
from engine.errors import InvalidInput
from engine.identity.models import User
from engine.ledger import service as ledger
from engine.masterdata import service as md
from engine.masterdata.models import Party, Product, Site
from engine.processes import Worklist, effect, facts, needs_site, terminated, worklist
from engine.processes import stockfacts as sf
from engine.rules.workflow_gate import OUTCOME_KEY
from engine.workflow import serialization
from engine.workflow.models import ProcessInstance
from engine.workflow.runtime import GateOutcome, StepContext

needs_site("outbound")

#: The items of a delivery note (随货同行单, GSP 92) in the order the rule packs name them.
NOTE_ITEMS = ("supplier", "registrant", "manufacturer", "product_name", "model_spec",
              "registration_no", "lot_or_serial", "expiry", "quantity", "transport_conditions",
              "storage_conditions", "consignee", "consignee_address", "consignee_contact",
              "ship_date", "seal")


def order_no(context: StepContext) -> str:
    return _order_no(context.instance)


def _order_no(instance: ProcessInstance) -> str:
    subject = (instance.subject or "").strip()
    return subject[:60] or f"SO-{instance.site_code}-{instance.id:06d}"


def delivery_note_no(context: StepContext) -> str:
    return f"DN-{context.instance.site_code}-{context.instance.id:06d}"


def _order(context: StepContext) -> dict[str, Any]:
    order = context.task.data.get("order")
    if not isinstance(order, dict):
        raise InvalidInput("This outbound has no sales order yet.",
                           zh="此出库流程尚无销售订单。")
    return order


def _picked(context: StepContext) -> list[dict[str, Any]]:
    picked = context.task.data.get("picked")
    return list(picked) if isinstance(picked, list) else []


def _held_as(line: dict[str, Any]) -> str:
    """The status a picked line waits in: picked, or available for an order picked before
    picking reserved stock (an instance in flight when the picked status came in)."""
    return str(line.get("status") or "available")


def _review_demanded(outcome: GateOutcome, step: str) -> bool:
    compliance = outcome.data.get(OUTCOME_KEY) or {}
    return step in (compliance.get("review_required") or [])


# -- outbound.order ----------------------------------------------------------------------------

@facts("outbound.order")
def order_facts(context: StepContext) -> dict[str, Any]:
    site = sf.site_of(context)
    form = context.form
    customer = sf.customer_of(form.get("customer"))
    product = sf.product_of(form.get("product"))
    quantity = int(form.get("quantity") or 0)
    plan = sf.plan(product, quantity, site)
    address = (form.get("ship_to_address") or customer.address or "").strip()
    contact = (form.get("contact") or customer.contact or "").strip()
    licences = sf.covering_licences(customer, product)
    present = {
        "purchaser": bool(customer.name), "ship_to_address": bool(address),
        "contact": bool(contact), "purchaser_licence_no": bool(licences),
        "product_name": bool(product.name_zh or product.name_en),
        "model_spec": bool(product.model or product.specification),
        "registration_no": bool(product.registration_no),
        "manufacturer": product.manufacturer is not None,
        "lot_or_serial": bool(plan.lines),
        "expiry": bool(plan.lines) and all(line.lot.expiry_date for line in plan.lines),
        "quantity": quantity > 0, "sale_date": True,
    }
    found: dict[str, Any] = {
        **sf.customer_facts(customer, product),
        "product_registration_valid": sf.registration_valid(product),
        "sales_record_missing_fields": [name for name, ok in present.items() if not ok],
        "near_expiry_days": product.near_expiry_days,
        "stock_status": "available" if not plan.short else plan.held_status,
        "days_to_expiry": sf.days_left(plan.earliest_expiry(), site),
        "_plan": plan, "_customer": customer, "_product": product, "_site": site,
        "_address": address, "_contact": contact,
        "_licence_no": licences[0].number if licences else "",
    }
    return {k: v for k, v in found.items() if v is not None}


@effect("outbound.order")
def order_effect(context: StepContext, outcome: GateOutcome) -> dict[str, Any]:
    f = context.facts
    plan: sf.Plan = f["_plan"]
    product: Product = f["_product"]
    customer: Party = f["_customer"]
    site: Site = f["_site"]
    if plan.short:
        raise InvalidInput(
            f"Only {plan.available} of {product.code} are available at {site.code} for "
            f"{context.form['quantity']} ordered{plan.shortfall()}; held, quarantined, locked, "
            "expired and picked stock is never allocated.",
            zh=f"{site.code} 的 {product.code} 仅有 {plan.available} 件可用，订购 "
               f"{context.form['quantity']} 件{plan.shortfall_zh()}；扣留、待验、锁定、过期和已拣货"
               "的库存不会被分配。",
            fields={"quantity": f"At most {plan.available}."})
    return {
        "order_no": order_no(context),
        "order": {
            "customer": customer.code, "customer_name": customer.name,
            "customer_name_en": customer.name_en, "product": product.code,
            "quantity": int(context.form["quantity"]), "ship_to_address": f["_address"],
            "contact": f["_contact"], "purchaser_licence_no": f["_licence_no"],
            "customer_order_no": context.form.get("customer_order_no") or "",
            "sale_date": ledger.site_today(site).isoformat(),
            "allocation": plan.to_data(),
        },
    }


# -- outbound.pick -----------------------------------------------------------------------------

@facts("outbound.pick")
def pick_facts(context: StepContext) -> dict[str, Any]:
    site = sf.site_of(context)
    order = _order(context)
    product = sf.product_of(order["product"])
    plan = sf.plan(product, int(order["quantity"]), site)
    lots = {line.lot.lot_no for line in plan.lines}
    serials = {line.serial for line in plan.lines if line.serial}
    scans = sf.check_scans(context.form.get("udi_scans"), product, lots, serials)
    expiry = plan.earliest_expiry()
    # Short only because other orders picked the stock: nothing is held for the gate to name;
    # the effect refuses the pick and says so.
    short_status = plan.held_status or ("available" if plan.picked else "quarantine")
    found: dict[str, Any] = {
        "stock_status": "available" if not plan.short else short_status,
        "days_to_expiry": sf.days_left(expiry, site),
        "expiry_date": expiry,
        "near_expiry_days": product.near_expiry_days,
        "udi_applicable": sf.udi_applicable(product),
        "udi_scanned": bool(scans),
        "_plan": plan, "_product": product, "_site": site, "_scans": scans,
    }
    return {k: v for k, v in found.items() if v is not None}


@effect("outbound.pick")
def pick_effect(context: StepContext, outcome: GateOutcome) -> dict[str, Any]:
    f = context.facts
    plan: sf.Plan = f["_plan"]
    site: Site = f["_site"]
    product: Product = f["_product"]
    if plan.short:
        raise InvalidInput(f"Only {plan.available} of {product.code} can be picked at "
                           f"{site.code} now{plan.shortfall()}; the order is for "
                           f"{_order(context)['quantity']}.",
                           zh=f"{site.code} 目前仅能拣货 {product.code} {plan.available} 件"
                              f"{plan.shortfall_zh()}；订单数量为 {_order(context)['quantity']}。",
                           fields={"quantity": "Not enough available stock."})
    to = sf.shipping_location(site)
    picked = []
    for line in plan.lines:
        # Stock already in the dispatch area is picked where it is, as a status change.
        movement = ledger.transfer(
            context.actor, "pick" if line.location.id != to.id else "status_change", line.lot,
            line.quantity, serial=line.serial, source=ledger.Place(line.location, "available"),
            target=ledger.Place(to, "picked"), document=order_no(context), **sf.ids(context))
        picked.append({"lot_no": line.lot.lot_no, "serial": line.serial,
                       "quantity": line.quantity, "from_location": line.location.code,
                       "expiry": line.lot.expiry_date.isoformat() if line.lot.expiry_date
                       else None, "movement_id": movement.id, "status": "picked"})
    return {"picked": picked, "shipping_location": to.code, "pick_scans": f["_scans"]}


_LINE_COLUMNS = [("lot_no", {"en": "Lot", "zh": "批号"}),
                 ("serial", {"en": "Serial", "zh": "序列号"}),
                 ("expiry", {"en": "Expiry", "zh": "有效期至"}),
                 ("quantity", {"en": "Quantity", "zh": "数量"})]


@worklist("outbound.pick")
def pick_list(instance: ProcessInstance, data: dict[str, Any]) -> Worklist:
    """What to take from where, FEFO, as the pick will post it now."""
    site = md.get_site(str(instance.site_code))
    order = data["order"]
    product = sf.product_of(order["product"])
    plan = sf.plan(product, int(order["quantity"]), site)
    rows = [{**line, "product": product.code} for line in plan.to_data()]
    note = ({} if not plan.short else {
        "en": f"Only {plan.available} of {order['quantity']} can be picked now.",
        "zh": f"目前只能拣货 {plan.available} / {order['quantity']}。"})
    return Worklist({"en": "Pick list (FEFO)", "zh": "拣货单（近效期先出）"},
                    [("location", {"en": "Take from", "zh": "货位"}), *_LINE_COLUMNS], rows,
                    note)


@worklist("outbound.check")
def goods_to_check(instance: ProcessInstance, data: dict[str, Any]) -> Worklist:
    """What was picked for the order and waits in the dispatch area: the checker compares the
    goods with it (and scans them again)."""
    where = str(data.get("shipping_location") or "")
    rows = [{**line, "location": where} for line in data.get("picked") or []]
    return Worklist({"en": "Goods picked for this order", "zh": "本订单已拣货品"},
                    [("location", {"en": "Waiting at", "zh": "所在货位"}), *_LINE_COLUMNS],
                    rows)


# -- outbound.check (出库复核) ------------------------------------------------------------------

def _picked_status(context: StepContext, site: Site, product: Product) -> str:
    """Where the picked goods are now. "available" (the rule packs' word for sellable stock)
    when every line waits picked at the dispatch area; else the status they are held in since,
    or "shipped" when they are gone."""
    to = md.get_location(site.code, str(context.task.data.get("shipping_location", "")))
    statuses: set[str] = set()
    for line in _picked(context):
        lot = ledger.get_lot(product, line["lot_no"])
        waits = _held_as(line)
        here = [b for b in ledger.balances(lot=lot, location=to)
                if b.serial == (line["serial"] or "")]
        if sum(b.quantity for b in here if b.status == waits) < line["quantity"]:
            statuses |= ({b.status for b in here if b.status not in ("available", "picked")}
                         or {"shipped"})
    return next((s for s in (*sf.HELD_ORDER, "shipped") if s in statuses), "available")


@facts("outbound.check")
def check_facts(context: StepContext) -> dict[str, Any]:
    site = sf.site_of(context)
    product = sf.product_of(_order(context)["product"])
    picked = _picked(context)
    lots, serials = {p["lot_no"] for p in picked}, {p["serial"] for p in picked if p["serial"]}
    scans = sf.check_scans(context.form.get("udi_scans"), product, lots, serials)
    status = _picked_status(context, site, product)
    if (_passes(context.form) and status == "available" and sf.udi_applicable(product)
            and sf.udi_on_file(product)):
        # The check scans the goods itself (出库复核): every lot and serial picked, not the
        # picker's scans confirmed; a failed check (or held goods) is recorded without.
        unscanned = sorted(lots - {s["lot"] for s in scans}) + sorted(
            serials - {s["serial"] for s in scans})
        if unscanned:
            raise InvalidInput(
                f"Scan every picked unit at the check; not scanned: {', '.join(unscanned)}.",
                zh=f"复核须逐一扫描所拣货品；未扫描：{'、'.join(unscanned)}。",
                fields={"udi_scans": f"Not scanned: {', '.join(unscanned)}."})
    expiries = [p["expiry"] for p in picked if p.get("expiry")]
    found: dict[str, Any] = {"stock_status": status}
    if expiries:
        found["days_to_expiry"] = sf.days_left(date.fromisoformat(min(expiries)), site)
    return found


def _passes(form: Mapping[str, Any]) -> bool:
    """What the checker's answers say: nothing damaged, sealed, legible, matching, no anomaly."""
    return (not form.get("package_damaged") and bool(form.get("seal_intact"))
            and bool(form.get("label_legible")) and bool(form.get("label_matches"))
            and not form.get("anomaly_found"))


@effect("outbound.check")
def check_effect(context: StepContext, outcome: GateOutcome) -> dict[str, Any]:
    form = context.form
    passed = (_passes(form)
              and context.facts.get("stock_status") == "available"
              and (context.facts.get("days_to_expiry") is None
                   or context.facts["days_to_expiry"] >= 0))
    return {"check_passed": passed,
            "check_review": passed and _review_demanded(outcome, "outbound.check"),
            "review_of_step": "outbound.check",
            "check_rounds": int(context.task.data.get("check_rounds") or 0) + 1,
            "check_notifications": sf.carry_deadlines(
                context, outcome.data.get(OUTCOME_KEY) or {},
                f"Outbound check of order {order_no(context)} failed: "
                f"{form.get('check_note') or 'see the check record'}")}


# -- outbound.ship -----------------------------------------------------------------------------

def _conditions(product: Product) -> tuple[str, str]:
    """(storage, transport) conditions as printed on the delivery note."""
    low, high = (None if t is None else f"{t.normalize():f}"
                 for t in (product.storage_temp_min, product.storage_temp_max))
    if low is not None and high is not None:
        storage = f"{low}–{high} °C"
    elif low is not None:
        storage = f"≥ {low} °C"
    elif high is not None:
        storage = f"≤ {high} °C"
    else:
        storage = "常温 / ambient"
    transport = f"冷链 {storage} / cold chain {storage}" if product.cold_chain else \
        "常温运输 / ambient transport"
    return storage, transport


def note_draft(context: StepContext, site: Site) -> dict[str, Any]:
    """The delivery note (随货同行单) as it will be printed, from the order, the picked lines,
    master data and the ship form."""
    order = _order(context)
    product = sf.product_of(order["product"])
    customer = sf.customer_of(order["customer"])
    maker = product.manufacturer
    storage, transport = _conditions(product)
    form = context.form
    lines = [{"lot_no": p["lot_no"], "serial": p["serial"], "quantity": p["quantity"],
              "expiry": p.get("expiry")} for p in _picked(context)]
    return {
        "number": delivery_note_no(context), "order_no": order_no(context),
        "customer_order_no": order.get("customer_order_no", ""),
        "supplier": {"name": site.name, "code": site.code, "address": site.address},
        "consignee": {"code": customer.code, "name": customer.name,
                      "name_en": customer.name_en, "address": order.get("ship_to_address", ""),
                      "contact": order.get("contact", ""),
                      "licence_no": order.get("purchaser_licence_no", "")},
        "product": {"code": product.code, "name_zh": product.name_zh,
                    "name_en": product.name_en, "model": product.model,
                    "specification": product.specification, "gtin": product.gtin or "",
                    "registration_no": product.registration_no,
                    "device_class": product.device_class,
                    "registrant": maker.name if maker else "",
                    "manufacturer": maker.name if maker else "",
                    "manufacturer_en": maker.name_en if maker else "",
                    "cold_chain": product.cold_chain},
        "lines": lines, "quantity": sum(int(line["quantity"]) for line in lines),
        "storage_conditions": storage, "transport_conditions": transport,
        "carrier": form.get("carrier") or "", "waybill_no": form.get("waybill_no") or "",
        "cold_chain_responsible_person": form.get("cold_chain_responsible_person") or "",
        "seal": bool(form.get("seal_applied")),
        "ship_date": ledger.site_today(site).isoformat(),
        "site_timezone": site.timezone,
    }


def missing_items(note: dict[str, Any]) -> list[str]:
    product, consignee, lines = note["product"], note["consignee"], note["lines"]
    present = {
        "supplier": bool(note["supplier"]["name"]), "registrant": bool(product["registrant"]),
        "manufacturer": bool(product["manufacturer"]),
        "product_name": bool(product["name_zh"] or product["name_en"]),
        "model_spec": bool(product["model"] or product["specification"]),
        "registration_no": bool(product["registration_no"]), "lot_or_serial": bool(lines),
        "expiry": bool(lines) and all(line["expiry"] for line in lines),
        "quantity": note["quantity"] > 0,
        "transport_conditions": bool(note["transport_conditions"]),
        "storage_conditions": bool(note["storage_conditions"]),
        "consignee": bool(consignee["name"]), "consignee_address": bool(consignee["address"]),
        "consignee_contact": bool(consignee["contact"]), "ship_date": bool(note["ship_date"]),
        "seal": note["seal"],
    }
    return [item for item in NOTE_ITEMS if not present[item]]


@facts("outbound.ship")
def ship_facts(context: StepContext) -> dict[str, Any]:
    site = sf.site_of(context)
    order = _order(context)
    product = sf.product_of(order["product"])
    note = note_draft(context, site)
    data = context.task.data
    scanned = bool(data.get("pick_scans")) or bool(data.get("udi_scans"))
    customer = sf.customer_of(order["customer"])
    return {
        "cold_chain": product.cold_chain,
        "tracked_device": bool(product.fda_tracked),
        "final_distributor": bool(product.fda_tracked and customer.user_facility),
        "patient_data_recorded": bool(str(context.form.get("patient_data") or "").strip()),
        "check_completed": "outbound.check" in context.performers
        and data.get("check_passed") is True,
        "delivery_note_missing_fields": missing_items(note),
        "udi_applicable": sf.udi_applicable(product),
        "udi_scanned": scanned,
        "_note": note, "_site": site, "_product": product,
    }


@effect("outbound.ship")
def ship_effect(context: StepContext, outcome: GateOutcome) -> dict[str, Any]:
    f = context.facts
    if not f["check_completed"]:
        raise InvalidInput("The outbound check (出库复核) is not done or did not pass; the goods "
                           "cannot ship.", zh="出库复核未完成或未通过，货物不能发货。")
    site: Site = f["_site"]
    product: Product = f["_product"]
    note: dict[str, Any] = f["_note"]
    customer = sf.customer_of(_order(context)["customer"])
    dispatch = sf.shipping_location(site)
    movements = []
    for line in _picked(context):
        lot = ledger.get_lot(product, line["lot_no"])
        movement = ledger.ship(context.actor, lot, int(line["quantity"]),
                               source=ledger.Place(dispatch, _held_as(line)), customer=customer,
                               document=note["number"], serial=line["serial"] or "",
                               **sf.ids(context))
        movements.append(movement.id)
    note = {**note, "shipped_at": utcnow().isoformat(), "shipper": context.actor.full_name,
            "movements": movements, "signed_form": serialization.plain(context.form)}
    tracking = ""
    if f["final_distributor"]:  # 21 CFR 821.30: the maker learns who got the tracked device
        units = "; ".join(f"lot {line['lot_no']}" + (f" serial {line['serial']}"
                                                     if line["serial"] else "")
                          for line in _picked(context))
        tracking = (f"Tracked device {product.code} (GTIN {product.gtin or '-'}), {units}, "
                    f"provided to {customer.code} {customer.name} on "
                    f"{ledger.site_today(site).isoformat()}; patient data: "
                    f"{context.form.get('patient_data') or '-'}")
    return {"delivery_note_no": note["number"], "delivery_note": note,
            "delivery_note_url": f"/delivery-notes/{context.instance.id}",
            "ship_notifications": sf.carry_deadlines(
                context, outcome.data.get(OUTCOME_KEY) or {}, tracking,
                _tracking_facts(context, product, customer, site, note["number"]))}


def _tracking_facts(context: StepContext, product: Product, customer: Party, site: Site,
                    document: str) -> sf.TrackingFacts | None:
    """A tracked device's shipment as data, lot by lot, for the report to the manufacturer."""
    if not product.fda_tracked:
        return None
    lots: dict[str, tuple[list[str], int]] = {}
    for line in _picked(context):
        serials, quantity = lots.get(line["lot_no"], ([], 0))
        lots[line["lot_no"]] = (serials + ([line["serial"]] if line["serial"] else []),
                                quantity + int(line["quantity"]))
    return sf.TrackingFacts(
        event="shipped", product=product, party=customer, site_code=site.code,
        event_date=ledger.site_today(site), document=document,
        lots=tuple(sf.TrackedLot(lot_no, tuple(serials), quantity)
                   for lot_no, (serials, quantity) in lots.items()),
        patient_data=str(context.form.get("patient_data") or "").strip())


# -- outbound.unpick (the check failed) ---------------------------------------------------------

@effect("outbound.unpick")
def unpick_effect(context: StepContext, outcome: GateOutcome) -> dict[str, Any]:
    """Set the picked goods aside in quarantine where the check found them (GSP 87: goods that
    fail the outbound check do not ship and go to QA, who decides through a release: back to
    stock, return to the supplier or scrap). Goods a recall held since the pick stay held."""
    site = sf.site_of(context)
    product = sf.product_of(_order(context)["product"])
    dispatch = md.get_location(site.code, str(context.task.data.get("shipping_location", "")))
    moved = []
    for line in _picked(context):
        waits = _held_as(line)
        lot = ledger.get_lot(product, line["lot_no"])
        serial = line["serial"] or ""
        here = sum(b.quantity for b in ledger.balances(lot=lot, location=dispatch, status=waits)
                   if b.serial == serial)
        quantity = min(here, int(line["quantity"]))
        if quantity <= 0:
            continue  # held since it was picked: it stays where the hold found it
        movement = ledger.transfer(
            context.actor, "status_change", lot, quantity, serial=serial,
            source=ledger.Place(dispatch, waits), target=ledger.Place(dispatch, "quarantine"),
            document=order_no(context), reason="Outbound check failed: set aside for QA",
            **sf.ids(context))
        moved.append(movement.id)
    return {"returned_movements": moved}


# -- an outbound ended by an administrator ------------------------------------------------------

@terminated("outbound")
def free_reservation(instance: ProcessInstance, actor: User, reason: str) -> None:
    """Ending an outbound frees the stock it still holds picked, in place: the goods stay where
    they are (the dispatch area), sellable again and open to other orders' allocation.

    Posted by the system (the decision is the terminating person's, named in the reason and in
    the instance's audit event): whoever may end a process need not be a warehouse operator."""
    document = _order_no(instance)
    why = (f"Outbound {document} terminated by {actor.full_name}: {reason.strip()}. "
           "Its picked goods are no longer reserved.")
    for lot, serial, place, quantity in ledger.still_picked(str(instance.id)):
        here = sum(b.quantity for b in ledger.balances(lot=lot, location=place, status="picked")
                   if b.serial == serial)
        if min(quantity, here) <= 0:
            continue  # held by a recall since it was picked: the hold decides its fate
        ledger.transfer(audit.SYSTEM, "status_change", lot, min(quantity, here), serial=serial,
                        source=ledger.Place(place, "picked"),
                        target=ledger.Place(place, "available"), document=document,
                        reason=why, instance_id=str(instance.id))

"""Receiving and acceptance inspection (收货验收): the facts the server computes for each gated
step of `processes/bpmn/receiving.bpmn`, and what each step does to the ledger.

- `receiving.arrival` (receiving clerk): the GS1 scans (one per line, as a keyboard-wedge
  scanner types them) are read into lots, serials and expiry dates; the supplier's licences,
  the product's registration, its device class, cold chain and UDI flags come from master
  data, the in-transit record from an imported logger file when there is one. The goods are
  received into the site's quarantine (temperature-controlled for cold chain; the returns area
  for customer returns, which come back against what we shipped the customer).
- `receiving.inspect` (inspector): accepted and rejected quantities are checked against the
  receipt; the inspection record's completeness (GSP 64) is computed, never claimed. Nothing
  moves yet: the decision waits for the second person where one is demanded, and a
  quarantine verdict of this step holds the accepted goods in quarantine for the quality
  manager's release decision.
- `receiving.putaway` (warehouse operator): accepted goods go to available stock, rejected
  goods to the nonconforming (red) zone, at the locations chosen or the site's default ones.

Deadlines the gate sets (notify_within) are carried out at once: the quality managers get an
in-app notification with the due time, and the process data keeps what was sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import defaultload

from engine.db import db
from engine.errors import Bilingual, GxpError, InvalidInput
from engine.identity import roles
from engine.identity import service as identity
from engine.ledger import service as ledger
from engine.ledger.models import (
    Lot,
    StockBalance,
    StockMovement,
    TemperatureImport,
    TemperatureReading,
)
from engine.masterdata import service as md
from engine.masterdata.models import Location, Party, Product, Site
from engine.processes import effect, facts, needs_site
from engine.processes import stockfacts as sf
from engine.recall import holds
from engine.workflow.forms import FormInvalid
from engine.workflow.runtime import GateOutcome, StepContext

needs_site("receiving")

ARRIVAL = "receiving.arrival"
INSPECT = "receiving.inspect"
PUTAWAY = "receiving.putaway"
#: How often a rejected review sends the inspection back before the goods are held for QA
#: (the BPMN's rework gateway uses the same bound).
MAX_INSPECTION_ROUNDS = 3
#: Zone colours of GSP 40: pending/returns yellow, accepted/shipping green, nonconforming red.
ZONE_COLOURS = {"quarantine": "yellow", "returns": "yellow", "available": "green",
                "shipping": "green", "nonconforming": "red"}
_CASE_COUNT = re.compile(r"^(?P<scan>.*?\S)\s+[xX×*]\s*(?P<count>[0-9]{1,6})$")


def _refuse(name: str, en: str, zh: str) -> FormInvalid:
    return FormInvalid({name: {"en": en, "zh": zh}})


# -- the receipt as scanned ------------------------------------------------------------------


@dataclass
class ScannedLot:
    lot_no: str
    expiry: date | None
    production_date: date | None
    serials: list[str] = field(default_factory=list)
    quantity: int = 0

    def to_data(self) -> dict[str, Any]:
        return {"lot": self.lot_no, "expiry": self.expiry.isoformat() if self.expiry else None,
                "production_date": (self.production_date.isoformat()
                                    if self.production_date else None),
                "serials": list(self.serials), "quantity": self.quantity}


@dataclass
class Receipt:
    product: Product
    lots: dict[str, ScannedLot]
    udi_present: bool

    @property
    def total(self) -> int:
        return sum(lot.quantity for lot in self.lots.values())


def read_scans(product: Product, text: str) -> Receipt:
    """The lots, serials and quantities of the scans, one per line. A line may end with
    `x N` (a case of N units) for goods without serial numbers. Any bad line refuses the whole
    list with the line number and the reason, under the field `scans`."""
    lots: dict[str, ScannedLot] = {}
    seen: set[str] = set()
    udi_present = True
    lines = [line.strip() for line in re.split(r"[\r\n]+", text or "") if line.strip()]
    if not lines:
        raise _refuse("scans", "Scan at least one label.", "请至少扫描一个标签。")
    for number, line in enumerate(lines, start=1):
        scan, count = line, 1
        matched = _CASE_COUNT.match(line)
        if matched:
            scan, count = matched.group("scan"), int(matched.group("count"))
        where_en, where_zh = f"Line {number} ({scan[:60]!r})", f"第{number}行（{scan[:60]}）"
        try:
            found, udi = ledger.identify(scan, product if product.gtin else None)
        except GxpError as err:
            raise _refuse("scans", f"{where_en}: {err.message}",
                          f"{where_zh}：无法识别该条码 — {err.message}") from None
        if found.id != product.id:
            raise _refuse("scans", f"{where_en}: the label is {found.code}, not {product.code}.",
                          f"{where_zh}：标签是 {found.code}，不是 {product.code}。")
        if not udi.lot:
            raise _refuse("scans", f"{where_en}: the label has no lot (AI 10).",
                          f"{where_zh}：标签上没有批号（AI 10）。")
        if product.serialised and not udi.serial:
            raise _refuse("scans", f"{where_en}: {product.code} is serialised but the label "
                                   "has no serial number (AI 21).",
                          f"{where_zh}：{product.code} 按序列号管理，但标签上没有序列号（AI 21）。")
        if udi.serial and not product.serialised:
            raise _refuse("scans", f"{where_en}: {product.code} is not kept by serial number; "
                                   "this label carries one, check the product.",
                          f"{where_zh}：{product.code} 不按序列号管理，请核对产品。")
        if udi.serial and count != 1:
            raise _refuse("scans", f"{where_en}: a serial number is one unit; scan each unit.",
                          f"{where_zh}：一个序列号就是一件，请逐件扫描。")
        if udi.serial:
            if udi.serial in seen:
                raise _refuse("scans", f"{where_en}: serial {udi.serial} was scanned twice.",
                              f"{where_zh}：序列号 {udi.serial} 重复扫描。")
            seen.add(udi.serial)
        lot = lots.get(udi.lot)
        if lot is None:
            lot = lots[udi.lot] = ScannedLot(udi.lot, udi.expiry, udi.production_date)
        elif lot.expiry != udi.expiry:
            raise _refuse("scans", f"{where_en}: lot {udi.lot} was scanned with two expiry "
                                   f"dates ({lot.expiry} and {udi.expiry}).",
                          f"{where_zh}：批号 {udi.lot} 出现两个不同的有效期。")
        if udi.serial:
            lot.serials.append(udi.serial)
        lot.quantity += count
        udi_present = udi_present and bool(udi.lot or udi.serial)
    return Receipt(product, lots, udi_present)


# -- master data the facts come from ---------------------------------------------------------


def _site(context: StepContext) -> Site:
    if not context.instance.site_code:
        raise InvalidInput("This receiving has no site; start it for a site (SH, CHI, ...).",
                           zh="此收货流程没有仓库；请为某个仓库（SH、CHI 等）发起。",
                           fields={"site_code": "Required."})
    return md.get_site(context.instance.site_code)


def _product(key: str) -> Product:
    product = md.find_product(key or "")
    if product is None or not product.active:
        raise _refuse("product", f"No active product has the code or GTIN {key!r}.",
                      f"没有编码或GTIN为 {key} 的有效产品。")
    return product


def _party(code: str | None, name: str, kind: str) -> Party:
    party = None
    if code:
        try:
            party = md.get_party(code)
        except GxpError:
            party = None
    if party is None or not party.active or not getattr(party, f"is_{kind}"):
        raise _refuse(name, f"Give the code of an active {kind} ({code or 'none given'}).",
                      f"请填写有效的{'供货单位' if kind == 'supplier' else '客户'}编码。")
    return party


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(Decimal(str(value)))


def product_facts(product: Product, site: Site) -> dict[str, Any]:
    """What master data says about the product, for every receiving step."""
    today = ledger.site_today(site)
    registration = md.registration_flag(product, today)
    fact: dict[str, Any] = {
        "cold_chain": bool(product.cold_chain),
        "device_class": product.device_class,
        "implantable": bool(product.implantable),
        "udi_applicable": udi_applicable(product, site),
        "product_registration_valid": registration not in ("expired", "missing"),
    }
    if product.storage_temp_min is not None:
        fact["temp_min_c"] = _number(product.storage_temp_min)
    if product.storage_temp_max is not None:
        fact["temp_max_c"] = _number(product.storage_temp_max)
    return fact


def udi_applicable(product: Product, site: Site) -> bool:
    """Whether UDI rules are in force for the product where it is received: NMPA for classes
    II and III (notices 2021-114, 2023-22); FDA and MDR for every class that has a UDI-DI on
    record (a GTIN or another issuer's DI)."""
    if site.region == "CN":
        return product.device_class in ("II", "III")
    return bool(product.gtin or product.udi_di) or product.device_class != "I"


def qualification(party: Party, site: Site) -> dict[str, Any]:
    """The supplier's (or returning customer's) file: review status and licence validity."""
    today = ledger.site_today(site)
    in_force = [lic for lic in party.licences
                if lic.active and md.validity(lic.expires_on, today, issued_on=lic.issued_on)
                not in ("expired", "not_yet_valid")]
    return {"party": party.code, "review_status": party.review_status,
            "licence_flag": md.licence_flag(party, today),
            "licence_valid": bool(in_force)}


def _in_transit(shipment: str) -> dict[str, Any]:
    """In-transit readings of an inbound logger file imported for this delivery note."""
    if not shipment:
        return {}
    imports = select(TemperatureImport.id).where(TemperatureImport.shipment == shipment,
                                                 TemperatureImport.direction == "inbound")
    low, high = db.session.execute(
        select(func.min(TemperatureReading.celsius), func.max(TemperatureReading.celsius))
        .where(TemperatureReading.import_id.in_(imports))).one()
    if low is None:
        return {}
    return {"in_transit_record_present": True, "in_transit_min_c": _number(low),
            "in_transit_max_c": _number(high)}


def _lot(product: Product, lot_no: str) -> Lot:
    found = ledger.find_lot(product, lot_no)
    if found is None:
        raise _refuse("scans", f"Lot {lot_no} of {product.code} was never received here.",
                      f"{product.code} 的批号 {lot_no} 没有收货记录。")
    return found


# -- receiving.arrival -----------------------------------------------------------------------


@dataclass
class Arrival:
    site: Site
    product: Product
    receipt: Receipt
    party: Party
    is_return: bool


def _arrival(context: StepContext) -> Arrival:
    """The arrival the form describes, checked (read once per completion)."""
    arrival: Arrival = context.once("receiving.arrival", lambda: _read_arrival(context))
    return arrival


def _read_arrival(context: StepContext) -> Arrival:
    form = context.form
    site = _site(context)
    product = _product(form.get("product") or "")
    receipt = read_scans(product, form.get("scans") or "")
    is_return = bool(form.get("is_return"))
    if is_return:
        party = _party(form.get("customer"), "customer", "customer")
    else:
        party = _party(form.get("supplier"), "supplier", "supplier")
        file = qualification(party, site)
        if file["review_status"] == "rejected" or not file["licence_valid"]:
            raise _refuse(
                "supplier", f"{party.name} is not a qualified supplier (first-purchase review "
                            f"{file['review_status']}, licences {file['licence_flag']}): do "
                            "not receive; keep the goods aside and tell QA.",
                f"{party.name} 不是合格供货单位（首营审核：{file['review_status']}，证照："
                f"{file['licence_flag']}）。不得收货，请将货物放在待处理区并报告质量管理部门。")
    return Arrival(site, product, receipt, party, is_return)


def _returnable(arrival: Arrival) -> bool:
    """Every returned lot (or serial) was shipped to this customer in that quantity."""
    for scanned in arrival.receipt.lots.values():
        lot = ledger.find_lot(arrival.product, scanned.lot_no)
        if lot is None:
            return False
        if scanned.serials:
            if any(ledger.shipped_to(arrival.party, lot, s) < 1 for s in scanned.serials):
                return False
        elif ledger.shipped_to(arrival.party, lot) < scanned.quantity:
            return False
    return True


@facts(ARRIVAL)
def arrival_facts(context: StepContext) -> dict[str, Any]:
    if not ours(context):
        return {}
    form = context.form
    arrival = _arrival(context)
    matches_order = bool(form.get("matches_purchase_order"))
    if arrival.is_return:
        matches_order = matches_order and _returnable(arrival)
    fact = {
        **product_facts(arrival.product, arrival.site),
        "is_return": arrival.is_return,
        "matches_purchase_order": matches_order,
        "matches_delivery_note": bool(form.get("matches_delivery_note"))
        and arrival.receipt.total == form.get("quantity"),
        "delivery_note_missing_fields": list(form.get("delivery_note_missing") or []),
        "udi_present": arrival.receipt.udi_present,
        "udi_scanned": True,
        "label_dates_iso": not form.get("label_dates_not_iso"),
        **_in_transit(str(form.get("delivery_note_no") or "")),
        "tracked_device": bool(arrival.product.fda_tracked),
        "tracking_missing_fields": _tracking_missing(arrival),
    }
    return fact


def _tracking_missing(arrival: Arrival) -> list[str]:
    """What 21 CFR 821 tracking needs that this receipt lacks (the scans always carry the
    lot, the server's clock the date, the form the source; kept honest, not assumed)."""
    if not arrival.product.fda_tracked:
        return []
    lots = arrival.receipt.lots.values()
    present = {"lot_or_serial": bool(lots) and all(lot.lot_no for lot in lots),
               "receipt_date": True, "source": bool(arrival.party.code)}
    return [name for name, ok in present.items() if not ok]


def _tracking_data(arrival: Arrival) -> str:
    """A tracked device's receipt, as its manufacturer is to be told (21 CFR 821.25)."""
    if not arrival.product.fda_tracked:
        return ""
    units = "; ".join(f"lot {lot.lot_no}" + (f" serials {', '.join(lot.serials)}"
                                            if lot.serials else f" x {lot.quantity}")
                      for lot in arrival.receipt.lots.values())
    return (f"Tracked device {arrival.product.code} (GTIN {arrival.product.gtin or '-'}): "
            f"{units}; received {ledger.site_today(arrival.site).isoformat()} at "
            f"{arrival.site.code} from {arrival.party.code} {arrival.party.name}.")


def _tracking_facts(arrival: Arrival, document: str) -> sf.TrackingFacts | None:
    """The same receipt as data, for the tracking report to the manufacturer."""
    if not arrival.product.fda_tracked:
        return None
    return sf.TrackingFacts(
        event="received", product=arrival.product, party=arrival.party,
        site_code=arrival.site.code, event_date=ledger.site_today(arrival.site),
        document=document, lots=tuple(sf.TrackedLot(lot.lot_no, tuple(lot.serials), lot.quantity)
                                      for lot in arrival.receipt.lots.values()))


def _fits(location: Location, product: Product) -> bool:
    """The location keeps the product's storage range (cold chain: a controlled range)."""
    low, high = product.storage_temp_min, product.storage_temp_max
    if product.cold_chain and (location.temp_min is None or location.temp_max is None):
        return False
    if low is not None and (location.temp_min is None or location.temp_min < low):
        return not product.cold_chain and location.temp_min is None
    if high is not None and (location.temp_max is None or location.temp_max > high):
        return not product.cold_chain and location.temp_max is None
    return True


def default_location(site: Site, zones: tuple[str, ...], product: Product, *,
                     controlled: bool = False) -> Location | None:
    """The first active location of the site in one of the zones (in that order of
    preference) that keeps the product's temperature range."""
    rows = list(db.session.scalars(
        select(Location).where(Location.site_id == site.id, Location.active.is_(True),
                               Location.zone.in_(zones)).order_by(Location.code)))
    rows.sort(key=lambda loc: zones.index(loc.zone))
    for location in rows:
        if controlled and (location.temp_min is None or location.temp_max is None):
            continue
        if _fits(location, product):
            return location
    return None


def _quarantine_location(arrival: Arrival, controlled: bool) -> Location:
    zones = ("returns", "quarantine") if arrival.is_return and not controlled else ("quarantine",)
    location = default_location(arrival.site, zones, arrival.product, controlled=controlled)
    if location is None:
        kind = "temperature-controlled quarantine" if controlled else "quarantine"
        raise InvalidInput(f"Site {arrival.site.code} has no active {kind} location for "
                           f"{arrival.product.code}; ask QA to set one up.",
                           zh=f"仓库 {arrival.site.code} 没有适合 {arrival.product.code} 的启用中"
                              f"{'温控待验' if controlled else '待验'}货位；请质量管理部门设置。",
                           fields={"location": "No quarantine location."})
    return location


def _compliance(outcome: GateOutcome) -> dict[str, Any]:
    value = outcome.data.get("compliance")
    return dict(value) if isinstance(value, Mapping) else {}


def ours(context: StepContext) -> bool:
    """Whether the task is one of this process's: other processes may use the receiving steps
    (with their own data) and are left to the gate alone. Arrival forms carry the scans; later
    steps find the receipt the arrival recorded."""
    if context.meta.step == ARRIVAL:
        return context.meta.form is not None and "scans" in context.meta.form.names
    return isinstance(context.task.data.get("receipt"), Mapping)


def _refs(context: StepContext) -> dict[str, str]:
    return {"instance_id": str(context.instance.id), "task_id": str(context.task.id)}


@effect(ARRIVAL)
def arrival_effect(context: StepContext, outcome: GateOutcome) -> dict[str, Any]:
    if not ours(context):
        return {}
    form = context.form
    arrival = _arrival(context)
    compliance = _compliance(outcome)
    controlled = arrival.product.cold_chain or bool(compliance.get("temperature_controlled"))
    location = _quarantine_location(arrival, controlled)
    document = str(form.get("delivery_note_no") or "")
    reason = (f"Return against {form.get('purchase_order')}" if arrival.is_return
              else f"Receipt against purchase order {form.get('purchase_order')}")
    movements = []
    for scanned in arrival.receipt.lots.values():
        if arrival.is_return:
            lot = _lot(arrival.product, scanned.lot_no)
            target = ledger.Place(location, "quarantine")
            lines = [(s, 1) for s in scanned.serials] or [("", scanned.quantity)]
            movements += [ledger.return_goods(context.actor, lot, qty, target=target,
                                              customer=arrival.party, document=document,
                                              reason=reason, serial=serial, **_refs(context))
                          for serial, qty in lines]
        else:
            movements += ledger.receive(
                context.actor, location, arrival.product, scanned.lot_no,
                None if scanned.serials else scanned.quantity, supplier=arrival.party,
                document=document, expiry=scanned.expiry,
                production_date=scanned.production_date, serials=scanned.serials,
                reason=reason, **_refs(context))
    fact = context.facts
    data: dict[str, Any] = {
        "product_code": arrival.product.code,
        "party_code": arrival.party.code,
        "receipt": {"lots": [lot.to_data() for lot in arrival.receipt.lots.values()],
                    "total": arrival.receipt.total, "location": location.code,
                    "movement_ids": [m.id for m in movements]},
        "received_quantity": arrival.receipt.total,
        "qualification": qualification(arrival.party, arrival.site),
        "product_file": {"registration_no": arrival.product.registration_no,
                         "registration_flag": md.registration_flag(
                             arrival.product, ledger.site_today(arrival.site))},
        "arrival_compliance": compliance,
        "notifications": sf.carry_deadlines(context, compliance, _tracking_data(arrival),
                                            _tracking_facts(arrival, document)),
        "inspection_round": 0,
    }
    # What the server read (imported logger file) replaces what was typed, for later steps.
    for name in ("in_transit_record_present", "in_transit_min_c", "in_transit_max_c"):
        if name in fact:
            data[name] = fact[name]
    return data


# -- receiving.inspect -----------------------------------------------------------------------


def _receipt_lots(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    receipt = data.get("receipt")
    if not isinstance(receipt, Mapping):
        raise InvalidInput("This process has no receipt to inspect (the arrival was not "
                           "recorded).", zh="此流程没有可验收的收货记录（到货未登记）。")
    return list(receipt.get("lots") or [])


def rejected_lines(data: Mapping[str, Any], form: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Which units are rejected: `rejected_items` names serials, or lots (`lot x 3` for part
    of a lot); with one lot and no serials the rejected quantity needs no list."""
    lots = _receipt_lots(data)
    rejected = int(form.get("rejected_quantity") or 0)
    items = [line.strip() for line in re.split(r"[\r\n,]+", form.get("rejected_items") or "")
             if line.strip()]
    serialised = any(lot["serials"] for lot in lots)
    if rejected == 0:
        if items:
            raise _refuse("rejected_items", "Nothing is rejected: leave this list empty.",
                          "没有不合格品，此项应为空。")
        return []
    if not items and not serialised and len(lots) == 1:
        return [{"lot": lots[0]["lot"], "serial": "", "quantity": rejected}]
    if not items:
        raise _refuse("rejected_items", "Name the rejected serial numbers or lots, one per line.",
                      "请逐行填写不合格的序列号或批号。")
    found: list[dict[str, Any]] = []
    by_serial = {s: lot["lot"] for lot in lots for s in lot["serials"]}
    by_lot = {lot["lot"]: lot for lot in lots}
    for item in items:
        matched = _CASE_COUNT.match(item)
        name, count = (matched.group("scan"), int(matched.group("count"))) if matched else \
            (item, None)
        if serialised:
            if name not in by_serial or count not in (None, 1):
                raise _refuse("rejected_items", f"{item!r} is not a serial number of this "
                                                "receipt.", f"{item} 不是本次收货的序列号。")
            if any(line["serial"] == name for line in found):
                raise _refuse("rejected_items", f"Serial {name} is listed twice.",
                              f"序列号 {name} 重复。")
            found.append({"lot": by_serial[name], "serial": name, "quantity": 1})
        else:
            lot = by_lot.get(name)
            if lot is None:
                raise _refuse("rejected_items", f"{name!r} is not a lot of this receipt.",
                              f"{name} 不是本次收货的批号。")
            qty = lot["quantity"] if count is None else count
            already = sum(line["quantity"] for line in found if line["lot"] == name)
            if qty < 1 or already + qty > lot["quantity"]:
                raise _refuse("rejected_items", f"Lot {name} has {lot['quantity']} units in "
                                                "this receipt.",
                              f"批号 {name} 本次只收货 {lot['quantity']} 个。")
            found.append({"lot": name, "serial": "", "quantity": qty})
    if sum(line["quantity"] for line in found) != rejected:
        raise _refuse("rejected_items", f"The list names {sum(li['quantity'] for li in found)} "
                                        f"units; the rejected quantity is {rejected}.",
                      "列出的数量与不合格数量不一致。")
    return found


def _check_quantities(data: Mapping[str, Any], form: Mapping[str, Any]) -> None:
    total = int(data.get("received_quantity") or 0)
    accepted = int(form.get("accepted_quantity") or 0)
    rejected = int(form.get("rejected_quantity") or 0)
    conclusion = form.get("conclusion")
    if accepted + rejected != total:
        raise FormInvalid({
            name: {"en": f"Accepted and rejected must add up to the {total} units received.",
                   "zh": f"合格数量与不合格数量之和须等于收货数量 {total}。"}
            for name in ("accepted_quantity", "rejected_quantity")})
    expected = ("accepted" if rejected == 0 else "rejected" if accepted == 0
                else "partially_accepted")
    if conclusion != expected:
        raise _refuse("conclusion", f"With {accepted} accepted and {rejected} rejected the "
                                    f"conclusion is {expected.replace('_', ' ')}.",
                      "验收结论与合格/不合格数量不一致。")


def _days_to_expiry(lots: list[dict[str, Any]], site: Site) -> int | None:
    expiries = [date.fromisoformat(lot["expiry"]) for lot in lots if lot.get("expiry")]
    if not expiries:
        return None
    return (min(expiries) - ledger.site_today(site)).days


@facts(INSPECT)
def inspect_facts(context: StepContext) -> dict[str, Any]:
    if not ours(context):
        return {}
    data, form = context.task.data, context.form
    site = _site(context)
    product = md.get_product(str(data.get("product_code")))
    lots = _receipt_lots(data)
    _check_quantities(data, form)
    rejected_lines(data, form)
    base = product_facts(product, site)
    udi_present = bool(data.get("receipt")) and all(lot.get("lot") for lot in lots)
    missing = []
    if not product.registration_no:
        missing.append("registration_no")
    if product.manufacturer_id is None:
        missing.append("registrant_or_manufacturer")
    if any(not lot.get("expiry") for lot in lots):
        missing.append("expiry")
    if base["udi_applicable"] and not udi_present:
        missing.append("udi")
    fact: dict[str, Any] = {
        **base,
        "is_return": bool(data.get("is_return")),
        "inspection_passed": int(form.get("accepted_quantity") or 0) > 0,
        "inspection_record_missing_fields": missing,
        "udi_present": udi_present,
    }
    for name in ("arrival_temperature_c", "in_transit_min_c", "in_transit_max_c"):
        value = _number(data.get(name))
        if value is not None:
            fact[name] = value
    fact["in_transit_record_present"] = bool(data.get("in_transit_record_present"))
    days = _days_to_expiry(lots, site)
    if days is not None:
        fact["days_to_expiry"] = days
    return fact


@effect(INSPECT)
def inspect_effect(context: StepContext, outcome: GateOutcome) -> dict[str, Any]:
    if not ours(context):
        return {}
    data, form = context.task.data, context.form
    compliance = _compliance(outcome)
    rounds = int(data.get("inspection_round") or 0) + 1
    hold = [status for status in compliance.get("quarantine") or [] if status == "quarantine"]
    accepted = int(form.get("accepted_quantity") or 0)
    review = accepted > 0 and (bool(compliance.get("review_required"))
                               or bool(data.get("dual_review_always")))
    return {
        "inspection": {"round": rounds, "accepted": accepted,
                       "rejected": int(form.get("rejected_quantity") or 0),
                       "rejected_lines": rejected_lines(data, form),
                       "hold_in_quarantine": bool(hold),
                       "hold_rules": compliance.get("rules", []) if hold else [],
                       "temperature_controlled": bool(compliance.get("temperature_controlled")),
                       "defects": form.get("defects") or "",
                       "attachments": form.get("attachments") or [],
                       "inspector": context.actor.id},
        "inspection_passed": accepted > 0,
        "inspection_round": rounds,
        "dual_review_needed": review,
        "review_of_step": INSPECT,
        "review_decision": None,
        "inspection_notifications": sf.carry_deadlines(context, compliance),
    }


# -- receiving.putaway -----------------------------------------------------------------------


def _inspection(data: Mapping[str, Any]) -> dict[str, Any]:
    inspection = data.get("inspection")
    if not isinstance(inspection, Mapping):
        raise InvalidInput("This process has no inspection result to put away.",
                           zh="此流程没有可上架的验收结果。")
    return dict(inspection)


def _chosen(site: Site, code: str | None, name: str, zones: tuple[str, ...],
            product: Product) -> Location:
    if code:
        try:
            location = md.get_location(site.code, code)
        except GxpError:
            raise _refuse(name, f"Site {site.code} has no location {code!r}.",
                          f"{site.code} 没有货位 {code}。") from None
        if not location.active:
            raise _refuse(name, f"Location {location.label} is retired.", "该货位已停用。")
        if location.zone not in zones:
            colour = ZONE_COLOURS.get(location.zone, location.zone)
            raise _refuse(name, f"{location.label} is a {location.zone} ({colour}) location; "
                                f"choose one in a {' or '.join(zones)} zone.",
                          f"{location.label} 不在正确的库区，请重新选择。")
        if not _fits(location, product):
            raise _refuse(name, f"{location.label} does not keep {product.code}'s storage "
                                "temperature range.",
                          f"{location.label} 的温度不符合该产品的储存要求。")
        return location
    found = default_location(site, zones, product)
    if found is None:
        raise _refuse(name, f"Choose a location: site {site.code} has no default one that "
                            "keeps this product.", "请选择货位。")
    return found


@dataclass
class Putaway:
    site: Site
    product: Product
    inspection: dict[str, Any]
    accepted_to: Location | None
    rejected_to: Location | None


def _putaway(context: StepContext) -> Putaway:
    """The putaway the form asks for, checked (read once per completion)."""
    putaway: Putaway = context.once("receiving.putaway", lambda: _read_putaway(context))
    return putaway


def _read_putaway(context: StepContext) -> Putaway:
    data, form = context.task.data, context.form
    site = _site(context)
    product = md.get_product(str(data.get("product_code")))
    inspection = _inspection(data)
    accepted_to = rejected_to = None
    if inspection["accepted"] and not inspection["hold_in_quarantine"]:
        accepted_to = _chosen(site, form.get("accepted_location"), "accepted_location",
                              ("available", "shipping"), product)
    if inspection["rejected"]:
        # Any location the operator names is checked: a failed lot in a green zone is what
        # the packs refuse (target_zone), so it must reach the gate rather than an error.
        code = form.get("rejected_location")
        if code:
            try:
                rejected_to = md.get_location(site.code, code)
            except GxpError:
                raise _refuse("rejected_location", f"Site {site.code} has no location "
                                                   f"{code!r}.", f"{site.code} 没有货位 {code}。"
                              ) from None
            if not _fits(rejected_to, product):  # rejected goods still keep their conditions
                raise _refuse("rejected_location",
                              f"{rejected_to.label} does not keep {product.code}'s storage "
                              "temperature range: rejected goods are stored as the product "
                              "needs until QA decides.",
                              f"{rejected_to.label} 的温度不符合该产品的储存要求：不合格品在处理前"
                              "仍须按产品要求储存。")
        else:
            rejected_to = _chosen(site, None, "rejected_location", ("nonconforming",), product)
    return Putaway(site, product, inspection, accepted_to, rejected_to)


@facts(PUTAWAY)
def putaway_facts(context: StepContext) -> dict[str, Any]:
    if not ours(context):
        return {}
    data = context.task.data
    putaway = _putaway(context)
    target = putaway.rejected_to if not putaway.inspection["accepted"] else putaway.accepted_to
    zone = target.zone if target is not None else "quarantine"
    return {"inspection_passed": bool(putaway.inspection["accepted"]),
            "target_zone": ZONE_COLOURS.get(zone, "yellow"),
            "is_return": bool(data.get("is_return")),
            "cold_chain": bool(putaway.product.cold_chain)}


def _quarantined(product: Product, site: Site, instance_id: str) -> list[dict[str, Any]]:
    """What this process received that is still in quarantine where it was received:
    (lot, serial, location, quantity)."""
    balances = db.session.scalars(_QUARANTINED, {"instance_id": instance_id})
    return [{"lot": b.lot, "serial": b.serial, "location": b.location, "quantity": b.quantity}
            for b in balances]


#: Quarantined balances of the lots an instance received, where it received them, in one
#: statement (the parties' licences are not needed here: not loaded).
_QUARANTINED = (
    select(StockBalance).where(
        StockBalance.status == "quarantine", StockBalance.quantity > 0,
        exists().where(StockMovement.instance_id == bindparam("instance_id"),
                       StockMovement.kind.in_(("receive", "return")),
                       StockMovement.lot_id == StockBalance.lot_id,
                       StockMovement.to_location_id == StockBalance.location_id))
    .order_by(StockBalance.location_id, StockBalance.lot_id, StockBalance.serial)
    .execution_options(populate_existing=True)
    .options(defaultload(StockBalance.lot).defaultload(Lot.supplier).lazyload(Party.licences),
             defaultload(StockBalance.lot).defaultload(Lot.product)
             .defaultload(Product.manufacturer).lazyload(Party.licences)))


def _tell_qa(context: StepContext, moved: list[dict[str, Any]], held: int,
             stock: list[dict[str, Any]]) -> None:
    """Stock this receiving leaves for a quality decision (rejected to nonconforming, or held
    in quarantine) is the quality managers' to decide through a release: tell them, with what
    and where, so it does not wait unseen."""
    lines = [f"- {m['quantity']} × lot {m['lot']}{' ' + m['serial'] if m['serial'] else ''}: "
             f"nonconforming at {m['to']}" for m in moved if m["status"] == "nonconforming"]
    if held:
        where = sorted({f"{row['lot'].lot_no} at {row['location'].code}" for row in stock
                        if row["quantity"]})
        lines.append(f"- {held} accepted units held in quarantine ({', '.join(where)})")
    if not lines:
        return
    instance = context.instance
    identity.notify_role(
        roles.QUALITY_MANAGER,
        Bilingual(f"Receiving #{instance.id} ({instance.subject}): stock awaits your decision",
                  f"收货 #{instance.id}（{instance.subject}）：有货品待您处理"),
        Bilingual("\n".join([f"Receiving #{instance.id} at {instance.site_code} left stock for "
                             "a quality decision:", *lines,
                             "Decide through a release (Processes › release): release, return "
                             "to the supplier or scrap."]),
                  "\n".join([f"收货 #{instance.id}（{instance.site_code}）有货品待质量处理：",
                             *lines, "请通过质量放行流程（流程 › 质量放行）处理：放行、退回供应商或"
                                     "报废。"])))


@effect(PUTAWAY)
def putaway_effect(context: StepContext, outcome: GateOutcome) -> dict[str, Any]:
    if not ours(context):
        return {}
    data = context.task.data
    putaway = _putaway(context)
    inspection = putaway.inspection
    compliance = _compliance(outcome)
    # The inspector with their roles in one statement (the putaway checks they may inspect).
    found = identity.load_user(context.performers.get(INSPECT) or inspection["inspector"])
    inspector = found.user if found is not None else None
    if inspector is None:
        raise InvalidInput("The inspection's performer is unknown; the putaway cannot proceed.",
                           zh="验收执行人未知，无法上架。")
    refs = _refs(context)
    document = str(data.get("delivery_note_no") or "")
    stock = _quarantined(putaway.product, putaway.site, refs["instance_id"])
    rejected = [dict(line) for line in inspection.get("rejected_lines") or []]
    moved: list[dict[str, Any]] = []

    def post(row: dict[str, Any], qty: int, location: Location, status: str, why: str) -> None:
        movement = ledger.put_away_inspected(
            context.actor, row["lot"], qty, source=ledger.Place(row["location"], "quarantine"),
            target=ledger.Place(location, status), inspected_by=inspector,
            serial=row["serial"], document=document, reason=why, **refs)
        row["quantity"] -= qty
        moved.append({"movement": movement.id, "lot": row["lot"].lot_no,
                      "serial": row["serial"], "quantity": qty, "to": location.code,
                      "status": status})

    for line in rejected:
        assert putaway.rejected_to is not None
        left = int(line["quantity"])
        for row in stock:
            if left == 0:
                break
            if row["lot"].lot_no != line["lot"] or row["serial"] != line["serial"] \
                    or row["quantity"] == 0:
                continue
            qty = min(left, row["quantity"])
            post(row, qty, putaway.rejected_to, "nonconforming",
                 f"Failed acceptance inspection: {data.get('defects') or 'see record'}")
            left -= qty
        if left:
            raise InvalidInput(f"{left} rejected units of lot {line['lot']} are no longer in "
                               "quarantine; ask QA to check the stock.",
                               zh=f"批号 {line['lot']} 有 {left} 件不合格品已不在待验区；"
                                  "请质量管理部门核查库存。")
    recalled: dict[str, int] = {}  # recall number -> accepted units held for it
    held = inspection["hold_in_quarantine"] or "quarantine" in (compliance.get("quarantine")
                                                                or [])
    accepted_left = int(inspection["accepted"])
    if accepted_left and not held:
        assert putaway.accepted_to is not None
        for row in stock:
            if row["quantity"] == 0 or accepted_left == 0:
                continue
            qty = min(accepted_left, row["quantity"])
            recall = holds.open_recall_of(row["lot"], row["serial"])
            if recall is None:
                post(row, qty, putaway.accepted_to, "available", "Passed acceptance inspection")
            else:  # a return of recalled goods: it stays held where it lies
                post(row, qty, row["location"], "recalled",
                     f"Passed acceptance inspection; held: lot under recall {recall}")
                recalled[recall] = recalled.get(recall, 0) + qty
            accepted_left -= qty
    _tell_qa(context, moved, accepted_left if held else 0, stock)
    return {"putaway": {"moved": moved, "held_in_quarantine": accepted_left if held else 0,
                        "held_for_recall": recalled,
                        "accepted_location": putaway.accepted_to.code
                        if putaway.accepted_to else None,
                        "rejected_location": putaway.rejected_to.code
                        if putaway.rejected_to else None},
            "putaway_notifications": sf.carry_deadlines(context, compliance)}

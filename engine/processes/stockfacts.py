"""What the release and outbound steps read from master data and the ledger: the site of the
instance, products and parties named in a form, FEFO plans, the status of held stock, expiry,
UDI scans and the customer's qualification. Server-side facts: a form never claims them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from engine.db import db
from engine.errors import Bilingual, InvalidInput, NotFound
from engine.identity import roles
from engine.identity import service as identity
from engine.ledger import gs1
from engine.ledger import service as ledger
from engine.ledger.models import Lot, StockBalance
from engine.masterdata import service as md
from engine.masterdata.models import Location, Party, Product, Site
from engine.tracking import service as reports
from engine.tracking.service import TrackedLot as TrackedLot  # built by the step effects
from engine.tracking.service import TrackingFacts as TrackingFacts
from engine.workflow.runtime import StepContext

#: The order in which a held status explains why stock cannot be allocated.
HELD_ORDER = ("recalled", "nonconforming", "quarantine")
#: Held statuses as refusals say them in Chinese (the ledger pages' words).
_STATUS_ZH = {"recalled": "召回冻结", "nonconforming": "不合格", "quarantine": "待验"}
#: Device classes for which UDI rules are in force (design choice: class II and up).
UDI_CLASSES = frozenset({"II", "IIa", "IIb", "III"})


def ids(context: StepContext) -> dict[str, str]:
    """The instance and task a movement is caused by."""
    return {"instance_id": str(context.instance.id), "task_id": str(context.task.id)}


def site_of(context: StepContext) -> Site:
    code = context.instance.site_code
    if not code:
        raise InvalidInput("This process was started without a site; start it again for the "
                           "site where the stock is.",
                           zh="此流程发起时未指定仓库；请为库存所在的仓库重新发起。",
                           fields={"site": "Required."})
    return md.get_site(code)


def product_of(key: Any, name: str = "product") -> Product:
    product = md.find_product(str(key or ""))
    if product is None or not product.active:
        raise InvalidInput(f"No active product with code or GTIN {key!r}.",
                           zh=f"没有编码或GTIN为 {key} 的有效产品。",
                           fields={name: "Unknown product."})
    return product


def customer_of(code: Any, name: str = "customer") -> Party:
    party = db.session.scalar(select(Party).where(Party.code == str(code or "").strip()))
    if party is None or not party.active or not party.is_customer:
        raise InvalidInput(f"No active customer with code {code!r}.",
                           zh=f"没有编码为 {code} 的有效客户。",
                           fields={name: "Unknown customer."})
    return party


def days_left(expiry: date | None, site: Site) -> int | None:
    return None if expiry is None else (expiry - ledger.site_today(site)).days


def udi_applicable(product: Product) -> bool:
    return product.device_class in UDI_CLASSES


def udi_on_file(product: Product) -> bool:
    return bool(product.gtin or product.udi_di)


@dataclass
class Plan:
    """A FEFO allocation of a product at a site, or why it falls short."""

    lines: list[ledger.Allocation]
    short: bool
    available: int
    held_status: str | None
    #: Stock of the product picked for other orders at the site (when the plan falls short).
    picked: int = 0

    def shortfall(self) -> str:
        """Why other stock does not count, in brackets, or nothing."""
        notes = [f"other stock is {self.held_status}"] if self.held_status else []
        if self.picked:
            notes.append(f"{self.picked} are picked for other orders")
        return f" ({'; '.join(notes)})" if notes else ""

    def shortfall_zh(self) -> str:
        """`shortfall` in Chinese, for a refusal's Chinese."""
        held = _STATUS_ZH.get(self.held_status or "", self.held_status)
        notes = [f"其余库存为{held}状态"] if self.held_status else []
        if self.picked:
            notes.append(f"{self.picked} 件已为其他订单拣货")
        return f"（{'；'.join(notes)}）" if notes else ""

    def earliest_expiry(self) -> date | None:
        dates = [line.lot.expiry_date for line in self.lines if line.lot.expiry_date]
        return min(dates) if dates else None

    def to_data(self) -> list[dict[str, Any]]:
        return [{"lot_no": line.lot.lot_no, "serial": line.serial, "quantity": line.quantity,
                 "location": line.location.code,
                 "expiry": line.lot.expiry_date.isoformat() if line.lot.expiry_date else None}
                for line in self.lines]


def held_status(product: Product, site: Site) -> str | None:
    """The weightiest held status of the product's stock at the site, if any is held."""
    statuses = {b.status for b in ledger.balances(product=product, site=site)}
    return next((status for status in HELD_ORDER if status in statuses), None)


def plan(product: Product, quantity: int, site: Site) -> Plan:
    try:
        lines = ledger.allocate_fefo(product, quantity, site=site)
    except InvalidInput:
        lines = []
    if lines:
        return Plan(lines, False, quantity, None)
    available = ledger.on_hand(product, status="available", site=site)
    return Plan([], True, available, held_status(product, site),
                ledger.on_hand(product, status="picked", site=site))


def check_scans(scans: list[str] | None, product: Product, lots: set[str], serials: set[str],
                name: str = "udi_scans") -> list[dict[str, Any]]:
    """Each scan must be a UDI of this product, of a lot (and serial) being shipped."""
    checked = []
    for scan in scans or []:
        try:
            udi = gs1.parse_udi(scan, expected_gtin=product.gtin or None)
        except InvalidInput as bad:
            raise InvalidInput(f"UDI scan {scan!r}: {bad.message}",
                               zh=f"扫描的 UDI {scan}：{bad.text('zh')}",
                               fields={name: bad.message}) from None
        if udi.lot and lots and udi.lot not in lots:
            raise InvalidInput(f"UDI scan {scan!r} is of lot {udi.lot}, which is not in this "
                               "shipment.",
                               zh=f"扫描的 UDI {scan} 属于批号 {udi.lot}，不在本次发货中。",
                               fields={name: f"Lot {udi.lot} is not picked."})
        if udi.serial and serials and udi.serial not in serials:
            raise InvalidInput(f"UDI scan {scan!r} is serial {udi.serial}, which is not in "
                               "this shipment.",
                               zh=f"扫描的 UDI {scan} 是序列号 {udi.serial}，不在本次发货中。",
                               fields={name: f"Serial {udi.serial} is not "
                                                              "picked."})
        checked.append({"gtin": udi.gtin, "lot": udi.lot, "serial": udi.serial})
    return checked


def customer_facts(customer: Party, product: Product) -> dict[str, Any]:
    """GSP 81-82: the customer file is reviewed and its licence in force covers the class."""
    flag = md.licence_flag(customer)
    verified = customer.review_status == "approved" and flag in ("ok", "near_expiry")
    return {"customer_licence_verified": verified,
            "customer_scope_covers_class": bool(covering_licences(customer, product)),
            "device_class": product.device_class}


def covering_licences(customer: Party, product: Product) -> list[Any]:
    found = md.licences_covering(customer, product.device_class)
    if not found and product.device_class in ("IIa", "IIb"):
        found = md.licences_covering(customer, "II")
    return found


def registration_valid(product: Product) -> bool:
    return md.registration_flag(product) in ("ok", "near_expiry")


def shipping_location(site: Site) -> Location:
    found = db.session.scalar(
        select(Location).where(Location.site_id == site.id, Location.zone == "shipping",
                               Location.active.is_(True)).order_by(Location.code))
    if found is None:
        raise InvalidInput(f"Site {site.code} has no active dispatch (shipping) location.",
                           zh=f"仓库 {site.code} 没有启用的发货区货位。",
                           fields={"location": "No shipping location."})
    return found


def release_location(site: Site, product: Product, code: str | None) -> Location:
    """The accepted-zone location released stock goes to: the one named, or the first that
    fits the product's storage range."""
    if code:
        try:
            location = md.get_location(site.code, code)
        except NotFound:
            location = None
        if location is None or not location.active or location.zone != "available":
            raise InvalidInput(f"{code} is not an active accepted-stock location at {site.code}.",
                               zh=f"{code} 不是 {site.code} 启用中的合格品货位。",
                               fields={"target_location": "Choose an accepted-zone location."})
        return location
    candidates = list(db.session.scalars(
        select(Location).where(Location.site_id == site.id, Location.zone == "available",
                               Location.active.is_(True)).order_by(Location.code)))
    for location in candidates:
        if _fits(location, product):
            return location
    raise InvalidInput(f"No accepted-stock location at {site.code} fits {product.code}; name "
                       "one.", zh=f"{site.code} 没有适合 {product.code} 的合格品货位，请指定一个。",
                       fields={"target_location": "Name a location."})


def _fits(location: Location, product: Product) -> bool:
    if not product.cold_chain:  # ambient goods: not the cold room
        return location.temp_max is None or location.temp_max > 8
    low, high = product.storage_temp_min, product.storage_temp_max
    if location.temp_min is None or location.temp_max is None:
        return False
    return (low is None or location.temp_min >= low) and (high is None or location.temp_max <= high)


def held_balances(lot: Lot, site: Site, status: str, serial: str = "") -> list[StockBalance]:
    rows = [b for b in ledger.balances(lot=lot, site=site, status=status)
            if not serial or b.serial == serial]
    return rows


def lot_of(product: Product, lot_no: Any, name: str = "lot_no") -> Lot:
    lot = ledger.find_lot(product, str(lot_no or ""))
    if lot is None:
        raise InvalidInput(f"{product.code} has no lot {lot_no!r}.",
                           zh=f"{product.code} 没有批号 {lot_no}。", fields={name: "Unknown lot."})
    return lot


#: Who a deadline tells, as the packs name them, in Chinese.
_AUDIENCE_ZH = {"manufacturer": "制造商", "customers": "客户", "consignees": "收货客户",
                "authority": "监管部门", "authorities": "监管部门", "qa": "质量部门",
                "supplier": "供应商", "importer": "进口商",
                "authorised_representative": "授权代表", "registrant": "注册人"}


def _when(due_at: object) -> str:
    """A deadline for a stored notice's subject: read by people in several zones, so in UTC,
    said so, to the minute."""
    try:
        moment = datetime.fromisoformat(str(due_at))
    except ValueError:
        return str(due_at)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def carry_deadlines(context: StepContext, compliance: Mapping[str, Any],
                    details: str = "", tracking: TrackingFacts | None = None
                    ) -> list[dict[str, Any]]:
    """Carry out the gate's notify_within deadlines: the quality managers are notified in the
    app at once, with what to tell whom, by when, and `details` (what to send: a tracked
    device's lot, serials, date and source, say).

    `tracking` (a tracked device's receipt or shipment): where a deadline names the
    manufacturer, the manufacturer also gets a tracking report of each lot (the earliest such
    deadline is its due time), delivered through Celery once the step commits; the quality
    managers stay responsible and see it under Device tracking."""
    sent = []
    to_maker = [d for d in compliance.get("deadlines") or [] if reports.names_manufacturer(d)]
    first = min(to_maker, key=lambda d: str(d.get("due_at"))) if tracking and to_maker else None
    for deadline in compliance.get("deadlines") or []:
        audience = deadline.get("notify") or ["qa"]
        who = ", ".join(audience)
        who_zh = "、".join(_AUDIENCE_ZH.get(name, name) for name in audience)
        task = context.task.task_spec.bpmn_name or context.meta.step
        when = _when(deadline.get("due_at"))
        where = f"{task} #{context.instance.id} ({context.instance.subject})"
        subject = Bilingual(f"{where}: notify {who} by {when}",
                            f"{where}：须于 {when} 前通知{who_zh}")
        body = Bilingual("\n".join(part for part in (
            deadline.get("en", ""), details, f"Rule {deadline.get('rule')}") if part),
            "\n".join(part for part in (
                deadline.get("zh", ""), details, f"规则 {deadline.get('rule')}") if part))
        count = identity.notify_role(roles.QUALITY_MANAGER, subject, body)
        entry = {"rule": deadline.get("rule"), "notify": deadline.get("notify"),
                 "due_at": deadline.get("due_at"), "notified_users": count}
        if tracking is not None and first is not None and deadline is first:
            notices = reports.open_notices(context.actor, tracking, first,
                                           instance_id=context.instance.id,
                                           step=context.meta.step)
            entry["tracking_notices"] = [notice.id for notice in notices]
        sent.append(entry)
    return sent

"""Recalls: hold every affected unit at once, find every customer, tell them within the deadline
the active packs set, record acknowledgements and returns, close with a signature.

`start` is what the API, the web page and the recall process call; it holds stock and lists
consignees in one transaction and, once committed, hands the notifications to Celery.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Text, and_, case, cast, distinct, exists, func, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from engine import audit, signatures
from engine.db import after_commit, db, insert_rows, utcnow
from engine.errors import Bilingual, Conflict, InvalidInput, NotFound
from engine.identity import service as identity
from engine.identity.models import User
from engine.ledger import service as ledger
from engine.ledger.models import Lot, SerialUnit, StockBalance, StockMovement
from engine.masterdata.models import Location, Party, Product, Site
from engine.recall.models import Recall, RecallConsignee, RecallDelivery
from engine.rules.decision import Decision
from engine.rules.store import ActivePacks
from engine.rules.workflow_gate import due_time

#: Level names people use for the same three levels: NMPA 一级/二级/三级, FDA class I/II/III.
LEVEL_ALIASES = {
    "I": "I", "II": "II", "III": "III", "1": "I", "2": "II", "3": "III",
    "CLASS I": "I", "CLASS II": "II", "CLASS III": "III",
    "一级": "I", "二级": "II", "三级": "III",
}

#: Which pack versions are in effect at each site (reloaded when an activation changes them).
_active = ActivePacks()


def decide(step: str, fact: dict[str, Any], site_code: str | None) -> Decision:
    """The decision of the packs active at a site for a recall step (none active: no verdict)."""
    packs = [item.pack for item in _active.for_site(site_code)] if site_code else []
    if not any(pack.rules_for(step) for pack in packs):
        return Decision(step=step, fact=fact)
    return _active.gate.evaluate(step, fact, packs)


def normalise_level(value: str) -> str:
    level = LEVEL_ALIASES.get(str(value).strip().upper()) or LEVEL_ALIASES.get(str(value).strip())
    if level is None:
        raise InvalidInput(
            f"Unknown recall level {value!r}.", zh=f"未知的召回级别 {value!r}。",
            fields={"level": "Use I, II or III (一级, 二级, 三级; class I, II, III)."})
    return level


@dataclass(frozen=True)
class Affected:
    """One lot (or one serial of it) the recall covers."""

    lot: Lot
    serial: str = ""


def _resolve(product: Product, lots: Sequence[str], serials: Sequence[str]) -> list[Affected]:
    lots = [lot for lot in lots if lot.strip()]
    serials = [serial for serial in serials if serial.strip()]
    if not lots and not serials:  # none given, or only blanks
        raise InvalidInput("Name the lots or the serial numbers recalled.",
                           zh="请填写召回的批号或序列号。",
                           fields={"lots": "Give at least one lot or serial number."})
    wanted = list(dict.fromkeys(lot.strip() for lot in lots if lot.strip()))
    found = {lot.lot_no: lot for lot in db.session.scalars(select(Lot).where(
        Lot.product_id == product.id, Lot.lot_no.in_(wanted)))} if wanted else {}
    affected = [Affected(found[lot_no]) for lot_no in wanted if lot_no in found]
    unknown_lots = [lot_no for lot_no in wanted if lot_no not in found]
    if unknown_lots:
        raise InvalidInput(
            f"No lot {', '.join(unknown_lots)} of {product.gtin or product.code} "
            "was ever received.",
            zh=f"{product.gtin or product.code} 的批号 {'、'.join(unknown_lots)} 没有收货记录。",
            fields={"lots": Bilingual(f"Unknown lot(s): {', '.join(unknown_lots)}.",
                                      f"未知批号：{'、'.join(unknown_lots)}。")})
    unknown_serials = []
    whole_lots = {a.lot.id for a in affected}
    for serial in dict.fromkeys(s.strip() for s in serials if s.strip()):
        unit = db.session.scalar(select(SerialUnit).where(
            SerialUnit.product_id == product.id, SerialUnit.serial == serial))
        if unit is None:
            unknown_serials.append(serial)
        elif unit.lot_id not in whole_lots:
            affected.append(Affected(db.session.get_one(Lot, unit.lot_id), serial))
    if unknown_serials:
        raise InvalidInput(
            f"No serial number {', '.join(unknown_serials)} of this product was ever received.",
            zh=f"该产品的序列号 {'、'.join(unknown_serials)} 没有收货记录。",
            fields={"serials": Bilingual(f"Unknown serial(s): {', '.join(unknown_serials)}.",
                                         f"未知序列号：{'、'.join(unknown_serials)}。")})
    return affected


def _hold(actor: Any, affected: Iterable[Affected], number: str, reason: str) -> int:
    """Move every affected unit on hand, at every site, to the recalled status."""
    why = f"Recall {number}: {reason}"
    whole = [item.lot for item in affected if not item.serial]
    held = sum(m.quantity for m in ledger.hold_lots(actor, whole, why, document=number))
    for item in affected:
        if not item.serial:
            continue
        rows = db.session.scalars(select(StockBalance).where(
            StockBalance.lot_id == item.lot.id, StockBalance.serial == item.serial,
            StockBalance.quantity > 0, StockBalance.status != "recalled")).all()
        for quantity, location_id, status in [(b.quantity, b.location_id, b.status)
                                              for b in rows]:
            location = db.session.get_one(Location, location_id)
            ledger.transfer(actor, "recall_hold", item.lot, quantity,
                            source=ledger.Place(location, status),
                            target=ledger.Place(location, "recalled"), serial=item.serial,
                            document=number, reason=why)
            held += quantity
    return held


def _consignee_lines(affected: Iterable[Affected]) -> dict[int, dict[str, Any]]:
    """Per customer (party id): what it still holds of the affected units (shipments less
    returns, reversed movements left out, as the forward trace counts them) as `lines` (JSON
    text of [{lot, serial, quantity, document, shipped_at}]: `document` lists every delivery
    note, comma-separated; `shipped_at` is the first shipment), their `quantity` and the `sites`
    that shipped them: one aggregate query over the affected lots' ship and return movements
    (on PostgreSQL the query builds the lines too: for 10,000 customers that was a second of
    Python)."""
    m = StockMovement
    reversal = aliased(StockMovement)
    whole = [a.lot.id for a in affected if not a.serial]
    serials = [(a.lot.id, a.serial) for a in affected if a.serial]
    scope: list[ColumnElement[bool]] = [m.lot_id.in_(whole)] if whole else []
    scope += [and_(m.lot_id == lot_id, m.serial == serial) for lot_id, serial in serials]
    if not scope:
        return {}
    shipped = m.kind == "ship"
    quantity = func.sum(case((shipped, m.quantity), else_=-m.quantity))
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    # Every delivery that brought the customer this lot or serial: a lot shipped in three
    # deliveries is looked for under all three delivery notes.
    document = distinct(func.nullif(m.document, ""))
    documents = (func.array_to_string(func.array_agg(document).filter(shipped), ", ")
                 if postgresql else func.group_concat(document).filter(shipped))
    # Per customer, lot and serial, before any join (joined after grouping, the big lots'
    # movements are not looked up one by one).
    lines = (
        select(m.party_id, m.lot_id, m.serial, quantity.label("quantity"),
               func.min(m.at).filter(shipped).label("shipped_at"),
               documents.label("document"),
               func.min(Location.site_id).filter(shipped).label("site_a"),
               func.max(Location.site_id).filter(shipped).label("site_b"))
        .outerjoin(Location, Location.id == m.from_location_id)
        .where(or_(*scope), m.kind.in_(("ship", "return")),
               ~exists().where(reversal.reverses_id == m.id))
        .group_by(m.party_id, m.lot_id, m.serial)
        .having(quantity > 0)).subquery()
    site_a, site_b = aliased(Site), aliased(Site)
    joined = (lines.join(Lot, Lot.id == lines.c.lot_id)
              .join(Party, and_(Party.id == lines.c.party_id, Party.is_customer.is_(True)))
              .outerjoin(site_a, site_a.id == lines.c.site_a)
              .outerjoin(site_b, site_b.id == lines.c.site_b))
    if postgresql:
        shipped_at = func.to_char(func.timezone("UTC", lines.c.shipped_at),
                                  'YYYY-MM-DD"T"HH24:MI:SS.US') + "+00:00"
        line = func.json_build_object(
            "lot", Lot.lot_no, "serial", lines.c.serial, "quantity", lines.c.quantity,
            "document", func.coalesce(lines.c.document, ""), "shipped_at", shipped_at)
        rows = db.session.execute(
            select(lines.c.party_id, func.sum(lines.c.quantity),
                   cast(func.json_agg(aggregate_order_by(line, Lot.lot_no, lines.c.serial)),
                        Text),
                   func.string_agg(func.concat_ws(" ", site_a.code, site_b.code), " "))
            .select_from(joined).group_by(lines.c.party_id))
        return {party_id: {"lines": text, "quantity": int(total),
                           "sites": sorted(set((sites or "").split()))}  # codes have no spaces
                for party_id, total, text, sites in rows}
    result: dict[int, dict[str, Any]] = {}
    for party_id, lot_no, serial, count, first, document, code_a, code_b in db.session.execute(
            select(lines.c.party_id, Lot.lot_no, lines.c.serial, lines.c.quantity,
                   lines.c.shipped_at, lines.c.document, site_a.code, site_b.code)
            .select_from(joined).order_by(lines.c.party_id, Lot.lot_no, lines.c.serial)):
        entry = result.setdefault(party_id, {"lines": [], "quantity": 0, "sites": set()})
        entry["lines"].append({
            "lot": lot_no, "serial": serial, "quantity": int(count),
            "document": ", ".join(sorted(set((document or "").split(",")) - {""})),
            "shipped_at": _iso(first)})
        entry["quantity"] += int(count)
        entry["sites"].update(code for code in (code_a, code_b) if code)
    for entry in result.values():
        entry["sites"] = sorted(entry["sites"])
        entry["lines"] = json.dumps(entry["lines"], ensure_ascii=False, separators=(",", ":"))
    return result


def _iso(value: Any) -> str | None:
    """A time from an aggregate (SQLite gives text, PostgreSQL a datetime) as ISO 8601 UTC."""
    return None if value is None else _aware(value).isoformat()


#: `notify` values of notify_within verdicts that mean the customers who received the lots.
CUSTOMER_AUDIENCES = frozenset({"customers", "consignees"})


def _due(start: datetime, decision: Decision) -> tuple[int | None, datetime | None]:
    """The earliest notify_within deadline of the decision (hours, and when it falls)."""
    # Only deadlines for telling customers: a pack may also set one for the authority.
    dues = [due_time(deadline, start) for deadline in decision.deadlines
            if CUSTOMER_AUDIENCES & set(deadline.notify)]
    if not dues:
        return None, None
    due = min(dues)
    return int((due - start).total_seconds() // 3600), due


def _open_fact(level: str, source: str, stock_on_hand: bool, shipped: bool) -> dict[str, Any]:
    return {"recall_level": level,
            "manufacturer_notice_received": "manufacturer" in source.lower()
            or source.lower().startswith(("mfr", "制造", "注册人")),
            "affected_stock_on_hand": stock_on_hand, "affected_lots_shipped": shipped}


def _sites_of(affected: Sequence[Affected]) -> list[str]:
    """The sites where the lots are or were stocked: every location a movement of a lot went
    to or came from has its balance row (balances are never deleted, only brought to zero),
    so the lots' balance rows name them without reading every movement of a big lot."""
    lot_ids = [a.lot.id for a in affected]
    codes = db.session.scalars(
        select(Site.code).distinct()
        .join(Location, Location.site_id == Site.id)
        .join(StockBalance, StockBalance.location_id == Location.id)
        .where(StockBalance.lot_id.in_(lot_ids))).all()
    return sorted(codes)


def find_by_key(key: str) -> Recall | None:
    return db.session.scalar(select(Recall).where(Recall.idempotency_key == key))


#: The reason given, under the key's name, when an idempotency key comes back with another request.
KEY_REUSED = "was used before with a different request body"


class KeyReused(InvalidInput):
    """An idempotency key came back with a different request: answering with the first recall
    would tell the caller its new request was done when it was not."""

    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            f"This idempotency key {KEY_REUSED}. Send the first request unchanged to read its "
            "recall again, or use a new key for a new recall.",
            zh="此幂等键已用于内容不同的请求。如需再次读取其召回，请原样发送第一次的请求；"
               "新的召回请使用新的幂等键。",
            fields={"idempotency_key": KEY_REUSED})


def _replay(existing: Recall, request_hash: str | None) -> tuple[Recall, bool]:
    # Recalls started before request hashes were kept have none: they replay as they did.
    if request_hash and existing.request_hash and existing.request_hash != request_hash:
        raise KeyReused()
    return existing, False


class AlreadyRecalled(Conflict):
    """A lot or serial named is under a recall that is still open."""

    code = "already_recalled"


def _lock_lots(affected: Sequence[Affected]) -> None:
    """Lock the affected lots' rows (in id order) until commit, so two recalls of one lot
    started at once are checked one after the other (PostgreSQL; SQLite writes one at a time).
    FOR NO KEY UPDATE: postings that reference the lots are not blocked."""
    lot_ids = sorted({a.lot.id for a in affected})
    db.session.execute(select(Lot.id).where(Lot.id.in_(lot_ids)).order_by(Lot.id)
                       .with_for_update(key_share=True)).all()


def _refuse_second_recall(product: Product, affected: Sequence[Affected]) -> None:
    """One open recall per lot or serial: a second one would hold nothing more, tell the same
    customers again under another number and leave two recalls to follow and close. A lot is
    taken when an open recall names it; a serial when an open recall names it or its lot."""
    by_lot: dict[str, str] = {}
    by_serial: dict[str, str] = {}
    for number, lots, serials in db.session.execute(
            select(Recall.number, Recall.lots, Recall.serials)
            .where(Recall.product_id == product.id, Recall.status == "open")
            .order_by(Recall.id)):
        for lot_no in json.loads(lots):
            by_lot.setdefault(lot_no, number)
        for serial in json.loads(serials):
            by_serial.setdefault(serial, number)
    taken: dict[str, list[str]] = {}
    for item in affected:
        if item.serial:
            holder = by_serial.get(item.serial) or by_lot.get(item.lot.lot_no)
            if holder:
                taken.setdefault("serials", []).append(
                    f"serial {item.serial} of lot {item.lot.lot_no} (recall {holder})")
        elif holder := by_lot.get(item.lot.lot_no):
            taken.setdefault("lots", []).append(f"lot {item.lot.lot_no} (recall {holder})")
    if taken:
        units = [unit for field in ("lots", "serials") for unit in taken.get(field, [])]
        raise AlreadyRecalled(
            f"Already under an open recall: {', '.join(units)}. Follow that recall (its "
            "customers are being told and its stock is held) or close it first; to recall "
            "other lots or serials now, leave these out.",
            zh=f"已在进行中的召回内：{'；'.join(units)}。请跟进该召回（已通知客户并扣留库存）"
               "或先将其关闭；如需现在召回其他批号或序列号，请去掉这些。",
            fields={field: "Under open recall: " + ", ".join(found)
                    for field, found in taken.items()})


def start(actor: User, *, product: Product, lots: Sequence[str] = (),
          serials: Sequence[str] = (), level: str, reason: str, source: str,
          idempotency_key: str | None = None,
          request_hash: str | None = None) -> tuple[Recall, bool]:
    """Open a recall: hold every affected unit, list every consignee with its deadline.

    Returns the recall and whether it was created now (False: the idempotency key was seen
    with the same request; with another `request_hash` the key is refused, `KeyReused`).
    A lot or serial already under an open recall is refused (`AlreadyRecalled`)."""
    identity.require(actor, "recalls.start")
    key = (idempotency_key or "").strip() or None
    if key is not None:
        existing = find_by_key(key)
        if existing is not None:
            return _replay(existing, request_hash)
    level = normalise_level(level)
    problems = {name: "Required." for name, value in (("reason", reason), ("source", source))
                if not (value or "").strip()}
    if problems:
        raise InvalidInput("Say why the product is recalled and who asked for it.",
                           zh="请说明召回原因以及由谁提出召回要求。", fields=problems)
    affected = _resolve(product, lots, serials)
    _lock_lots(affected)
    if key is not None:  # a request with this key may have committed while we waited
        existing = find_by_key(key)
        if existing is not None:
            return _replay(existing, request_hash)
    _refuse_second_recall(product, affected)
    now = utcnow()
    recall = Recall(number=f"RC-PENDING-{now.timestamp()}", product_id=product.id,
                    lots=json.dumps(sorted({a.lot.lot_no for a in affected if not a.serial})),
                    serials=json.dumps(sorted({a.serial for a in affected if a.serial})),
                    level=level, reason=reason.strip(), source=source.strip(), status="open",
                    idempotency_key=key, request_hash=request_hash if key else None,
                    started_by=actor.id, started_at=now)
    db.session.add(recall)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        # Another request with the same key won the race: answer with its recall.
        db.session.expunge(recall)
        existing = find_by_key(key) if key else None
        if existing is None:
            raise
        return _replay(existing, request_hash)
    recall.number = f"RC-{now:%Y}-{recall.id:05d}"

    sites = _sites_of(affected)
    on_hand = db.session.scalar(
        select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
            StockBalance.lot_id.in_([a.lot.id for a in affected]),
            StockBalance.quantity > 0)) or 0
    recall.held_units = _hold(actor, affected, recall.number, recall.reason)
    consignees = _consignee_lines(affected)

    verdicts: list[dict[str, Any]] = []
    site_due: dict[str, tuple[int | None, datetime | None]] = {}
    site_list: list[str | None] = list(sites) or [None]
    for site in site_list:
        decision = decide("recall.open",
                          _open_fact(level, recall.source, on_hand > 0, bool(consignees)), site)
        verdicts += [dict(v.to_dict(), site=site) for v in decision.verdicts]
        site_due[site or ""] = _due(now, decision)
    recall.verdicts = json.dumps(verdicts, ensure_ascii=False)
    dues = [due for due in site_due.values() if due[1] is not None]
    if dues:
        recall.deadline_hours, recall.notify_due_at = min(dues, key=lambda d: d[1])  # type: ignore[arg-type, return-value]

    rows = []
    recall_id, default_due = recall.id, recall.notify_due_at  # read once, not per customer
    for party_id, entry in consignees.items():
        own = [site_due.get(site, (None, None)) for site in entry["sites"]]
        own_due = [d[1] for d in own if d[1] is not None]
        rows.append({"recall_id": recall_id, "party_id": party_id,
                     "lines": entry["lines"],
                     "quantity": entry["quantity"],
                     "notify_due_at": min(own_due) if own_due else default_due,
                     "acknowledged_note": "", "returned_quantity": 0})
    insert_rows(RecallConsignee.__table__, rows)  # COPY on PostgreSQL
    audit.record(actor, "recall.start", "recall", recall.id,
                 after=dict(recall.audit_values(), consignees=len(rows), sites=sites,
                            verdicts=[{key: v[key] for key in ("rule_id", "effect", "pack_id",
                                                               "pack_version", "site")}
                                      for v in verdicts]))
    recall.instance_id = _start_process(actor, recall, _home_site(affected))
    recall_id = recall.id
    after_commit(lambda: _dispatch_notifications(recall_id))
    return recall, True


def _home_site(affected: Sequence[Affected]) -> str | None:
    """The site that first received the affected lots: its packs govern the follow-up."""
    code = db.session.scalar(
        select(Site.code).join(Location, Location.site_id == Site.id)
        .join(StockMovement, StockMovement.to_location_id == Location.id)
        .where(StockMovement.lot_id.in_([a.lot.id for a in affected]),
               StockMovement.kind == "receive")
        .order_by(StockMovement.id).limit(1))
    return str(code) if code else None


def _start_process(actor: User, recall: Recall, site: str | None) -> int | None:
    """Run the recall's follow-up in the `recall` process when it is deployed (`gxpflow init`
    deploys it): the quality manager's inbox gets the follow-up task; closing the recall on its
    page sends the process the `recall_closed` message."""
    from engine.workflow.runtime import current_runtime
    from engine.workflow.store import active_definition

    if active_definition("recall", missing_ok=True) is None:
        return None
    product = db.session.get_one(Product, recall.product_id)
    instance = current_runtime().start(
        audit.Actor(actor.id, actor.full_name), "recall",
        {"recall_id": recall.id, "recall_number": recall.number, "correlation": recall.number,
         "recall_level": recall.level},
        subject=f"{recall.number} {product.code} {', '.join(recall.lot_list + recall.serial_list)}",
        site_code=site)
    return int(instance.id)


def _dispatch_notifications(recall_id: int) -> None:
    from engine.recall import jobs

    jobs.fan_out.delay(recall_id)


def get(recall_id: int) -> Recall:
    recall = db.session.get(Recall, recall_id)
    if recall is None:
        raise NotFound(f"Recall {recall_id} does not exist.", zh=f"召回 {recall_id} 不存在。")
    return recall


def consignee(consignee_id: int) -> RecallConsignee:
    row = db.session.get(RecallConsignee, consignee_id)
    if row is None:
        raise NotFound(f"Recall consignee {consignee_id} does not exist.",
                       zh=f"召回客户记录 {consignee_id} 不存在。")
    return row


def acknowledge(actor: User, row: RecallConsignee, note: str) -> None:
    """The customer confirmed receipt of the notice (by phone, letter, portal...)."""
    identity.require(actor, "recalls.close")
    if row.recall.status != "open":
        raise Conflict(f"Recall {row.recall.number} is closed.",
                       zh=f"召回 {row.recall.number} 已关闭。")
    if row.acknowledged_at is not None:
        raise Conflict(f"{row.party.name} already acknowledged this recall.",
                       zh=f"{row.party.name} 已确认过此召回。")
    if not note.strip():
        raise InvalidInput("Say how the customer acknowledged (who, how).",
                           fields={"note": "Required."})
    before = row.audit_values()
    row.acknowledged_at = utcnow()
    row.acknowledged_note = note.strip()
    if row.notified_at is None:  # told by phone or letter: the acknowledgement is the proof
        row.notified_at = row.acknowledged_at
    audit.record(actor, "recall.acknowledge", "recall_consignee", row.id, before=before,
                 after=row.audit_values(), reason=note.strip())


def refresh_returns(actor: Any, recall: Recall) -> int:
    """Returned quantities per customer, from the ledger's return movements (returns come back
    through receiving) of the recalled lots since the recall opened."""
    lots = db.session.scalars(select(Lot).where(
        Lot.product_id == recall.product_id,
        Lot.lot_no.in_(recall.lot_list + [r["lot"] for c in recall.consignees
                                          for r in c.line_list])))
    lot_ids = [lot.id for lot in lots]
    m = StockMovement
    by_party: dict[int | None, int] = {party_id: int(quantity or 0) for party_id, quantity in
                                db.session.execute(
        select(m.party_id, func.sum(m.quantity))
        .where(m.kind == "return", m.lot_id.in_(lot_ids), m.at >= recall.started_at,
               m.party_id.in_(select(RecallConsignee.party_id)
                              .where(RecallConsignee.recall_id == recall.id)))
        .group_by(m.party_id))}
    total = 0
    for row in recall.consignees:
        returned = min(by_party.get(row.party_id, 0), row.quantity)
        if returned != row.returned_quantity:
            before = row.audit_values()
            row.returned_quantity = returned
            audit.record(actor, "recall.returned", "recall_consignee", row.id, before=before,
                         after=row.audit_values(), reason="Returns received through receiving")
        total += returned
    return total


class CloseBlocked(Conflict):
    """The active packs refuse to close the recall yet; only the refusal's audit events were
    written (the caller commits them: a refused attempt is evidence too)."""

    def __init__(self, blocks: Sequence[Any]) -> None:
        super().__init__(" ".join(dict.fromkeys(v.message_en for v in blocks)),
                         zh=" ".join(dict.fromkeys(v.message_zh for v in blocks)),
                         fields={"rules": ", ".join(v.rule_id for v in blocks)})
        self.verdicts = list(blocks)

    def message_in(self, locale: str) -> str:
        return " ".join(dict.fromkeys(v.message(locale) for v in self.verdicts))


def close_fact(recall: Recall) -> dict[str, Any]:
    missing = []
    if not recall.lot_list and not recall.serial_list:
        missing.append("affected_lots")
    progress = counts(recall)
    all_notified = progress.notified == progress.customers
    if not all_notified:
        missing.append("notifications_sent")
    # GxPFlow is the register of recalls (MDR Art 14(5)): a recall is entered in it, with its
    # lots, customers, notices and report, from the moment it starts.
    return {"recall_record_missing_fields": missing, "all_consignees_notified": all_notified,
            "register_entry_present": True}


def close(actor: User, recall: Recall, *, password: str, note: str,
          username: str | None = None, first_in_session: bool = False,
          policy: identity.Policy | None = None) -> Decision:
    """The quality manager closes the recall with an e-signature, if the packs allow."""
    identity.require(actor, "recalls.close")
    if recall.status != "open":
        raise Conflict(f"Recall {recall.number} is already closed.",
                       zh=f"召回 {recall.number} 已关闭。")
    if not note.strip():
        raise InvalidInput("Write the closing conclusion (disposition of the recovered stock).",
                           zh="请填写关闭结论（召回产品的处理）。",
                           fields={"note": "Required."})
    sites: list[str | None] = list(_sites_of(_affected_of(recall))) or [None]
    decisions = [decide("recall.close", close_fact(recall), site) for site in sites]
    blocks = [v for d in decisions for v in d.blocks]
    if blocks:  # nothing written before: the caller commits these events as evidence
        for v in blocks:
            audit.record(actor, "gate.block", "recall", recall.id,
                         after={"step": "recall.close", "rule": v.rule_id, "pack": v.pack_id,
                                "version": v.pack_version})
        raise CloseBlocked(blocks)
    refresh_returns(actor, recall)
    # Signed before the recall changes: a refused signature (which the caller commits, as
    # it counts towards the lock-out) leaves the recall open.
    signature = signatures.sign(actor, password, "responsible", "recall", recall.id,
                                report_content(recall) | {"close_note": note.strip()},
                                username=username, first_in_session=first_in_session,
                                policy=policy)
    before = recall.audit_values()
    recall.status = "closed"
    recall.closed_at = utcnow()
    recall.closed_by = actor.id
    recall.close_note = note.strip()
    recall.close_signature_id = signature.id
    audit.record(actor, "recall.close", "recall", recall.id, before=before,
                 after=recall.audit_values(), reason=note.strip(), reason_required=True)
    if recall.instance_id is not None:
        from engine.workflow.runtime import current_runtime

        current_runtime().deliver_message(audit.Actor(actor.id, actor.full_name),
                                          "recall_closed", {"recall": recall.number},
                                          correlation=recall.number)
    return decisions[0]


def _affected_of(recall: Recall) -> list[Affected]:
    product = db.session.get(Product, recall.product_id)
    assert product is not None
    return _resolve(product, recall.lot_list, recall.serial_list)


def report_content(recall: Recall) -> dict[str, Any]:
    """What the closing signature binds: the recall record and its outcome per customer."""
    return {"number": recall.number, "product_id": recall.product_id, "lots": recall.lot_list,
            "serials": recall.serial_list, "level": recall.level, "reason": recall.reason,
            "held_units": recall.held_units, "close_note": recall.close_note,
            "consignees": [{"party": row.party.code, "quantity": row.quantity,
                            "notified": bool(row.notified_at),
                            "acknowledged": bool(row.acknowledged_at),
                            "returned": row.returned_quantity}
                           for row in recall.consignees]}


@dataclass(frozen=True)
class Counts:
    customers: int
    notified: int
    acknowledged: int
    overdue: int
    shipped_units: int
    recovered: int


def counts(recall: Recall) -> Counts:
    """The recall's progress in one aggregate query (cheap for 10,000 customers)."""
    c = RecallConsignee
    now = utcnow()
    row = db.session.execute(
        select(func.count(c.id), func.count(c.notified_at), func.count(c.acknowledged_at),
               func.count(c.id).filter(c.notified_at.is_(None), c.notify_due_at < now),
               func.coalesce(func.sum(c.quantity), 0),
               func.coalesce(func.sum(c.returned_quantity), 0))
        .where(c.recall_id == recall.id)).one()
    return Counts(*(int(value) for value in row))


@dataclass(frozen=True)
class Report:
    recall: Recall
    affected_units: int
    held_units: int
    customers: int
    notified: int
    acknowledged: int
    shipped_units: int
    recovered: int
    outstanding: int
    overdue: int
    timeline: list[Moment]


class Moment(NamedTuple):
    """One line of a recall's timeline: when, who, what (in both languages) and, for a series
    such as the notices sent over an hour, when its last one was."""

    at: datetime
    who: str
    what: Bilingual
    until: datetime | None = None


#: What the recall's own audit events mean, for its timeline.
_EVENT_TEXT = {
    "recall.start": ("Recall started: affected stock held", "召回已发起：受影响库存已锁定"),
    "recall.close": ("Recall closed and signed", "召回已关闭并签名")}
_CHANNEL_TEXT = {"email": ("e-mail", "邮件"), "webhook": ("webhook", "回调")}
_OUTCOME_TEXT = {"sent": ("sent", "已送达"), "failed": ("failed", "发送失败"),
                 "no_channel": ("no channel: to be called", "无联系渠道，需电话通知")}


def _notice_moment(channel: str, status: str, count: int, first: datetime,
                   last: datetime) -> Moment:
    channel_en, channel_zh = _CHANNEL_TEXT.get(channel, (channel, channel))
    status_en, status_zh = _OUTCOME_TEXT.get(status, (status, status))
    return Moment(first, "", Bilingual(
        f"Notices by {channel_en}, {status_en}: {count} customer{'' if count == 1 else 's'}",
        f"{channel_zh}通知{status_zh}：{count} 位客户"), None if first == last else last)


def report(recall: Recall) -> Report:
    """The recall's outcome from aggregate queries (a recall may reach 10,000 customers): the
    figures, and a timeline of its own events, the notices per channel and outcome (how many,
    first and last) and each acknowledgement."""
    c = counts(recall)
    d = RecallDelivery
    notices = db.session.execute(
        select(d.channel, d.status, func.count(d.id), func.min(d.at), func.max(d.at))
        .join(RecallConsignee, RecallConsignee.id == d.consignee_id)
        .where(RecallConsignee.recall_id == recall.id)
        .group_by(d.channel, d.status)).all()
    acknowledged = db.session.execute(
        select(RecallConsignee.acknowledged_at, Party.name)
        .join(Party, Party.id == RecallConsignee.party_id)
        .where(RecallConsignee.recall_id == recall.id,
               RecallConsignee.acknowledged_at.is_not(None))).all()
    timeline = [Moment(event.at, event.actor_name,
                       Bilingual(*_EVENT_TEXT.get(event.action, (event.action, event.action))))
                for event in audit.history("recall", recall.id)]
    timeline += [_notice_moment(channel, status, count, _aware(first), _aware(last))
                 for channel, status, count, first, last in notices]
    timeline += [Moment(_aware(at), name, Bilingual("Acknowledged by the customer", "客户已确认"))
                 for at, name in acknowledged]
    timeline.sort(key=lambda moment: moment.at)
    return Report(
        recall=recall, affected_units=recall.held_units + c.shipped_units,
        held_units=recall.held_units, customers=c.customers, notified=c.notified,
        acknowledged=c.acknowledged, shipped_units=c.shipped_units, recovered=c.recovered,
        outstanding=c.shipped_units - c.recovered, overdue=c.overdue, timeline=timeline)


def _aware(value: Any) -> datetime:
    """A time from an aggregate (SQLite gives naive text, PostgreSQL a datetime) in UTC."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)

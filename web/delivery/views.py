"""The delivery note (随货同行单) of a shipped outbound: what was recorded when the goods left
(a snapshot in the ship step's record, covered by the audit trail and the shipper's signature),
shown as a printable page and a PDF, labels in Chinese and English, times in the reader's zone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import render_template, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from engine import signatures
from engine.db import db
from engine.errors import NotFound
from engine.workflow.models import HumanTask, ProcessInstance, TaskHistory
from web import pdf
from web.delivery import bp
from web.i18n import add_messages, localtime
from web.i18n import translate as _
from web.paging import paginate
from web.security import requires

SHIP_STEP = "outbound.ship"

#: Bilingual labels printed on the note whatever the reader's language.
LABELS: dict[str, str] = {
    "title": "随货同行单 Delivery note", "number": "单号 Note no.",
    "order": "销售单号 Sales order", "customer_order": "客户订单号 Customer order",
    "ship_date": "发货日期 Ship date", "shipped_at": "发货时间 Shipped at",
    "supplier": "供货单位 Supplier", "consignee": "收货单位 Consignee",
    "address": "收货地址 Ship-to address", "contact": "联系人及电话 Contact",
    "licence": "收货单位许可证/备案号 Consignee licence no.",
    "product": "产品名称 Product", "model": "型号/规格 Model / specification",
    "registration": "注册证号/备案号 Registration no.", "registrant": "注册人/备案人 Registrant",
    "manufacturer": "生产企业 Manufacturer", "lot": "批号 Lot", "serial": "序列号 Serial",
    "quantity": "数量 Quantity", "expiry": "有效期至 Expiry", "udi": "UDI-DI / GTIN",
    "storage": "储存条件 Storage conditions", "transport": "运输条件 Transport conditions",
    "carrier": "承运单位 Carrier", "waybill": "运单号 Waybill no.",
    "cold_person": "冷链负责人 Cold-chain responsible person",
    "shipper": "发货人 Shipper", "seal": "出库专用章 Outbound seal",
    "seal_yes": "已盖章 Stamped", "seal_no": "未盖章 Not stamped",
    "lines": "货品明细 Goods", "signatures": "电子签名 Electronic signatures",
    "signer": "签名人 Signed by", "signed_at": "签名时间 Time", "meaning": "含义 Meaning",
    "valid": "有效 Valid", "total": "合计 Total",
}


@dataclass
class Note:
    instance: ProcessInstance
    data: dict[str, Any]
    shipped_at: datetime | None
    checks: list[signatures.SignatureCheck]


def load(instance_id: int) -> Note:
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None or instance.process_key != "outbound":
        raise NotFound(f"Outbound process {instance_id} does not exist.")
    row = db.session.scalar(
        select(TaskHistory).where(TaskHistory.instance_id == instance.id,
                                  TaskHistory.step == SHIP_STEP,
                                  TaskHistory.event == "completed")
        .order_by(TaskHistory.id.desc()).limit(1))
    record = json.loads(row.data) if row is not None else {}
    note = record.get("delivery_note")
    if row is None or not isinstance(note, dict):
        raise NotFound(f"Outbound {instance_id} has not shipped yet: it has no delivery note.")
    task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                     HumanTask.task_guid == row.task_guid))
    checks: list[signatures.SignatureCheck] = []
    if task is not None:
        content = {"process": instance.process_key, "step": SHIP_STEP, "task": task.task_guid,
                   "data": note.get("signed_form", {})}
        checks = signatures.checked_signatures("human_task", task.id, content)
    shipped = note.get("shipped_at")
    return Note(instance, note, datetime.fromisoformat(shipped) if shipped else None, checks)


@bp.get("/")
@requires("ledger.view")
def index() -> str:
    search = request.args.get("q", "").strip()[:100]
    query = (select(ProcessInstance)
             .where(ProcessInstance.process_key == "outbound",
                    ProcessInstance.id.in_(select(TaskHistory.instance_id).where(
                        TaskHistory.step == SHIP_STEP, TaskHistory.event == "completed"))))
    if search:
        query = query.where(ProcessInstance.subject.ilike(f"%{search}%"))
    page = paginate(query, {"id": ProcessInstance.id, "ended": ProcessInstance.ended_at},
                    "id")
    return render_template("delivery/index.html", page=page, search=search)


@bp.get("/<int:instance_id>")
@requires("ledger.view")
def show(instance_id: int) -> str:
    note = load(instance_id)
    return render_template("delivery/note.html", note=note, n=note.data, L=LABELS)


def _both_meanings(meaning: str) -> str:
    """A signature's meaning in both languages, as the bilingual note labels everything."""
    labels = signatures.MEANINGS.get(meaning)
    return f"{labels['zh']} {labels['en']}" if labels else meaning


def _line_rows(n: dict[str, Any]) -> list[list[str]]:
    p = n["product"]
    return [[f"{p['name_zh']} / {p['name_en']}",
             " / ".join(x for x in (p["model"], p["specification"]) if x),
             p["registration_no"], line["lot_no"], line["serial"] or "-",
             str(line["quantity"]), line["expiry"] or "-"] for line in n["lines"]]


@bp.get("/<int:instance_id>.pdf")
@requires("ledger.view")
def show_pdf(instance_id: int) -> Response:
    note = load(instance_id)
    n = note.data
    p, c = n["product"], n["consignee"]
    english = c.get("name_en") if c.get("name_en") != c["name"] else ""
    document = pdf.Document(
        title=f"{LABELS['title']} {n['number']}",
        subtitle=f"{n['supplier']['name']} → {c['name']}{' / ' + english if english else ''}",
        footer=f"GxPFlow · {n['number']} · {n['order_no']}",
        sections=[
            pdf.Section(LABELS["title"], facts=[
                (LABELS["number"], n["number"]), (LABELS["order"], n["order_no"]),
                (LABELS["customer_order"], n.get("customer_order_no") or "-"),
                (LABELS["ship_date"], n["ship_date"]),
                (LABELS["shipped_at"], localtime(note.shipped_at) if note.shipped_at else "-"),
                (LABELS["supplier"], " ".join(x for x in (n["supplier"]["name"],
                                                          n["supplier"]["address"]) if x)),
                (LABELS["consignee"], c["name"]), (LABELS["address"], c["address"] or "-"),
                (LABELS["contact"], c["contact"] or "-"),
                (LABELS["licence"], c.get("licence_no") or "-")]),
            pdf.Section(LABELS["product"], facts=[
                (LABELS["product"], f"{p['name_zh']} / {p['name_en']} ({p['code']})"),
                (LABELS["model"], " / ".join(x for x in (p["model"], p["specification"]) if x)
                 or "-"),
                (LABELS["registration"], p["registration_no"] or "-"),
                (LABELS["registrant"], p["registrant"] or "-"),
                (LABELS["manufacturer"], " / ".join(x for x in (p["manufacturer"],
                                                                p.get("manufacturer_en"))
                                                    if x) or "-"),
                (LABELS["udi"], p.get("gtin") or "-"),
                (LABELS["storage"], n["storage_conditions"]),
                (LABELS["transport"], n["transport_conditions"])]),
            pdf.Section(LABELS["lines"], header=[
                LABELS["product"], LABELS["model"], LABELS["registration"], LABELS["lot"],
                LABELS["serial"], LABELS["quantity"], LABELS["expiry"]],
                rows=[*_line_rows(n), [LABELS["total"], "", "", "", "", str(n["quantity"]),
                                       ""]]),
            pdf.Section(LABELS["carrier"], facts=[
                (LABELS["carrier"], n["carrier"] or "-"),
                (LABELS["waybill"], n["waybill_no"] or "-"),
                (LABELS["cold_person"], n.get("cold_chain_responsible_person") or "-"),
                (LABELS["shipper"], n.get("shipper") or "-"),
                (LABELS["seal"], LABELS["seal_yes"] if n["seal"] else LABELS["seal_no"])]),
            pdf.Section(LABELS["signatures"], header=[
                LABELS["signer"], LABELS["signed_at"], LABELS["meaning"], LABELS["valid"]],
                rows=[[ch.signature.printed_name,
                       localtime(ch.signature.signed_at, "%Y-%m-%d %H:%M:%S %Z"),
                       _both_meanings(ch.signature.meaning),
                       _("yes") if ch.valid else _("BROKEN")]
                      for ch in note.checks]),
        ])
    response = Response(pdf.render(document), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{n["number"]}.pdf"'
    return response


add_messages({
    "Delivery notes": "随货同行单", "Delivery note": "随货同行单", "Print": "打印",
    "No delivery notes yet.": "暂无随货同行单。", "Outbound process": "出库流程",
    "Shipped": "已发货", "Search": "搜索",
})

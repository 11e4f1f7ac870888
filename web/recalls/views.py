"""Views of the recall pages."""

from __future__ import annotations

import re

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from werkzeug.wrappers import Response

from engine import signatures
from engine.db import db
from engine.errors import GxpError, NotAuthenticated
from engine.ledger.models import Lot
from engine.masterdata import service as masterdata
from engine.masterdata.models import Party, Product
from engine.recall import service as recalls
from engine.recall.models import Recall, RecallConsignee, RecallDelivery
from web import pdf, security
from web.auth.forms import EmptyForm
from web.i18n import add_messages, get_locale, localtime, refusal
from web.i18n import translate as _
from web.paging import paginate
from web.recalls import bp
from web.recalls.forms import AcknowledgeForm, CloseRecallForm, StartRecallForm
from web.security import requires
from web.signing import first_in_session, meaning_label, remember_signature


def _split(text: str | None) -> list[str]:
    return [part for part in re.split(r"[\s,;，；]+", text or "") if part]


@bp.get("/")
@requires("recalls.view")
def index() -> str:
    query = select(Recall).join(Product, Product.id == Recall.product_id)
    q = request.args.get("q", "").strip()
    if q:
        like = f"%{q}%"
        query = query.where(or_(Recall.number.ilike(like), Product.code.ilike(like),
                                Product.gtin.ilike(like), Recall.lots.ilike(like),
                                Recall.reason.ilike(like)))
    status = request.args.get("status", "")
    if status in ("open", "closed"):
        query = query.where(Recall.status == status)
    page = paginate(query, {"started_at": Recall.started_at, "number": Recall.number,
                            "level": Recall.level, "status": Recall.status}, "started_at")
    return render_template("recalls/index.html", page=page, q=q, status=status)


@bp.route("/new", methods=["GET", "POST"])
@requires("recalls.start")
def start() -> str | Response:
    form = StartRecallForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            product = masterdata.find_product(form.product.data or "")
            if product is None:
                raise GxpError(_("No product with this code or GTIN."), code="invalid",
                               fields={"product": _("Unknown product.")})
            recall, _created = recalls.start(
                security.user(), product=product, lots=_split(form.lots.data),
                serials=_split(form.serials.data), level=form.level.data or "",
                reason=form.reason.data or "", source=form.source.data or "")
            db.session.commit()
            flash(_("Recall {number} started: {units} units held.", number=recall.number,
                    units=recall.held_units), "success")
            return redirect(url_for("recalls.show", recall_id=recall.id))
        except GxpError as error:
            db.session.rollback()
            errors = {str(k): _(v) if isinstance(v, str) else str(v)
                      for k, v in error.fields.items()}
            flash(refusal(error), "error")
    return render_template("recalls/start.html", form=form, errors=errors)


@bp.get("/<int:recall_id>")
@requires("recalls.view")
def show(recall_id: int) -> str:
    recall = recalls.get(recall_id)
    lot_ids = {} if "ledger.lot" not in current_app.view_functions else {
        lot_no: lot_id for lot_no, lot_id in db.session.execute(
            select(Lot.lot_no, Lot.id).where(Lot.product_id == recall.product_id,
                                             Lot.lot_no.in_(recall.lot_list)))}
    query = (select(RecallConsignee).join(Party, Party.id == RecallConsignee.party_id)
             .where(RecallConsignee.recall_id == recall.id))
    q = request.args.get("q", "").strip()
    if q:
        like = f"%{q}%"
        query = query.where(or_(Party.code.ilike(like), Party.name.ilike(like),
                                RecallConsignee.lines.ilike(like)))
    state = request.args.get("state", "")
    if state == "pending":
        query = query.where(RecallConsignee.notified_at.is_(None))
    elif state == "unacknowledged":
        query = query.where(RecallConsignee.acknowledged_at.is_(None))
    page = paginate(query, {"customer": Party.code, "quantity": RecallConsignee.quantity,
                            "due": RecallConsignee.notify_due_at,
                            "notified": RecallConsignee.notified_at}, "customer", "asc")
    return render_template(
        "recalls/show.html", recall=recall, summary=recalls.counts(recall), lot_ids=lot_ids,
        page=page, q=q, state=state, deliveries=_deliveries([row.id for row in page.items]),
        ack_form=AcknowledgeForm(), close_form=CloseRecallForm(),
        action_form=EmptyForm(), first_signature=first_in_session(),
        signatures=signatures.checked_signatures("recall", recall.id,
                                                 recalls.report_content(recall)))


def _deliveries(consignee_ids: list[int]) -> dict[int, list[RecallDelivery]]:
    found: dict[int, list[RecallDelivery]] = {}
    for delivery in db.session.scalars(select(RecallDelivery).where(
            RecallDelivery.consignee_id.in_(consignee_ids)).order_by(RecallDelivery.id)):
        found.setdefault(delivery.consignee_id, []).append(delivery)
    return found


@bp.post("/<int:recall_id>/consignees/<int:consignee_id>/acknowledge")
@requires("recalls.close")
def acknowledge(recall_id: int, consignee_id: int) -> Response:
    form = AcknowledgeForm()
    row = recalls.consignee(consignee_id)
    if row.recall_id != recall_id:
        flash(_("This customer is not on this recall."), "error")
    elif form.validate_on_submit():
        try:
            recalls.acknowledge(security.user(), row, form.note.data or "")
            db.session.commit()
            flash(_("Acknowledgement by {name} recorded.", name=row.party.name), "success")
        except GxpError as error:
            db.session.rollback()
            flash(refusal(error), "error")
    else:
        flash(_("Say how the customer acknowledged (who, how)."), "error")
    return redirect(url_for("recalls.show", recall_id=recall_id) + "#customers")


@bp.post("/<int:recall_id>/returns")
@requires("recalls.close")
def refresh_returns(recall_id: int) -> Response:
    recall = recalls.get(recall_id)
    if EmptyForm().validate_on_submit():
        total = recalls.refresh_returns(security.user(), recall)
        db.session.commit()
        flash(_("{count} units returned so far.", count=total), "success")
    return redirect(url_for("recalls.show", recall_id=recall_id))


@bp.post("/<int:recall_id>/notify")
@requires("recalls.close")
def notify_again(recall_id: int) -> Response:
    recall = recalls.get(recall_id)
    if EmptyForm().validate_on_submit() and recall.status == "open":
        from engine.recall import jobs

        jobs.fan_out.delay(recall.id)
        db.session.commit()
        flash(_("Notices not yet delivered are being sent again."), "success")
    return redirect(url_for("recalls.show", recall_id=recall_id) + "#customers")


@bp.post("/<int:recall_id>/close")
@requires("recalls.close")
def close(recall_id: int) -> Response:
    recall = recalls.get(recall_id)
    form = CloseRecallForm()
    if not form.validate_on_submit():
        flash(_("Write the conclusion and sign with your password."), "error")
        return redirect(url_for("recalls.show", recall_id=recall_id) + "#close")
    try:
        recalls.close(security.user(), recall, password=form.password.data or "",
                      note=form.note.data or "", username=form.username.data or None,
                      first_in_session=first_in_session(), policy=security.policy())
        db.session.commit()
        remember_signature()
        flash(_("Recall {number} closed and signed.", number=recall.number), "success")
    except recalls.CloseBlocked as blocked:
        db.session.commit()  # the refusal is evidence: its audit events only
        flash(blocked.message_in(get_locale()), "error")
    except NotAuthenticated as refused:
        db.session.commit()  # the failed signature counts towards the lock-out
        flash(refusal(refused), "error")
    except GxpError as error:
        db.session.rollback()
        flash(refusal(error), "error")
    return redirect(url_for("recalls.show", recall_id=recall_id))


@bp.get("/<int:recall_id>/report")
@requires("recalls.view")
def report(recall_id: int) -> str:
    recall = recalls.get(recall_id)
    return render_template(
        "recalls/report.html", recall=recall, summary=recalls.report(recall),
        signatures=signatures.checked_signatures("recall", recall.id,
                                                 recalls.report_content(recall)))


@bp.get("/<int:recall_id>/report.pdf")
@requires("recalls.view")
def report_pdf(recall_id: int) -> Response:

    recall = recalls.get(recall_id)
    s = recalls.report(recall)
    checked = signatures.checked_signatures("recall", recall.id, recalls.report_content(recall))
    product = recall.product
    document = pdf.Document(
        title=f"{_('Recall report')} {recall.number}",
        subtitle=f"{product.name_zh} / {product.name_en} · GTIN {product.gtin}",
        footer=f"GxPFlow · {recall.number}",
        sections=[
            pdf.Section(_("Recall"), facts=[
                (_("Level"), recall.level), (_("Status"), _(recall.status)),
                (_("Lots"), ", ".join(recall.lot_list) or "-"),
                (_("Serial numbers"), ", ".join(recall.serial_list) or "-"),
                (_("Reason"), recall.reason), (_("Source"), recall.source),
                (_("Started"), localtime(recall.started_at)),
                (_("Notify customers by"), localtime(recall.notify_due_at)
                 if recall.notify_due_at else "-"),
                (_("Closed"), localtime(recall.closed_at) if recall.closed_at else "-"),
                (_("Conclusion"), recall.close_note or "-")]),
            pdf.Section(_("Outcome"), facts=[
                (_("Affected units"), str(s.affected_units)),
                (_("Held in our stock"), str(s.held_units)),
                (_("Customers"), str(s.customers)), (_("Notified"), str(s.notified)),
                (_("Acknowledged"), str(s.acknowledged)),
                (_("Units at customers"), str(s.shipped_units)),
                (_("Recovered"), str(s.recovered)), (_("Outstanding"), str(s.outstanding))]),
            pdf.Section(_("Customers"), header=[
                _("Customer"), _("Lots / serials"), _("Quantity"), _("Notified"),
                _("Acknowledged"), _("Returned")], rows=[
                [row.party.name, ", ".join(
                    f"{line['lot']}{' ' + line['serial'] if line['serial'] else ''}"
                    for line in row.line_list), str(row.quantity),
                 localtime(row.notified_at) if row.notified_at else "-",
                 localtime(row.acknowledged_at) if row.acknowledged_at else "-",
                 str(row.returned_quantity)] for row in recall.consignees]),
            pdf.Section(_("Timeline"), header=[_("Time"), _("Who"), _("What")], rows=[
                [localtime(m.at) + (f" – {localtime(m.until)}" if m.until else ""), m.who,
                 _(m.what)] for m in s.timeline]),
            pdf.Section(_("Signatures"), header=[_("Signer"), _("Time"), _("Meaning"),
                                                _("Valid")], rows=[
                [c.signature.printed_name, localtime(c.signature.signed_at),
                 meaning_label(c.signature.meaning), _("yes") if c.valid else _("BROKEN")]
                for c in checked]),
        ])
    response = Response(pdf.render(document), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{recall.number}-report.pdf"')
    return response


add_messages({
    "Recalls": "召回", "Recall": "召回", "Start a recall": "发起召回",
    "Recall report": "召回报告", "Level": "级别", "Status": "状态", "Lots": "批号",
    "Serial numbers": "序列号", "Reason": "原因", "Source": "来源",
    "Notify customers by": "通知客户截止", "Conclusion": "结论",
    "Outcome": "结果", "Affected units": "涉及数量", "Held in our stock": "本公司库存已锁定",
    "Notified": "已通知", "Acknowledged": "已确认",
    "Units at customers": "客户处数量", "Recovered": "已召回", "Outstanding": "未召回",
    "Lots / serials": "批号/序列号", "Quantity": "数量",
    "Returned": "已退回", "Timeline": "时间线", "Time": "时间", "Who": "人员", "What": "事项",
    "Signatures": "签名", "Signer": "签名人", "Meaning": "含义", "Valid": "有效", "yes": "是",
    "open": "进行中", "closed": "已关闭",
    "No product with this code or GTIN.": "没有此编码或GTIN的产品。",
    "Unknown product.": "未知产品。",
    "Recall {number} started: {units} units held.": "召回 {number} 已发起：{units} 件已锁定。",
    "This customer is not on this recall.": "该客户不在此召回中。",
    "Acknowledgement by {name} recorded.": "已记录 {name} 的确认。",
    "Say how the customer acknowledged (who, how).": "请说明客户如何确认（何人、何种方式）。",
    "{count} units returned so far.": "目前已退回 {count} 件。",
    "Notices not yet delivered are being sent again.": "未送达的通知正在重新发送。",
    "Write the conclusion and sign with your password.": "请填写结论并输入密码签名。",
    "Recall {number} closed and signed.": "召回 {number} 已关闭并签名。",
    "Lots (one per line or comma-separated)": "批号（每行一个或用逗号分隔）",
    "Serial numbers (one per line or comma-separated)": "序列号（每行一个或用逗号分隔）",
    "Source (manufacturer notice, authority...)": "来源（生产企业通知、监管部门等）",
    "I understand: every unit of these lots is held at once, at every site, and every customer "
    "who received them is notified.": "我已知悉：上述批次在各库区的全部库存将立即锁定，"
                                      "所有收到该批产品的客户都将收到通知。",
    "How the customer confirmed": "客户确认方式",
    "Conclusion and disposition of the recovered stock": "结论及召回产品的处理",
    "Search": "搜索", "All": "全部", "Number": "编号", "Product": "产品", "Held": "已锁定",
    "Deadline": "截止", "No recalls.": "暂无召回。",
    "Rules applied": "适用规则", "Deliveries": "送达记录", "Overdue": "已逾期",
    "Acknowledge": "确认", "Count returns from the ledger": "从台账统计退回数量",
    "Send pending notices again": "重新发送未送达通知", "Close the recall": "关闭召回",
    "Close and sign": "关闭并签名", "Report": "报告", "PDF": "PDF",
    "No customer received these units.": "没有客户收到这些产品。",
    "no channel": "无联系渠道", "sent": "已发送",
    "Confirm": "确认",
    "Not yet notified": "尚未通知", "Not yet acknowledged": "尚未确认",
    "Every unit held; customers are notified through Celery within the deadline the active "
    "rule pack sets.": "全部库存已锁定；系统将按现行规则包规定的时限通过后台任务通知客户。",
    "Send the notices not yet delivered to their customers again now?":
        "立即向客户重新发送尚未送达的通知？",
    "Count the returned quantities again from the ledger now?": "立即从台账重新统计退回数量？",
    "Record that {customer} acknowledged the recall? The record cannot be undone.":
        "记录 {customer} 已确认收到召回通知？该记录不可撤销。",
})

"""Tracking reports to manufacturers (21 CFR 821): opened by the receiving and outbound steps
of a tracked device in the step's transaction, delivered through Celery once it commits, sent
again on a quality manager's request, escalated when overdue.

A report's state is computed from its append-only deliveries (`state()`): pending (no attempt
yet), sent (every channel's latest attempt succeeded), failed (a channel's latest attempt
failed) or no_channel (the latest attempt found no e-mail or webhook to use).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from engine import audit
from engine.audit import AuditEvent
from engine.db import after_commit, db
from engine.errors import Bilingual, Conflict, InvalidInput, NotFound
from engine.identity import roles
from engine.identity import service as identity
from engine.identity.models import User
from engine.masterdata.models import Party, Product
from engine.tracking.models import TrackingDelivery, TrackingNotice

#: What `notify` of a deadline names when the manufacturer is to be told.
MANUFACTURER = "manufacturer"
#: How long past its due time an undelivered report waits before the quality managers hear of
#: it (the worker's time to send a report due at once).
ESCALATION_GRACE = timedelta(minutes=1)
#: States from which a quality manager may send a report again.
RESENDABLE = ("failed", "no_channel")


@dataclass(frozen=True)
class TrackedLot:
    lot: str
    serials: tuple[str, ...]
    quantity: int


@dataclass(frozen=True)
class TrackingFacts:
    """A tracked device's receipt or shipment as its manufacturer is to be told: built by the
    step's effect, next to the text the quality managers get in the app."""

    event: str  # "received" or "shipped"
    product: Product
    party: Party
    site_code: str
    event_date: date
    document: str
    lots: tuple[TrackedLot, ...]
    patient_data: str = ""


def names_manufacturer(deadline: dict[str, Any]) -> bool:
    return MANUFACTURER in (deadline.get("notify") or [])


def open_notices(actor: User | audit.Actor, facts: TrackingFacts, deadline: dict[str, Any], *,
                 instance_id: int | None, step: str) -> list[TrackingNotice]:
    """One report per lot, due when the deadline falls; delivered once the step commits."""
    notices = []
    for tracked in facts.lots:
        notice = TrackingNotice(
            event=facts.event, product_id=facts.product.id, lot=tracked.lot,
            serials=json.dumps(list(tracked.serials), ensure_ascii=False),
            quantity=tracked.quantity, party_id=facts.party.id,
            manufacturer_id=facts.product.manufacturer_id, site_code=facts.site_code,
            event_date=facts.event_date, document=facts.document[:80],
            patient_data=facts.patient_data, due_at=datetime.fromisoformat(deadline["due_at"]),
            rule_id=str(deadline.get("rule") or "")[:80], instance_id=instance_id,
            step=step[:60])
        db.session.add(notice)
        notices.append(notice)
    db.session.flush()
    for notice in notices:
        audit.record(actor, "tracking.open", "tracking_notice", notice.id,
                     after=notice.audit_values())
    schedule([notice.id for notice in notices])
    return notices


def schedule(notice_ids: Sequence[int]) -> None:
    """Deliver the reports through Celery once the current transaction commits."""
    ids = list(notice_ids)

    def dispatch() -> None:
        from engine.tracking import jobs

        for notice_id in ids:
            jobs.deliver.delay(notice_id)

    if ids:
        after_commit(dispatch)


def state() -> ColumnElement[str]:
    """The state of `TrackingNotice` rows in a query, computed from their deliveries."""
    mine = aliased(TrackingDelivery)
    last_none = (select(func.max(mine.id))
                 .where(mine.notice_id == TrackingNotice.id, mine.channel == "none")
                 .scalar_subquery())
    last_channel = (select(func.max(mine.id))
                    .where(mine.notice_id == TrackingNotice.id, mine.channel != "none")
                    .scalar_subquery())

    def latest_is(status: str) -> ColumnElement[bool]:
        row, later = aliased(TrackingDelivery), aliased(TrackingDelivery)
        newest = (select(func.max(later.id))
                  .where(later.notice_id == row.notice_id, later.channel == row.channel)
                  .scalar_subquery())
        return exists().where(row.notice_id == TrackingNotice.id, row.channel != "none",
                              row.status == status, row.id == newest)

    sent_elsewhere = exists().where(mine.notice_id == TrackingNotice.id,
                                    mine.channel == "manual", mine.status == "sent")
    return case(
        (sent_elsewhere, "sent"),  # a quality manager's record closes it, whatever came before
        (and_(last_none.is_not(None),
              or_(last_channel.is_(None), last_none > last_channel)), "no_channel"),
        (latest_is("failed"), "failed"),
        (latest_is("sent"), "sent"),
        else_="pending",
    )


def state_of(notice: TrackingNotice) -> str:
    found = db.session.execute(
        select(TrackingNotice.id, state()).where(TrackingNotice.id == notice.id)).one()
    return str(found[1])


def get(notice_id: int) -> TrackingNotice:
    notice = db.session.get(TrackingNotice, notice_id)
    if notice is None:
        raise NotFound(f"Tracking report {notice_id} does not exist.",
                       zh=f"追踪报告 {notice_id} 不存在。")
    return notice


def deliveries(notice: TrackingNotice) -> list[TrackingDelivery]:
    return list(db.session.scalars(select(TrackingDelivery).where(
        TrackingDelivery.notice_id == notice.id).order_by(TrackingDelivery.id)))


def report(notice: TrackingNotice) -> dict[str, Any]:
    """What the manufacturer receives (the e-mail's text and the webhook's JSON)."""
    product, party = notice.product, notice.party
    return {
        "reference": notice.reference, "notice_id": notice.id, "activity": notice.event,
        "product_code": product.code, "product": f"{product.name_zh} / {product.name_en}",
        "gtin": product.gtin or "", "udi_di": product.udi_di, "lot": notice.lot,
        "serials": notice.serial_list, "quantity": notice.quantity,
        "date": notice.event_date.isoformat(), "site": notice.site_code,
        "document": notice.document,
        "party": {"code": party.code, "name": party.name, "name_en": party.name_en,
                  "address": party.address},
        "patient_data": notice.patient_data, "due_at": notice.due_at.isoformat(),
        "rule": notice.rule_id,
    }


#: A report's state, as a refusal to send it again says it in Chinese.
_STATE_ZH = {"pending": "等待发送", "sent": "已发送", "failed": "发送失败",
             "no_channel": "无联系渠道"}


def send_again(user: User, notice: TrackingNotice) -> None:
    """A quality manager's request to deliver a failed or undeliverable report again."""
    identity.require(user, "tracking.send")
    current = state_of(notice)
    if current not in RESENDABLE:
        raise Conflict(f"Tracking report {notice.reference} is {current.replace('_', ' ')}; "
                       "only a failed report or one without a channel is sent again.",
                       zh=f"追踪报告 {notice.reference} {_STATE_ZH.get(current, current)}；"
                          "只有发送失败或无联系渠道的报告才能重新发送。")
    audit.record(user, "tracking.send_again", "tracking_notice", notice.id,
                 after={"reference": notice.reference, "state": current})
    schedule([notice.id])


#: How a report may have been sent when no channel could deliver it.
ELSEWHERE = ("phone", "letter", "fax", "portal", "other")


def record_sent_elsewhere(user: User, notice: TrackingNotice, how: str, note: str) -> None:
    """A quality manager says the report reached the manufacturer by other means (a call, a
    letter...): kept as a `manual` delivery, with who sent it to whom and when in the note."""
    identity.require(user, "tracking.send")
    problems = {}
    if how not in ELSEWHERE:
        problems["how"] = "Choose how it was sent."
    if not note.strip():
        problems["note"] = "Say who sent it to whom, and when."
    if problems:
        raise InvalidInput("The record was not saved.", fields=problems)
    # Locked as a delivery worker locks it: a delivery under way finishes first (and then
    # the report is sent), and one that starts later finds this record and sends nothing.
    db.session.execute(select(TrackingNotice.id).where(TrackingNotice.id == notice.id)
                       .with_for_update())
    current = state_of(notice)
    if current == "sent":
        raise Conflict(f"Tracking report {notice.reference} is already sent.",
                       zh=f"追踪报告 {notice.reference} 已发送。")
    attempt = db.session.scalar(select(func.count()).where(
        TrackingDelivery.notice_id == notice.id, TrackingDelivery.channel == "manual")) or 0
    delivery = TrackingDelivery(notice_id=notice.id, channel="manual", target=how,
                                status="sent", attempt=attempt + 1,
                                detail=f"{note.strip()[:1800]} (recorded by {user.full_name})")
    db.session.add(delivery)
    db.session.flush()
    audit.record(user, "tracking.sent_elsewhere", "tracking_notice", notice.id,
                 after={"reference": notice.reference, "state_before": current, "how": how,
                        "note": note.strip()[:1800], "delivery": delivery.id})


def _escalated() -> ColumnElement[bool]:
    return exists().where(AuditEvent.action == "tracking.escalate",
                          AuditEvent.entity_type == "tracking_notice",
                          AuditEvent.entity_id == cast(TrackingNotice.id, String))


def escalate_overdue(now: datetime) -> tuple[int, list[int]]:
    """Reports past their due time and not sent: the quality managers are told once. Returns
    how many were escalated and which of them to try again (not those without a channel)."""
    current_state = state()
    overdue = db.session.execute(
        select(TrackingNotice, current_state)
        .where(TrackingNotice.due_at < now - ESCALATION_GRACE, current_state != "sent",
               ~_escalated())
        .order_by(TrackingNotice.id)).all()
    for notice, current in overdue:
        maker = notice.manufacturer
        audit.record(audit.SYSTEM, "tracking.escalate", "tracking_notice", notice.id,
                     after={"reference": notice.reference, "state": current,
                            "due_at": notice.due_at.isoformat()})
        identity.notify_role(
            roles.QUALITY_MANAGER,
            Bilingual(f"Tracking report {notice.reference} to "
                      f"{maker.name if maker else 'the manufacturer'} is overdue",
                      f"发给{maker.name if maker else '制造商'}的追踪报告 "
                      f"{notice.reference} 已逾期"),
            Bilingual(f"The device tracking report {notice.reference} ({notice.product.code} "
                      f"lot {notice.lot}, {notice.event} {notice.event_date.isoformat()}) was "
                      f"due {notice.due_at:%Y-%m-%d %H:%M} UTC and is "
                      f"{current.replace('_', ' ')}. Follow it on the Device tracking page (a "
                      "failed report is tried again), or send it by other means.",
                      f"器械追踪报告 {notice.reference}（{notice.product.code} 批号 {notice.lot}，"
                      f"{notice.event} {notice.event_date.isoformat()}）应于 "
                      f"{notice.due_at:%Y-%m-%d %H:%M} UTC 前送达，目前状态：{current}。请在"
                      "“器械追踪”页面跟进（发送失败的报告会自动重试），或通过其他方式发送。"))
    return len(overdue), [notice.id for notice, current in overdue
                          if current in ("pending", "failed")]

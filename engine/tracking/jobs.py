"""Tracking reports delivered as Celery tasks: each attempt recorded, a failed one retried with
backoff. A channel already delivered is never sent again, so a retry, a second worker or a
quality manager's "send again" cannot send the manufacturer the same report twice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from engine import audit
from engine.db import db
from engine.errors import Bilingual
from engine.identity import service as identity
from engine.identity.roles import QUALITY_MANAGER
from engine.recall import channels
from engine.tracking import service
from engine.tracking.models import TrackingDelivery, TrackingNotice

#: Attempts of a failing channel before the retries stop (escalation tells the quality managers).
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Outcome:
    #: sent, failed, no_channel, or skipped (locked by another worker, or superseded).
    result: str
    #: The newest delivery row of the report after this attempt (what a retry checks).
    last_delivery_id: int | None = None
    #: Failed attempts of the failing channel so far (for the backoff).
    attempts: int = 0


@shared_task(name="gxpflow.tracking.deliver", time_limit=300)
def deliver(notice_id: int, after: int | None = None) -> str:
    """Deliver one report through each channel of its manufacturer not yet delivered.

    `after` (retries only): the failed delivery the retry follows; when anything was recorded
    since (a quality manager sent it again), the retry has nothing to do."""
    try:
        outcome = deliver_notice(notice_id, after=after)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    settings = current_app.extensions["gxpflow.settings"]
    if outcome.result == "failed" and not settings.eager and outcome.attempts < MAX_ATTEMPTS:
        deliver.apply_async((notice_id, outcome.last_delivery_id),
                            countdown=min(30 * 2 ** outcome.attempts, 900))
    return outcome.result


def deliver_notice(notice_id: int, *, after: int | None = None) -> Outcome:
    """One delivery attempt, recorded; the caller commits."""
    notice = db.session.scalar(
        select(TrackingNotice).where(TrackingNotice.id == notice_id)
        .with_for_update(skip_locked=True, of=TrackingNotice))
    if notice is None:
        return Outcome("skipped")
    history = service.deliveries(notice)
    if after is not None and (not history or history[-1].id != after
                              or history[-1].status != "failed"):
        return Outcome("skipped", history[-1].id if history else None)
    if any(row.channel == "manual" for row in history):
        # Sent by other means (a quality manager recorded it) while this delivery waited.
        return Outcome("skipped", history[-1].id)
    maker = notice.manufacturer
    targets = [(channel, target) for channel, target in (
        ("email", maker.notify_email if maker else ""),
        ("webhook", maker.notify_webhook if maker else "")) if target]
    latest = {row.channel: row for row in history}
    if not targets:
        row = TrackingDelivery(
            notice_id=notice.id, channel="none", target="", status="no_channel",
            attempt=sum(1 for d in history if d.channel == "none") + 1,
            detail=("The manufacturer has no e-mail or webhook on its master record"
                    if maker else "The product has no manufacturer on its master record"))
        db.session.add(row)
        db.session.flush()
        _record(notice, [row])
        who = maker.name if maker else "the manufacturer"
        report_text = channels.tracking_text(service.report(notice))
        identity.notify_role(
            QUALITY_MANAGER,
            Bilingual(f"Tracking report {notice.reference}: send it to {who} by other means",
                      f"追踪报告 {notice.reference}：请通过其他方式发送给"
                      f"{maker.name if maker else '制造商'}"),
            Bilingual(f"{row.detail}, so the device tracking report below cannot be sent by "
                      f"GxPFlow. Send it to {who} by other means (letter, portal, phone) before "
                      f"{notice.due_at:%Y-%m-%d %H:%M} UTC, or add an e-mail or webhook to the "
                      "manufacturer's record and send it again from the Device tracking page."
                      "\n\n" + report_text,
                      ("制造商主数据中没有邮箱或回调地址" if maker else "产品主数据中没有制造商")
                      + f"，GxPFlow 无法发送以下器械追踪报告。请在 {notice.due_at:%Y-%m-%d %H:%M} "
                      "UTC 前通过信函、门户网站或电话等其他方式发送，或为制造商补充邮箱或回调地址后"
                      "在“器械追踪”页面重新发送。\n\n" + report_text))
        return Outcome("no_channel", row.id)
    settings = current_app.extensions["gxpflow.settings"]
    report = service.report(notice)
    rows = []
    for channel, target in targets:
        done = latest.get(channel)
        if done is not None and done.status == "sent":
            continue
        if channel == "email":
            sent = channels.send_tracking_email(
                target, report, smtp_url=settings.smtp_url, sender=settings.mail_from,
                outbox=Path(current_app.instance_path) / "outbox")
        else:
            sent = channels.send_tracking_webhook(
                target, report, secret=settings.secret_key,
                allowed_hosts=settings.webhook_allowed_hosts)
        rows.append(TrackingDelivery(
            notice_id=notice.id, channel=channel, target=target,
            status="sent" if sent.ok else "failed",
            attempt=sum(1 for d in history if d.channel == channel) + 1,
            detail=sent.detail[:2000]))
    if not rows:
        return Outcome("sent", history[-1].id if history else None)
    db.session.add_all(rows)
    db.session.flush()
    _record(notice, rows)
    failed = [row for row in rows if row.status == "failed"]
    return Outcome("failed" if failed else "sent", rows[-1].id,
                   max((row.attempt for row in failed), default=0))


def _record(notice: TrackingNotice, rows: list[TrackingDelivery]) -> None:
    audit.record(audit.SYSTEM, "tracking.deliver", "tracking_notice", notice.id,
                 after={"reference": notice.reference,
                        "deliveries": [{"channel": row.channel, "target": row.target,
                                        "status": row.status, "attempt": row.attempt,
                                        "detail": row.detail} for row in rows]})

"""Recall notifications as Celery tasks: one fan-out per recall, batches of consignees, an
escalation scan on the beat. Each delivery attempt is recorded; a channel already delivered is
never sent again, so retries and a second worker cannot notify a customer twice."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from engine import audit
from engine.db import db, utcnow
from engine.errors import Bilingual
from engine.identity import service as identity
from engine.identity.roles import QUALITY_MANAGER
from engine.masterdata.models import Product
from engine.recall import channels
from engine.recall.models import Recall, RecallConsignee, RecallDelivery

BATCH = 50
MAX_ATTEMPTS = 5
#: Notices sent at once by one task (they wait on the network, not the CPU).
SENDERS = 16


@shared_task(name="gxpflow.recall.fan_out", time_limit=600)
def fan_out(recall_id: int) -> int:
    """Queue the notification of every consignee not yet notified, in batches."""
    ids = list(db.session.scalars(
        select(RecallConsignee.id).where(RecallConsignee.recall_id == recall_id,
                                         RecallConsignee.notified_at.is_(None))
        .order_by(RecallConsignee.id)))
    db.session.rollback()
    for start in range(0, len(ids), BATCH):
        notify.delay(ids[start:start + BATCH])
    return len(ids)


@shared_task(name="gxpflow.recall.notify", time_limit=900)
def notify(consignee_ids: list[int]) -> dict[str, int]:
    """Notify a batch of consignees in one transaction: rows locked (others skip them), every
    notice sent at once on a thread pool, then each attempt recorded and committed together."""
    try:
        counts, retry = deliver_batch(consignee_ids)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    settings = current_app.extensions["gxpflow.settings"]
    if retry and not settings.eager:
        attempts = max(_attempts(i) for i in retry)
        db.session.rollback()
        if attempts < MAX_ATTEMPTS:
            notify.apply_async((retry,), countdown=min(30 * 2 ** attempts, 900))
    return counts


_pool: tuple[int, ThreadPoolExecutor] | None = None


def _senders() -> ThreadPoolExecutor:
    """This process's pool of sender threads, made on first use (a worker process forked
    from its parent makes its own: threads do not survive a fork)."""
    global _pool  # one pool per process
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(max_workers=SENDERS,
                                                 thread_name_prefix="recall-notice"))
    return _pool[1]


def _attempts(consignee_id: int) -> int:
    return len(db.session.scalars(select(RecallDelivery.id).where(
        RecallDelivery.consignee_id == consignee_id, RecallDelivery.status == "failed")).all())


def _notice(row: RecallConsignee, recall: Recall, product: Product) -> dict[str, Any]:
    return {"number": recall.number, "level": recall.level, "reason": recall.reason,
            "product": f"{product.name_zh} / {product.name_en}", "gtin": product.gtin,
            "consignee_id": row.id, "customer": row.party.code, "lines": row.line_list,
            "respond_by": row.notify_due_at.isoformat() if row.notify_due_at else None}


def deliver(consignee_id: int) -> str:
    """Tell one consignee through each of its channels; 'notified', 'failed' or 'skipped'."""
    counts, _retry = deliver_batch([consignee_id])
    return next(outcome for outcome, count in counts.items() if count)


def deliver_batch(consignee_ids: list[int]) -> tuple[dict[str, int], list[int]]:
    counts = {"notified": 0, "failed": 0, "skipped": 0}
    rows = list(db.session.scalars(
        select(RecallConsignee).where(RecallConsignee.id.in_(consignee_ids),
                                      RecallConsignee.notified_at.is_(None))
        .order_by(RecallConsignee.id)
        .with_for_update(skip_locked=True, of=RecallConsignee)))
    counts["skipped"] = len(consignee_ids) - len(rows)
    recalls = {r.id: r for r in db.session.scalars(select(Recall).where(
        Recall.id.in_({row.recall_id for row in rows}), Recall.status == "open"))}
    rows = [row for row in rows if row.recall_id in recalls]
    counts["skipped"] = len(consignee_ids) - len(rows)
    products = {p.id: p for p in db.session.scalars(select(Product).where(
        Product.id.in_({r.product_id for r in recalls.values()})))}
    done: dict[int, set[str]] = {}
    attempts: dict[tuple[int, str], int] = {}
    for consignee_id, channel, status in db.session.execute(
            select(RecallDelivery.consignee_id, RecallDelivery.channel, RecallDelivery.status)
            .where(RecallDelivery.consignee_id.in_([row.id for row in rows]))):
        attempts[(consignee_id, channel)] = attempts.get((consignee_id, channel), 0) + 1
        if status == "sent":
            done.setdefault(consignee_id, set()).add(channel)
        elif status == "no_channel":
            done.setdefault(consignee_id, set()).add("no_channel")
    settings = current_app.extensions["gxpflow.settings"]
    outbox = Path(current_app.instance_path) / "outbox"
    jobs: list[tuple[RecallConsignee, str, str, dict[str, Any]]] = []
    retry: list[int] = []
    for row in rows:
        party = row.party
        targets = [(name, target) for name, target in (("email", party.notify_email),
                                                       ("webhook", party.notify_webhook))
                   if target and name not in done.get(row.id, set())]
        if not party.notify_email and not party.notify_webhook:
            counts["failed"] += 1
            if "no_channel" not in done.get(row.id, set()):
                db.session.add(RecallDelivery(
                    consignee_id=row.id, channel="email", target="", status="no_channel",
                    detail="No e-mail or webhook on the customer record"))
                recall = recalls[row.recall_id]
                identity.notify_role(
                    QUALITY_MANAGER,
                    Bilingual(f"Recall {recall.number}: call {party.name}",
                              f"召回 {recall.number}：请电话通知 {party.name}"),
                    Bilingual(f"{party.name} has no e-mail or webhook for recall notices; "
                              "notify them by phone or letter and record the acknowledgement "
                              "on the recall page.",
                              f"{party.name} 没有用于召回通知的邮箱或回调地址；请通过电话或信函"
                              "通知，并在召回页面记录其确认。"))
            continue
        notice = _notice(row, recalls[row.recall_id], products[recalls[row.recall_id].product_id])
        jobs += [(row, channel, target, notice) for channel, target in targets]

    def send(job: tuple[RecallConsignee, str, str, dict[str, Any]]) -> channels.Sent:
        _row, channel, target, notice = job
        if channel == "email":
            return channels.send_email(target, notice, smtp_url=settings.smtp_url,
                                       sender=settings.mail_from, outbox=outbox)
        return channels.send_webhook(target, notice, secret=settings.secret_key,
                                     allowed_hosts=settings.webhook_allowed_hosts)

    results = list(_senders().map(send, jobs))
    failed: set[int] = set()
    for (row, channel, target, _), sent in zip(jobs, results, strict=True):
        attempts[(row.id, channel)] = attempts.get((row.id, channel), 0) + 1
        db.session.add(RecallDelivery(consignee_id=row.id, channel=channel, target=target,
                                      status="sent" if sent.ok else "failed",
                                      attempt=attempts[(row.id, channel)],
                                      detail=sent.detail[:2000]))
        if not sent.ok:
            failed.add(row.id)
    now = utcnow()
    for row in rows:
        if not row.party.notify_email and not row.party.notify_webhook:
            continue
        if row.id in failed:
            counts["failed"] += 1
            retry.append(row.id)
            continue
        before = row.audit_values()
        row.notified_at = now
        audit.record(audit.SYSTEM, "recall.notified", "recall_consignee", row.id,
                     before=before, after=row.audit_values())
        counts["notified"] += 1
    db.session.flush()
    return counts, retry


@shared_task(name="gxpflow.recall.escalate_overdue", time_limit=600)
def escalate_overdue() -> int:
    """Consignees not notified by their deadline: tell the quality managers once, retry. Device
    tracking reports past due and not sent likewise (engine.tracking)."""
    from engine.tracking import jobs as tracking_jobs
    from engine.tracking import service as tracking

    try:
        now = utcnow()
        rows = db.session.scalars(
            select(RecallConsignee).join(Recall, Recall.id == RecallConsignee.recall_id)
            .where(Recall.status == "open", RecallConsignee.notified_at.is_(None),
                   RecallConsignee.escalated_at.is_(None),
                   RecallConsignee.notify_due_at < now)).all()
        for row in rows:
            row.escalated_at = now
            audit.record(audit.SYSTEM, "recall.escalate", "recall_consignee", row.id,
                         after={"recall": row.recall.number, "customer": row.party.code,
                                "due": row.notify_due_at.isoformat()
                                if row.notify_due_at else None})
            identity.notify_role(
                QUALITY_MANAGER,
                Bilingual(f"Recall {row.recall.number}: {row.party.name} is overdue",
                          f"召回 {row.recall.number}：{row.party.name} 的通知已逾期"),
                Bilingual(f"The recall notice to {row.party.name} was due "
                          f"{row.notify_due_at:%Y-%m-%d %H:%M} UTC and is not delivered.",
                          f"发给 {row.party.name} 的召回通知应于 "
                          f"{row.notify_due_at:%Y-%m-%d %H:%M} UTC 前送达，目前尚未送达。"))
        ids = [row.id for row in rows]
        tracked, redeliver = tracking.escalate_overdue(now)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if ids:
        notify.delay(ids)
    for notice_id in redeliver:
        tracking_jobs.deliver.delay(notice_id)
    return len(ids) + tracked


@shared_task(name="gxpflow.recall.start", time_limit=600)
def start_from_message(body: dict[str, Any], username: str) -> dict[str, Any]:
    """Start a recall from a message on the task queue (another system's worker, a message
    bus bridge): the same body as POST /api/v1/recalls, under a user's authority, with an
    idempotency key so a redelivered message starts one recall (the same key with another body
    is refused, as over the API)."""
    from engine.errors import InvalidInput, NotFound
    from engine.masterdata import service as masterdata
    from engine.recall import service as recalls
    from engine.recall.schemas import RecallRequestSchema, request_hash

    try:
        data = RecallRequestSchema().load(body)
        if not data.get("idempotency_key"):
            raise InvalidInput("A message must carry an idempotency_key.",
                               fields={"idempotency_key": "Required in a message."})
        user = identity.find_user(username)
        if user is None or not user.active:
            raise NotFound(f"No active user {username!r} to start the recall as.")
        product = masterdata.find_product(data["product"])
        if product is None:
            raise InvalidInput(f"No product with code or GTIN {data['product']!r}.",
                               fields={"product": "Unknown product."})
        recall, created = recalls.start(
            user, product=product, lots=data["lots"], serials=data["serials"],
            level=data["level"], reason=data["reason"], source=data["source"],
            idempotency_key=data["idempotency_key"], request_hash=request_hash(data))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return {"number": recall.number, "created": created, "held_units": recall.held_units}

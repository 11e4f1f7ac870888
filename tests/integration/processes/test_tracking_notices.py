"""FDA device tracking reports (21 CFR 821) at the Chicago site: a tracked device's receipt, or its
sale to a user facility, sends its manufacturer a tracking report of each lot through Celery (by
e-mail to the outbox here, by a signed webhook), every attempt recorded; a manufacturer without
a channel leaves the report to the quality managers, who are told; the Device tracking page
lists the reports for QA and sends a failed one again."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from engine import audit
from engine.audit import AuditEvent
from engine.db import db, utcnow
from engine.identity.models import Notification
from engine.masterdata import service as md
from engine.tracking import jobs as tracking_jobs
from engine.tracking import service as tracking
from engine.tracking.models import TrackingDelivery, TrackingNotice
from tests.integration.processes import stockworld as sw
from tests.integration.processes import test_receiving as rc
from tests.integration.processes.test_outbound import CHECK_OK, SHIP, order, pick
from tests.support.httpsink import serving
from tests.support.web import csrf_token, login, submit

world = sw.world
receiving_world = rc.world
US = pytest.mark.parametrize("receiving_world", ["CHI"], indirect=True)
SERIALS = ["GS-0001", "GS-0002", "GS-0003"]


# -- a manufacturer's webhook --------------------------------------------------------------------


class Sink(BaseHTTPRequestHandler):
    """Records each POST; answers 500 to the first `failures` of them, then 202."""

    received: list[tuple[dict[str, str], bytes]] = []
    failures = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Sink.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(500 if len(Sink.received) <= Sink.failures else 202)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[str]:
    Sink.received, Sink.failures = [], 0
    with serving(Sink) as base:
        yield f"{base}/tracking-hook"


@pytest.fixture
def delivered(settled: Callable[..., None], app: Flask) -> Callable[[Callable[[], bool]], None]:
    """Wait until reports are delivered (see `settled`), in an app context of its own. Cleans
    the outbox first (the instance folder is shared)."""
    shutil.rmtree(Path(app.instance_path) / "outbox", ignore_errors=True)

    def wait(done: Callable[[], bool], timeout: float = 60) -> None:
        with app.app_context():
            settled(done, timeout)
            db.session.rollback()

    return wait


# -- helpers -------------------------------------------------------------------------------------


def _track(app: Flask, product: str = "GEL", **maker: str) -> None:
    """The product becomes a tracked device; the manufacturer gets these channels."""
    with app.app_context():
        md.update_product(audit.SYSTEM, md.get_product(product), "21 CFR 821 order",
                          fda_tracked=True)
        if maker:
            md.update_party(audit.SYSTEM, md.get_party("MFG"), "Tracking contact", **maker)
        db.session.commit()


def _receive_gel(w: rc.World, lot: str = "G26") -> int:
    instance = rc.start(w, "CHI", f"PO-US-TRACK {lot}")
    scans = [rc.label(rc.GEL, lot, serial) for serial in SERIALS]
    rc.step_task(w, "clerk", instance, "receiving.arrival",
                 rc.arrival("GEL", scans, len(SERIALS), **rc.COLD_OK))
    return instance


def _notices(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.scalars(select(TrackingNotice).order_by(TrackingNotice.id)).all()
        return [{**row.audit_values(), "id": row.id, "manufacturer": row.manufacturer_id,
                 "state": tracking.state_of(row)} for row in rows]


def _deliveries(app: Flask, notice_id: int) -> list[tuple[str, str, int]]:
    with app.app_context():
        return [(d.channel, d.status, d.attempt) for d in db.session.scalars(
            select(TrackingDelivery).where(TrackingDelivery.notice_id == notice_id)
            .order_by(TrackingDelivery.id))]


def _count(notice_id: int, at_least: int) -> Callable[[], bool]:
    return lambda: len(db.session.scalars(select(TrackingDelivery.id).where(
        TrackingDelivery.notice_id == notice_id)).all()) >= at_least


def _messages(app: Flask, username: str, text: str) -> list[str]:
    with app.app_context():
        from engine.identity import service as identity

        user = identity.find_user(username)
        assert user is not None
        return [f"{subject}\n{body}" for subject, body in db.session.execute(
            select(Notification.subject, Notification.body)
            .where(Notification.user_id == user.id).order_by(Notification.id))
            if text in subject]


def _page(client: Any, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[-2000:]
    return str(response.get_data(as_text=True))


def _audit_ok(app: Flask) -> None:
    with app.app_context():
        assert audit.verify().ok


# -- receipt ---------------------------------------------------------------------------------


@US
def test_a_tracked_receipt_e_mails_the_manufacturer_a_report(
        receiving_world: rc.World, delivered: Any) -> None:
    w = receiving_world
    _track(w.app, notify_email="tracking@maker.example")
    instance = _receive_gel(w)

    [notice] = _notices(w.app)
    assert notice["event"] == "received" and notice["lot"] == "G26"
    assert notice["serials"] == SERIALS and notice["quantity"] == 3
    assert notice["rule"] == "fda-821-notify-manufacturer"
    assert notice["step"] == "receiving.arrival" and notice["instance_id"] == instance
    assert notice["site"] == "CHI" and notice["document"] == "DN-001"
    with w.app.app_context():
        assert notice["party_id"] == md.get_party("SUP").id
        assert notice["manufacturer"] == md.get_party("MFG").id
    delivered(_count(notice["id"], 1))
    assert _deliveries(w.app, notice["id"]) == [("email", "sent", 1)]

    outbox = Path(w.app.instance_path) / "outbox" / f"{notice['reference']}.eml"
    message = email.message_from_bytes(outbox.read_bytes(), policy=email.policy.default)
    assert message["To"] == "tracking@maker.example"
    assert notice["reference"] in message["Subject"] and "GEL lot G26" in message["Subject"]
    body = message.get_content()  # type: ignore[attr-defined]
    assert "Lot / 批号: G26" in body and ", ".join(SERIALS) in body
    assert "Received from / 收货来源: SUP Supplier Co" in body

    # QA keep their in-app notice (they remain responsible) and see the report as sent.
    assert _messages(w.app, "qm", "notify manufacturer")
    qm = w.client("qm")
    home = _page(qm, "/")
    assert "/tracking/" in home
    listing = _page(qm, "/tracking/")
    assert notice["reference"] in listing and "G26" in listing
    assert notice["reference"] in _page(qm, "/tracking/?status=sent&q=G26")
    assert notice["reference"] not in _page(qm, "/tracking/?status=failed")
    assert notice["reference"] not in _page(qm, "/tracking/?q=NO-SUCH-LOT")
    assert notice["reference"] in _page(qm, "/tracking/?q=GEL")
    detail = _page(qm, f"/tracking/{notice['id']}")
    assert "tracking@maker.example" in detail and "Send again" not in detail
    qm.get("/lang/zh")
    assert "器械追踪报告" in _page(qm, "/tracking/") and "已发送" in _page(qm, "/tracking/")
    assert "送达记录" in _page(qm, f"/tracking/{notice['id']}")
    _audit_ok(w.app)


@US
def test_without_a_channel_qa_is_told_and_an_overdue_report_escalates_once(
        receiving_world: rc.World, delivered: Any) -> None:
    w = receiving_world
    _track(w.app)  # the maker has neither e-mail nor webhook
    _receive_gel(w)
    [notice] = _notices(w.app)
    delivered(_count(notice["id"], 1))
    assert _deliveries(w.app, notice["id"]) == [("none", "no_channel", 1)]
    [told] = _messages(w.app, "qm", "by other means")
    assert notice["reference"] in told and "G26" in told and "GS-0002" in told
    assert _notices(w.app)[0]["state"] == "no_channel"

    qm = w.client("qm")
    assert notice["reference"] in _page(qm, "/tracking/?status=no_channel")
    assert notice["reference"] not in _page(qm, "/tracking/?status=sent")
    detail = _page(qm, f"/tracking/{notice['id']}")
    assert "Send again" in detail

    # Past its due time and not sent: the quality managers hear of it once.
    with w.app.app_context():
        later = utcnow() + timedelta(hours=1)
        assert tracking.escalate_overdue(later) == (1, [])  # nothing to try: no channel
        db.session.commit()
        assert tracking.escalate_overdue(later) == (0, [])
        db.session.commit()
    assert _messages(w.app, "qm", "is overdue")

    # The maker gets an e-mail address; QA sends the report again from its page.
    _track(w.app, notify_email="tracking@maker.example")
    response = submit(qm, f"/tracking/{notice['id']}/send", {},
                      form_url=f"/tracking/{notice['id']}")
    assert response.status_code == 302
    delivered(_count(notice["id"], 2))
    assert _deliveries(w.app, notice["id"]) == [("none", "no_channel", 1),
                                                ("email", "sent", 1)]
    assert _notices(w.app)[0]["state"] == "sent"
    _audit_ok(w.app)


@US
def test_qa_records_a_report_sent_by_other_means(
        receiving_world: rc.World, delivered: Any) -> None:
    w = receiving_world
    _track(w.app)  # no channel: QA phone the manufacturer
    _receive_gel(w)
    [notice] = _notices(w.app)
    delivered(_count(notice["id"], 1))
    qm, url = w.client("qm"), f"/tracking/{notice['id']}"
    assert "Record as sent" in _page(qm, url)

    refused = submit(qm, f"{url}/sent-elsewhere", {"how": "phone", "note": "  "},
                     form_url=url)
    assert refused.status_code == 422
    assert "Note: Say who sent it to whom, and when." in refused.get_data(as_text=True)
    assert _deliveries(w.app, notice["id"]) == [("none", "no_channel", 1)]

    done = submit(qm, f"{url}/sent-elsewhere",
                  {"how": "phone", "note": "Read to J. Smith, tracking desk, 09:40 CST"},
                  form_url=url)
    assert done.status_code == 302
    assert _deliveries(w.app, notice["id"]) == [("none", "no_channel", 1),
                                                ("manual", "sent", 1)]
    assert _notices(w.app)[0]["state"] == "sent"
    page = _page(qm, url)
    assert "Read to J. Smith" in page and "Record as sent" not in page
    assert "Send again" not in page
    again = submit(qm, f"{url}/sent-elsewhere", {"how": "letter", "note": "twice"},
                   form_url=f"/tracking/{notice['id']}")
    assert again.status_code == 302  # refused with a message: it is sent already
    assert len(_deliveries(w.app, notice["id"])) == 2
    with w.app.app_context():  # a sent report is not escalated
        assert tracking.escalate_overdue(utcnow() + timedelta(hours=1)) == (0, [])
        db.session.commit()
        [event] = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "tracking.sent_elsewhere")).all()
        assert json.loads(event.after)["how"] == "phone"
    # A delivery still queued from before (a worker was down), run once the maker has an
    # e-mail address: the report went by phone, so nothing more goes out.
    _track(w.app, notify_email="tracking@maker.example")
    with w.app.app_context():
        assert tracking_jobs.deliver_notice(notice["id"]).result == "skipped"
        db.session.commit()
    assert len(_deliveries(w.app, notice["id"])) == 2
    _audit_ok(w.app)


@US
def test_a_product_without_a_manufacturer_is_left_to_qa(
        receiving_world: rc.World, delivered: Any) -> None:
    w = receiving_world
    _track(w.app)
    with w.app.app_context():
        md.update_product(audit.SYSTEM, md.get_product("GEL"), "Maker unknown",
                          manufacturer_id=None)
        db.session.commit()
    _receive_gel(w)
    [notice] = _notices(w.app)
    assert notice["manufacturer"] is None
    delivered(_count(notice["id"], 1))
    assert _deliveries(w.app, notice["id"]) == [("none", "no_channel", 1)]
    [told] = _messages(w.app, "qm", "by other means")
    assert "no manufacturer" in told
    _audit_ok(w.app)


@US
def test_the_page_needs_a_quality_role(receiving_world: rc.World, make_user: Any,
                                       delivered: Any) -> None:
    w = receiving_world
    _track(w.app)
    _receive_gel(w)
    [notice] = _notices(w.app)
    delivered(_count(notice["id"], 1))
    url = f"/tracking/{notice['id']}"

    clerk = w.client("clerk")
    assert "/tracking/" not in _page(clerk, "/")
    _page(clerk, "/tracking/", 403)
    _page(clerk, url, 403)
    token = csrf_token(clerk, "/")
    assert clerk.post(f"{url}/send", data={"csrf_token": token}).status_code == 403

    make_user("audrey", "auditor")
    make_user("olivia", "compliance_officer")
    auditor, officer = w.app.test_client(), w.app.test_client()
    login(auditor, "audrey")
    login(officer, "olivia")
    page = _page(auditor, url)
    assert notice["reference"] in page and "Send again" not in page  # read-only
    token = csrf_token(auditor, url)
    assert auditor.post(f"{url}/send", data={"csrf_token": token}).status_code == 403
    assert "Send again" in _page(officer, url)
    assert _deliveries(w.app, notice["id"]) == [("none", "no_channel", 1)]
    _audit_ok(w.app)


# -- shipment to a user facility -------------------------------------------------------------


@pytest.mark.parametrize("world", ["CHI"], indirect=True)
def test_a_tracked_device_provided_to_a_user_facility_is_reported(
        world: sw.World, delivered: Any) -> None:
    with world.app.app_context():
        md.update_product(audit.SYSTEM, md.get_product("THERMO"), "21 CFR 821 order",
                          fda_tracked=True)
        md.update_party(audit.SYSTEM, md.get_party("CUS"), "A hospital", user_facility=True)
        md.update_party(audit.SYSTEM, md.get_party("MFG"), "Tracking contact",
                        notify_email="tracking@ance.example")
        db.session.commit()
    instance = sw.start(world, "oper", "outbound", "SO-US-TRACK")
    sw.step(world, "oper", instance, "outbound.order", order(30))
    sw.step(world, "oper", instance, "outbound.pick", pick("T-EARLY"))
    sw.step(world, "insp1", instance, "outbound.check",
            {**CHECK_OK, "udi_scans": sw.label(sw.THERMO, "T-EARLY", sw.expiry_of("T-EARLY"))})
    sw.step(world, "insp2", instance, "review.dual", {"review_decision": "confirmed"})
    sw.step(world, "oper", instance, "outbound.ship",
            {**SHIP, "patient_data": "Patient 4711, Dr. Reyes"})
    assert sw.instance_status(world.app, instance) == "completed"

    [notice] = _notices(world.app)
    assert notice["event"] == "shipped" and notice["lot"] == "T-EARLY"
    assert notice["quantity"] == 30 and notice["serials"] == []
    assert notice["rule"] == "fda-821-patient-data-notify" and notice["step"] == "outbound.ship"
    assert notice["document"].startswith("DN-CHI-") and notice["patient_data"] is True
    with world.app.app_context():
        assert notice["party_id"] == md.get_party("CUS").id
    delivered(_count(notice["id"], 1))
    assert _deliveries(world.app, notice["id"]) == [("email", "sent", 1)]
    outbox = Path(world.app.instance_path) / "outbox" / f"{notice['reference']}.eml"
    body = email.message_from_bytes(outbox.read_bytes(), policy=email.policy.default
                                    ).get_content()  # type: ignore[attr-defined]
    assert "Provided to / 发往: CUS CUS 医院" in body and "Patient 4711, Dr. Reyes" in body
    sw.audit_ok(world.app)


# -- a webhook that fails, then is sent again (last: a real worker's retry of its failure is
#    scheduled a minute later, after this file's other tests) -------------------------------------


@US
def test_a_webhook_gets_a_signed_report_and_a_failure_is_sent_again(
        receiving_world: rc.World, sink: str, delivered: Any) -> None:
    w = receiving_world
    Sink.failures = 1
    _track(w.app, notify_webhook=sink)
    _receive_gel(w)
    [notice] = _notices(w.app)
    delivered(_count(notice["id"], 1))
    assert _deliveries(w.app, notice["id"]) == [("webhook", "failed", 1)]
    with w.app.app_context():
        [failure] = db.session.scalars(select(TrackingDelivery.detail).where(
            TrackingDelivery.notice_id == notice["id"])).all()
    assert failure == "HTTP 500"

    qm = w.client("qm")
    assert notice["reference"] in _page(qm, "/tracking/?status=failed")
    detail = _page(qm, f"/tracking/{notice['id']}")
    assert "Send again" in detail and "HTTP 500" in detail
    response = submit(qm, f"/tracking/{notice['id']}/send", {},
                      form_url=f"/tracking/{notice['id']}")
    assert response.status_code == 302
    delivered(_count(notice["id"], 2))
    assert _deliveries(w.app, notice["id"]) == [("webhook", "failed", 1),
                                                ("webhook", "sent", 2)]
    assert "Send again" not in _page(qm, f"/tracking/{notice['id']}")

    assert len(Sink.received) == 2
    headers, raw = Sink.received[-1]
    secret = w.app.config["SECRET_KEY"]
    assert headers["x-gxpflow-signature"] == "sha256=" + hmac.new(
        secret.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["idempotency-key"] == notice["reference"]
    report = json.loads(raw)
    assert report["event"] == "tracking.report" and report["lot"] == "G26"
    assert report["serials"] == SERIALS and report["party"]["code"] == "SUP"

    # A report that is sent is not sent again; the request is refused, nothing recorded.
    again = submit(qm, f"/tracking/{notice['id']}/send", {}, form_url=f"/tracking/{notice['id']}",
                   follow_redirects=True)
    assert "only a failed report" in again.get_data(as_text=True)
    qm.set_cookie("gxpflow_locale", "zh")  # the message the page flashes, in Chinese
    again = submit(qm, f"/tracking/{notice['id']}/send", {}, form_url=f"/tracking/{notice['id']}",
                   follow_redirects=True)
    assert "只有发送失败或无联系渠道的报告才能重新发送" in again.get_data(as_text=True)
    qm.set_cookie("gxpflow_locale", "en")
    with w.app.app_context():
        resent = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "tracking.send_again")).all()
        assert [(e.actor_name, e.entity_id) for e in resent] == [("Qm", str(notice["id"]))]
    assert len(_deliveries(w.app, notice["id"])) == 2
    _audit_ok(w.app)

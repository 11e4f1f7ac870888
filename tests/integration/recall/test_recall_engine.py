"""A recall holds every affected unit at every site at once, lists every customer with what they
got, tells each one through its channels (each attempt recorded), and closes with a signature."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from engine import audit
from engine.db import db, utcnow
from engine.errors import Conflict, InvalidInput, NotAuthenticated
from engine.identity.models import Notification
from engine.ledger import service as ledger
from engine.ledger.models import StockBalance
from engine.recall import jobs
from engine.recall import service as recalls
from engine.recall.models import Recall, RecallConsignee, RecallDelivery
from tests.integration.ledger.world import World, place
from tests.support.factories import PASSWORD


def _shipped_world(world: World) -> None:
    """Lot L1 at both sites, 5 shipped to the hospital and 3 to the clinic; lot L2 untouched."""
    lot = world.receive_available("L1", 20)
    world.receive_available("L1", 4, location=world.chicago_stock)
    world.receive_available("L2", 7)
    ledger.ship(world.operator, lot, 5, source=place(world.stock), customer=world.hospital,
                document="SO-1")
    ledger.ship(world.operator, lot, 3, source=place(world.stock), customer=world.clinic,
                document="SO-2")
    world.hospital.notify_email = "recalls@renkang.example"
    db.session.commit()


def test_start_holds_every_unit_everywhere_and_lists_customers(
        world: World, app: Flask, delivered: Any) -> None:
    _shipped_world(world)
    recall, created = recalls.start(world.qm, product=world.thermometer, lots=["L1"],
                                    level="一级", reason="Wrong calibration",
                                    source="Manufacturer notice MN-7")
    db.session.commit()
    assert created and recall.number.startswith("RC-") and recall.level == "I"
    assert recall.held_units == 12 + 4
    statuses = {(b.location_id, b.status): b.quantity for b in db.session.scalars(
        select(StockBalance).where(StockBalance.quantity > 0))}
    assert statuses[(world.stock.id, "recalled")] == 12
    assert statuses[(world.chicago_stock.id, "recalled")] == 4
    assert statuses[(world.stock.id, "available")] == 7  # lot L2 is not touched
    consignees = {row.party.code: row for row in recall.consignees}
    assert {code: row.quantity for code, row in consignees.items()} == {"CUS-1": 5, "CUS-2": 3}
    line = consignees["CUS-1"].line_list[0]  # built by SQL on PostgreSQL, by Python on SQLite
    shipped = datetime.fromisoformat(line.pop("shipped_at"))
    assert line == {"lot": "L1", "serial": "", "quantity": 5, "document": "SO-1"}
    assert shipped.utcoffset() == timedelta(0) and utcnow() - shipped < timedelta(minutes=5)
    # The hospital gets its e-mail (in the outbox: no SMTP server set); the clinic has no
    # channel, so a quality manager is told to call them.
    hospital, clinic = consignees["CUS-1"], consignees["CUS-2"]
    delivered(lambda: hospital.notified_at is not None and db.session.scalar(
        select(RecallDelivery.id).where(RecallDelivery.consignee_id == clinic.id)) is not None)
    outbox = list((Path(app.instance_path) / "outbox").glob(f"{recall.number}-*.eml"))
    assert len(outbox) == 1
    message = email.message_from_bytes(outbox[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "recalls@renkang.example"
    assert "lot L1 qty 5 (delivery notes / 随货同行单: SO-1)" in message.get_content()  # type: ignore[attr-defined]
    assert clinic.notified_at is None
    deliveries = db.session.scalars(select(RecallDelivery).where(
        RecallDelivery.consignee_id == clinic.id)).all()
    assert [d.status for d in deliveries] == ["no_channel"]
    assert db.session.scalar(select(Notification).where(
        Notification.user_id == world.qm.id, Notification.subject.contains("call")))
    assert audit.verify().ok


def test_a_customer_is_told_every_delivery_of_the_lot(world: World) -> None:
    _shipped_world(world)
    lot = ledger.get_lot(world.thermometer, "L1")
    for document in ("SO-7", "SO-3", "SO-7"):  # two more deliveries, one in two postings
        ledger.ship(world.operator, lot, 1, source=place(world.stock), customer=world.hospital,
                    document=document)
    db.session.commit()
    recall, _ = recalls.start(world.qm, product=world.thermometer, lots=["L1"], level="II",
                              reason="Wrong calibration", source="Manufacturer notice MN-8")
    db.session.commit()
    hospital = next(row for row in recall.consignees if row.party.code == "CUS-1")
    [line] = hospital.line_list
    assert (line["quantity"], line["document"]) == (8, "SO-1, SO-3, SO-7")


def test_held_stock_cannot_be_picked(world: World) -> None:
    _shipped_world(world)
    recalls.start(world.qm, product=world.thermometer, lots=["L1", "L2"], level="II",
                  reason="Sterility", source="Manufacturer")
    db.session.commit()
    with pytest.raises(InvalidInput):
        ledger.pick_fefo(world.operator, world.thermometer, 1, site=world.shanghai,
                         to=world.shipping, document="PK-1")


def test_same_idempotency_key_starts_one_recall(world: World) -> None:
    _shipped_world(world)
    first, created = recalls.start(world.qm, product=world.thermometer, lots=["L1"], level="I",
                                   reason="x" * 5, source="Mfr", idempotency_key="key-12345")
    db.session.commit()
    again, created_again = recalls.start(world.qm, product=world.thermometer, lots=["L1"],
                                         level="I", reason="x" * 5, source="Mfr",
                                         idempotency_key="key-12345")
    assert created and not created_again and again.id == first.id


def test_serial_recall_holds_only_that_serial(world: World) -> None:
    world.receive_available("S1", location=world.cold, product=world.implant,
                            serials=("SN-1", "SN-2", "SN-3"))
    db.session.commit()
    recall, _ = recalls.start(world.qm, product=world.implant, serials=["SN-2"], level="III",
                              reason="Label misprint", source="Manufacturer")
    db.session.commit()
    assert recall.held_units == 1
    held = db.session.scalars(select(StockBalance.serial).where(
        StockBalance.status == "recalled", StockBalance.quantity > 0)).all()
    assert held == ["SN-2"]


def test_bad_requests_name_the_field(world: World) -> None:
    with pytest.raises(InvalidInput) as unknown:
        recalls.start(world.qm, product=world.thermometer, lots=["NOPE"], level="I",
                      reason="why", source="Mfr")
    assert "lots" in unknown.value.fields
    with pytest.raises(InvalidInput) as level:
        recalls.start(world.qm, product=world.thermometer, lots=["L1"], level="IV",
                      reason="why", source="Mfr")
    assert "level" in level.value.fields
    with pytest.raises(InvalidInput) as blank:  # a blank lot is no lot: no empty recall opens
        recalls.start(world.qm, product=world.thermometer, lots=["  "], serials=[" "],
                      level="I", reason="why", source="Mfr")
    assert "lots" in blank.value.fields
    db.session.rollback()
    assert audit.verify().ok


def test_overdue_notice_escalates_once(world: World) -> None:
    _shipped_world(world)
    recall, _ = recalls.start(world.qm, product=world.thermometer, lots=["L1"], level="I",
                              reason="Wrong calibration", source="Mfr")
    db.session.commit()
    clinic = db.session.scalar(select(RecallConsignee).where(
        RecallConsignee.recall_id == recall.id, RecallConsignee.party_id == world.clinic.id))
    clinic.notify_due_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert jobs.escalate_overdue() == 1
    assert jobs.escalate_overdue() == 0
    assert db.session.scalar(select(Notification).where(
        Notification.user_id == world.qm.id, Notification.subject.contains("overdue")))


def test_close_needs_the_password_then_shows_the_signature(world: World, delivered: Any) -> None:
    _shipped_world(world)
    recall, _ = recalls.start(world.qm, product=world.thermometer, lots=["L1"], level="I",
                              reason="Wrong calibration", source="Mfr")
    db.session.commit()
    delivered(lambda: all(row.notified_at or row.party.code == "CUS-2"
                          for row in recall.consignees))
    for row in recall.consignees:
        if row.notified_at is None:
            recalls.acknowledge(world.qm, row, "Phoned the head nurse, notice faxed")
            assert row.notified_at == row.acknowledged_at
    db.session.commit()
    with pytest.raises(NotAuthenticated):
        recalls.close(world.qm, recall, password="wrong", note="All recovered",
                      first_in_session=True, username="qm")
    db.session.rollback()
    # Returns come back through receiving: the ledger's return movements count as recovered.
    lot = ledger.get_lot(world.thermometer, "L1")
    ledger.return_goods(world.clerk, lot, 5, target=place(world.returns, "quarantine"),
                        customer=world.hospital, document="RMA-1", reason="Recall")
    db.session.commit()
    recalls.close(world.qm, recall, password=PASSWORD, note="Recovered stock to be scrapped",
                  first_in_session=True, username="qm")
    db.session.commit()
    summary = recalls.report(recall)
    assert recall.status == "closed" and recall.close_signature_id
    assert (summary.customers, summary.recovered, summary.outstanding) == (2, 5, 3)
    whats = [moment.what for moment in summary.timeline]
    assert "Recall closed and signed" in whats
    assert "召回已关闭并签名" in [what.zh for what in whats]
    # Notices are summed up per channel and outcome; acknowledgements are listed one by one.
    notices = [what for what in whats if what.startswith("Notices by ")]
    assert notices and all(": 1 customer" in what or "customers" in what for what in notices)
    assert whats.count("Acknowledged by the customer") == 1
    at = [moment.at for moment in summary.timeline]
    assert at == sorted(at) and all(when.tzinfo is not None for when in at)
    with pytest.raises(Conflict):
        recalls.close(world.qm, recall, password=PASSWORD, note="again")
    assert json.loads(recall.verdicts) == []
    assert audit.verify().ok


def test_the_active_pack_sets_the_deadline_and_is_recorded(world: World) -> None:
    from engine.rules import store

    _shipped_world(world)
    nmpa = store.import_folder(audit.SYSTEM, "nmpa").version
    store.activate_for_demo(nmpa, world.shanghai)
    db.session.commit()
    recall, _ = recalls.start(world.qm, product=world.thermometer, lots=["L1"], level="一级",
                              reason="Wrong calibration", source="Manufacturer notice MN-7")
    db.session.commit()
    assert recall.deadline_hours == 24
    assert recall.notify_due_at == recall.started_at + timedelta(hours=24)
    rules = {(v["rule_id"], v["pack_id"], v["site"]) for v in recall.verdict_list}
    assert ("nmpa-order29-relay-level1", "nmpa", "SH") in rules
    assert ("nmpa-order29-recall-quarantine", "nmpa", "SH") in rules
    hospital = next(row for row in recall.consignees if row.party.code == "CUS-1")
    assert hospital.notify_due_at == recall.notify_due_at
    started = next(e for e in audit.history("recall", recall.id) if e.action == "recall.start")
    assert "nmpa-order29-relay-level1" in started.after and nmpa.version in started.after


def test_the_recall_runs_in_its_process(world: World, project_root: Path) -> None:
    from engine.workflow import store
    from engine.workflow.models import HumanTask, ProcessInstance
    from engine.workflow.runtime import current_runtime

    store.deploy(audit.SYSTEM, (project_root / "processes/bpmn/recall.bpmn").read_bytes(),
                 "recall.bpmn")
    _shipped_world(world)
    recall, _ = recalls.start(world.qm, product=world.thermometer, lots=["L1"], level="I",
                              reason="Wrong calibration", source="Manufacturer notice MN-7")
    db.session.commit()
    instance = db.session.get_one(ProcessInstance, recall.instance_id)
    assert instance.process_key == "recall" and instance.site_code == "SH"
    task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                     HumanTask.status == "open"))
    assert task is not None and task.role == "quality_manager" and task.step == "recall.notify"
    current_runtime().complete(world.qm, task.id, {"follow_up_note": "Clinic phoned"})
    db.session.commit()
    assert instance.status == "waiting"
    for row in recall.consignees:
        if row.notified_at is None:
            recalls.acknowledge(world.qm, row, "Phoned")
    recalls.close(world.qm, recall, password=PASSWORD, note="Recovered stock scrapped",
                  username="qm", first_in_session=True)
    db.session.commit()
    db.session.refresh(instance)
    assert instance.status == "completed"
    assert audit.verify().ok


def test_a_message_on_the_task_queue_starts_one_recall(world: World) -> None:
    _shipped_world(world)
    body = {"product": "THERMO", "lots": ["L1"], "level": "class II", "reason": "Cracked case",
            "source": "Manufacturer notice MN-8", "idempotency_key": "bus-000000042"}
    first = jobs.start_from_message.delay(body, "qm").get(timeout=60)
    again = jobs.start_from_message.delay(body, "qm").get(timeout=60)
    assert first["created"] and not again["created"] and first["number"] == again["number"]
    assert first["held_units"] == 16
    db.session.rollback()
    recall = db.session.scalar(select(Recall))
    assert recall is not None and recall.level == "II"


def test_a_message_reusing_a_key_with_another_body_is_refused(world: World) -> None:
    _shipped_world(world)
    body = {"product": "THERMO", "lots": ["L1"], "level": "class II", "reason": "Cracked case",
            "source": "Manufacturer notice MN-8", "idempotency_key": "bus-000000043"}
    first = jobs.start_from_message.delay(body, "qm").get(timeout=60)
    # Through a real worker the refusal comes back as its base class (InvalidInput), with
    # its message; in eager mode as KeyReused itself.
    with pytest.raises(InvalidInput, match=recalls.KEY_REUSED):
        jobs.start_from_message.delay(dict(body, lots=["L1", "L2"]), "qm").get(timeout=60)
    db.session.rollback()
    assert [r.number for r in db.session.scalars(select(Recall))] == [first["number"]]


def test_a_second_recall_of_a_lot_under_an_open_recall_is_refused(world: World) -> None:
    _shipped_world(world)
    first, _ = recalls.start(world.qm, product=world.thermometer, lots=["L1"], level="II",
                             reason="Cracked case", source="Manufacturer notice MN-8")
    db.session.commit()
    with pytest.raises(Conflict) as refused:
        recalls.start(world.qm, product=world.thermometer, lots=["L1"], level="I",
                      reason="Cracked case, upgraded", source="Manufacturer notice MN-8b")
    assert refused.value.status == 409 and first.number in refused.value.message
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Recall)) == 1

"""The runtime on a real database: versions, human tasks, signatures, four-eyes, timers,
messages, administration, and one winner when two people complete the same task."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from engine import audit
from engine.audit import AuditEvent
from engine.db import db, utcnow
from engine.errors import Conflict, InvalidInput, PermissionDenied
from engine.workflow import store
from engine.workflow.models import HumanTask, MessageWait, ProcessInstance, TimerDue
from engine.workflow.runtime import Runtime, SignatureRequired
from tests.integration.workflow.conftest import SAMPLES, START_DATA

SIGN = lambda *args: 1  # noqa: E731 - the edge's signer, already re-authenticated


def open_task(instance_id: int, step: str | None = None) -> HumanTask:
    query = select(HumanTask).where(HumanTask.instance_id == instance_id,
                                    HumanTask.status == "open")
    if step:
        query = query.where(HumanTask.step == step)
    task = db.session.scalar(query)
    assert task is not None, f"no open task {step or ''}"
    return task


def test_deploy_creates_versions_and_refuses_bad_files(deployed: dict[str, Any]) -> None:
    assert deployed["receiving_inspection"].version == 1
    same = store.deploy(audit.SYSTEM, (SAMPLES / "receiving.bpmn").read_bytes(), "receiving.bpmn")
    assert same.id == deployed["receiving_inspection"].id, "the same file is not a new version"
    changed = (SAMPLES / "receiving.bpmn").read_bytes().replace(b"Inspect goods", b"Inspect")
    v2 = store.deploy(audit.SYSTEM, changed, "receiving.bpmn")
    assert v2.version == 2 and v2.status == "active"
    assert db.session.get(type(v2), deployed["receiving_inspection"].id).status == "retired"
    with pytest.raises(InvalidInput) as refused:
        store.deploy(audit.SYSTEM, (SAMPLES / "camunda_modeler.bpmn").read_bytes(), "c.bpmn")
    assert "Task_approve" in refused.value.fields


def test_start_creates_a_human_task_for_the_lane_role(
    deployed: dict[str, Any], runtime: Runtime, make_user: Any
) -> None:
    clerk = make_user("clerk", "receiving_clerk")
    instance = runtime.start(clerk, "receiving_inspection", START_DATA, subject="PO-1")
    db.session.commit()
    assert instance.status == "running"
    task = open_task(instance.id)
    assert (task.step, task.role, task.subject) == ("receiving.inspect", "inspector", "PO-1")
    assert task.due_at is not None and task.due_at > utcnow() + timedelta(hours=47)
    assert db.session.get(TimerDue, instance.id) is not None


def test_complete_checks_role_signature_and_four_eyes(
    deployed: dict[str, Any], runtime: Runtime, make_user: Any
) -> None:
    clerk = make_user("clerk", "receiving_clerk")
    inspector = make_user("insp", "inspector", "quality_manager")
    qm = make_user("qm", "quality_manager")
    instance = runtime.start(clerk, "receiving_inspection", START_DATA, subject="PO-1")
    task = open_task(instance.id)
    with pytest.raises(PermissionDenied):
        runtime.complete(clerk, task.id, {"conclusion": "rejected", "accepted_qty": "3"})
    with pytest.raises(InvalidInput) as invalid:
        runtime.complete(inspector, task.id, {"conclusion": "maybe", "accepted_qty": "-1"})
    assert set(invalid.value.fields) == {"conclusion", "accepted_qty"}
    with pytest.raises(SignatureRequired):
        runtime.complete(inspector, task.id, {"conclusion": "rejected", "accepted_qty": "3"})
    runtime.complete(inspector, task.id, {"conclusion": "rejected", "accepted_qty": "3"},
                     signer=SIGN)
    db.session.commit()
    review = open_task(instance.id, "receiving.review_nonconformity")
    with pytest.raises(Exception, match="second person"):
        runtime.complete(inspector, review.id, {"disposition": "destroy"}, signer=SIGN)
    db.session.commit()  # the refusal is evidence
    blocked = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "task.blocked"))
    assert blocked is not None
    assert open_task(instance.id, "receiving.review_nonconformity").id == review.id
    runtime.complete(qm, review.id, {"disposition": "destroy"}, signer=SIGN)
    db.session.commit()
    assert db.session.get(ProcessInstance, instance.id).status == "completed"
    events = [h.event for h in runtime.history(instance.id)]
    assert events == ["started", "completed", "completed"]


def test_call_activity_message_and_completion(
    deployed: dict[str, Any], runtime: Runtime, make_user: Any
) -> None:
    clerk = make_user("clerk", "receiving_clerk")
    inspector = make_user("insp", "inspector")
    operator = make_user("op", "warehouse_operator")
    instance = runtime.start(clerk, "receiving_inspection", START_DATA, subject="PO-1")
    runtime.complete(inspector, open_task(instance.id).id,
                     {"conclusion": "accepted", "accepted_qty": "10"}, signer=SIGN)
    putaway = open_task(instance.id, "receiving.putaway")
    with pytest.raises(InvalidInput, match="location"):
        runtime.complete(operator, putaway.id, {"location": "nowhere"})
    runtime.complete(operator, putaway.id, {"location": "A-01-02", "serials": ""})
    db.session.commit()
    assert db.session.get(ProcessInstance, instance.id).status == "waiting"
    wait = db.session.scalar(select(MessageWait).where(MessageWait.instance_id == instance.id))
    assert (wait.message_name, wait.correlation) == ("supplier_confirmation", "PO-1")
    assert runtime.deliver_message(audit.SYSTEM, "supplier_confirmation", {"ok": True},
                                   correlation="PO-2") == []
    assert runtime.deliver_message(audit.SYSTEM, "supplier_confirmation", {"ok": True},
                                   correlation="PO-1") == [instance.id]
    db.session.commit()
    assert db.session.get(ProcessInstance, instance.id).status == "completed"


def test_an_instance_stays_on_its_version(
    deployed: dict[str, Any], runtime: Runtime, make_user: Any
) -> None:
    clerk = make_user("clerk", "receiving_clerk")
    inspector = make_user("insp", "inspector")
    old = runtime.start(clerk, "receiving_inspection", START_DATA)
    changed = (SAMPLES / "receiving.bpmn").read_bytes().replace(
        b'value="receiving.inspect"', b'value="receiving.inspect_v2"')
    store.deploy(audit.SYSTEM, changed, "receiving.bpmn")
    new = runtime.start(clerk, "receiving_inspection", START_DATA)
    db.session.commit()
    assert open_task(old.id).step == "receiving.inspect"
    assert open_task(new.id).step == "receiving.inspect_v2"
    runtime.complete(inspector, open_task(old.id).id,
                     {"conclusion": "accepted", "accepted_qty": "10"}, signer=SIGN)


def test_a_due_timer_fires_from_the_due_table(
    deployed: dict[str, Any], runtime: Runtime, make_user: Any
) -> None:
    clerk = make_user("clerk", "receiving_clerk")
    instance = runtime.start(clerk, "receiving_inspection",
                             START_DATA | {"inspection_window": "PT1S"})
    db.session.commit()
    assert runtime.fire_due_timers() == 0, "not due yet"
    time.sleep(1.2)  # SpiffWorkflow compares timers with the real clock
    assert runtime.fire_due_timers() == 1
    db.session.commit()
    assert open_task(instance.id).step == "receiving.escalate"
    assert "timer" in [h.event for h in runtime.history(instance.id)]


def test_suspend_resume_terminate_are_audited_with_a_reason(
    deployed: dict[str, Any], runtime: Runtime, make_user: Any
) -> None:
    clerk = make_user("clerk", "receiving_clerk")
    admin = make_user("admin", "administrator")
    inspector = make_user("insp", "inspector")
    instance = runtime.start(clerk, "receiving_inspection", START_DATA)
    with pytest.raises(InvalidInput):
        runtime.suspend(admin, instance.id, "")
    runtime.suspend(admin, instance.id, "supplier dispute")
    with pytest.raises(Conflict):
        runtime.complete(inspector, open_task(instance.id).id,
                         {"conclusion": "accepted", "accepted_qty": "10"}, signer=SIGN)
    runtime.resume(admin, instance.id, "resolved")
    runtime.terminate(admin, instance.id, "wrong PO")
    db.session.commit()
    assert db.session.get(ProcessInstance, instance.id).status == "terminated"
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "process_instance")).all()
    assert actions == ["instance.start", "instance.suspended", "instance.running",
                       "instance.terminated"]


@pytest.mark.production
def test_two_people_completing_one_task_at_once_one_wins(
    app: Flask, deployed: dict[str, Any], runtime: Runtime, make_user: Any
) -> None:
    clerk = make_user("clerk", "receiving_clerk")
    make_user("insp1", "inspector")
    make_user("insp2", "inspector")
    instance = runtime.start(clerk, "receiving_inspection", START_DATA)
    db.session.commit()
    task_id = open_task(instance.id).id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(username: str) -> None:
        from engine.identity import service as identity

        with app.app_context():
            user = identity.find_user(username)
            barrier.wait()
            try:
                app.extensions["gxpflow.runtime"].complete(
                    user, task_id, {"conclusion": "accepted", "accepted_qty": "10"}, signer=SIGN)
                db.session.commit()
                outcomes.append("ok")
            except Conflict:
                db.session.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in ("insp1", "insp2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "ok"]

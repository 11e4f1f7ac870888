"""The runtime writes only what changed, yet an instance's human-task, timer and message rows
always equal what its saved workflow says (as a full re-read would make them)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import event, select

from engine import audit
from engine.db import db
from engine.errors import Conflict, InvalidInput
from engine.workflow import writes
from engine.workflow.models import HumanTask, MessageWait, ProcessInstance, TimerDue
from engine.workflow.runtime import (
    GateOutcome,
    NoEffects,
    Runtime,
    StepContext,
    _user_tasks,
    _waits,
)
from tests.integration.workflow.conftest import START_DATA

SIGN = lambda *args: 1  # noqa: E731 - the edge's signer, already re-authenticated


def assert_rows_follow(runtime: Runtime, instance_id: int) -> None:
    db.session.commit()
    instance = db.session.get(ProcessInstance, instance_id)
    assert instance is not None
    workflow = runtime.load(instance)
    ready = _user_tasks(workflow.get_tasks(state=TaskState.READY, manual=True))
    open_rows = set(db.session.scalars(select(HumanTask.task_guid).where(
        HumanTask.instance_id == instance_id, HumanTask.status == "open")))
    if instance.status == "terminated":
        assert open_rows == set()
    else:
        assert open_rows == set(ready)
    due, messages = _waits(instance.status, workflow)
    timer = db.session.get(TimerDue, instance_id)
    assert (timer.due_at if timer else None) == due
    rows = db.session.execute(select(MessageWait.message_name, MessageWait.correlation)
                              .where(MessageWait.instance_id == instance_id)).all()
    assert sorted(map(tuple, rows)) == sorted(messages)


def open_task(instance_id: int, step: str) -> int:
    found = db.session.scalar(select(HumanTask.id).where(
        HumanTask.instance_id == instance_id, HumanTask.status == "open",
        HumanTask.step == step))
    assert found is not None, f"no open task {step}"
    return found


def test_rows_follow_the_workflow_through_tasks_messages_and_timers(
    deployed: dict[str, Any], make_user: Any
) -> None:
    runtime = Runtime()  # no gate or effects: this is about the runtime's own rows
    clerk = make_user("clerk", "receiving_clerk")
    inspector = make_user("insp", "inspector")
    operator = make_user("op", "warehouse_operator")
    manager = make_user("boss", "administrator")

    instance = runtime.start(clerk, "receiving_inspection", START_DATA, subject="PO-1")
    assert_rows_follow(runtime, instance.id)
    runtime.complete(inspector, open_task(instance.id, "receiving.inspect"),
                     {"conclusion": "accepted", "accepted_qty": "10"}, signer=SIGN)
    assert_rows_follow(runtime, instance.id)
    runtime.complete(operator, open_task(instance.id, "receiving.putaway"),
                     {"location": "A-01-02", "serials": ""})
    assert_rows_follow(runtime, instance.id)
    assert db.session.scalar(select(MessageWait.message_name)) == "supplier_confirmation"
    assert runtime.deliver_message(audit.SYSTEM, "supplier_confirmation", {"ok": True},
                                   correlation="PO-1") == [instance.id]
    assert_rows_follow(runtime, instance.id)
    assert db.session.get(ProcessInstance, instance.id).status == "completed"

    timed = runtime.start(clerk, "receiving_inspection",
                          START_DATA | {"inspection_window": "PT1S"})
    assert_rows_follow(runtime, timed.id)
    assert db.session.get(TimerDue, timed.id) is not None
    runtime.suspend(manager, timed.id, "supplier on hold")
    assert_rows_follow(runtime, timed.id)
    runtime.resume(manager, timed.id, "supplier back")
    assert_rows_follow(runtime, timed.id)
    time.sleep(1.2)  # SpiffWorkflow compares timers with the real clock
    assert runtime.fire_due_timers() == 1
    assert_rows_follow(runtime, timed.id)
    escalation = open_task(timed.id, "receiving.escalate")
    cancelled = db.session.scalar(select(HumanTask.status).where(
        HumanTask.instance_id == timed.id, HumanTask.step == "receiving.inspect"))
    assert cancelled == "cancelled", "the boundary timer cancelled the inspection"
    assert escalation
    runtime.terminate(manager, timed.id, "duplicate delivery")
    assert_rows_follow(runtime, timed.id)


def test_completing_a_task_reads_nothing_it_already_knows(
    deployed: dict[str, Any], make_user: Any
) -> None:
    runtime = Runtime()
    clerk = make_user("clerk", "receiving_clerk")
    inspector = make_user("insp", "inspector")
    instance = runtime.start(clerk, "receiving_inspection", START_DATA, subject="PO-1")
    db.session.commit()
    task_id = open_task(instance.id, "receiving.inspect")
    db.session.commit()
    inspector = db.session.get(type(inspector), inspector.id)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        runtime.complete(inspector, task_id, {"conclusion": "accepted", "accepted_qty": "10"},
                         signer=SIGN)
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    reads = [s for s in statements if s.startswith("SELECT")]
    # The instance and the task row (one statement, the instance locked), the actor's
    # effective roles (grants with their training, one statement): human-task rows are not
    # read back, the instance is written once.
    assert len(reads) == 2, reads
    assert not any("WHERE human_task.instance_id" in " ".join(s.split()) for s in reads), reads
    assert sum("training_record" in s for s in reads) == 1
    assert sum("UPDATE process_instance" in s for s in statements) == 1
    assert open_task(instance.id, "receiving.putaway")
    assert_rows_follow(runtime, instance.id)


def test_one_permission_check_per_transaction_reads_training_once(
    ctx: Flask, make_user: Any
) -> None:
    from datetime import date, timedelta

    from engine.identity import service as identity
    from engine.identity.models import Training

    user = make_user("insp", "inspector")
    assert identity.effective_roles(user) == {"inspector"}
    record = db.session.scalar(select(Training).where(Training.user_id == user.id))
    record.expires_on = date.today() - timedelta(days=1)
    assert identity.effective_roles(user) == set(), "an unflushed change is seen"
    db.session.rollback()
    assert identity.effective_roles(user) == {"inspector"}, "a rollback forgets it"
    db.session.commit()
    identity.record_training(audit.SYSTEM, user, "auditor", date.today(), None, "course")
    identity.grant_role(audit.SYSTEM, user, "auditor")
    assert identity.effective_roles(user) == {"inspector", "auditor"}
    db.session.commit()
    savepoint = db.session.begin_nested()
    db.session.add(Training(user_id=user.id, role="receiving_clerk", trained_on=date.today(),
                            evidence="x"))
    identity.grant_role(audit.SYSTEM, user, "receiving_clerk")
    db.session.flush()
    assert "receiving_clerk" in identity.effective_roles(user)
    savepoint.rollback()
    assert "receiving_clerk" not in identity.effective_roles(user)


def test_queued_writes_outlive_a_savepoint_but_not_a_failed_attempt(
    deployed: dict[str, Any], make_user: Any
) -> None:
    """What an advance queues survives a savepoint released before its save (an effect may
    use one), and what a failed attempt left is dropped when the instance is locked again."""
    runtime = Runtime()
    clerk = make_user("clerk", "receiving_clerk")
    instance = runtime.start(clerk, "receiving_inspection", START_DATA, subject="PO-Q")
    db.session.commit()
    session = db.session()
    writes.pending(session, instance.id).history.append({"event": "left by a failure"})
    with db.session.begin_nested():
        db.session.flush()
    assert writes.pending(session, instance.id).history == [{"event": "left by a failure"}]
    runtime.lock(instance.id)  # the next attempt starts clean
    assert writes.pending(session, instance.id).history == []
    writes.pending(session, instance.id).history.append({"event": "left by a failure"})
    db.session.rollback()
    assert instance.id not in session.info.get("gxpflow.workflow.pending_writes", {})


class AdvancesItsOwnInstance(NoEffects):
    """A step effect that suspends the instance whose step it is part of."""

    def __init__(self, runtime: Runtime, manager: Any) -> None:
        self.runtime = runtime
        self.manager = manager

    def apply(self, context: StepContext, outcome: GateOutcome) -> dict[str, Any]:
        self.runtime.suspend(self.manager, context.instance.id, "from inside its own step")
        return {}


def test_a_step_cannot_advance_its_own_instance_again(
    deployed: dict[str, Any], make_user: Any
) -> None:
    """A nested lock of an instance during its own advance is refused: it would save over the
    outer advance's workflow and drop what it queued (a lost update)."""
    runtime = Runtime()
    clerk = make_user("clerk", "receiving_clerk")
    inspector = make_user("insp", "inspector")
    manager = make_user("boss", "administrator")
    instance = runtime.start(clerk, "receiving_inspection", START_DATA, subject="PO-R")
    db.session.commit()
    revision = instance.revision
    task_id = open_task(instance.id, "receiving.inspect")

    runtime.effects = AdvancesItsOwnInstance(runtime, manager)
    with pytest.raises(Conflict, match="already being advanced"):
        runtime.complete(inspector, task_id, {"conclusion": "accepted", "accepted_qty": "10"},
                         signer=SIGN)
    db.session.rollback()
    saved = db.session.get(ProcessInstance, instance.id)
    assert saved is not None
    assert (saved.status, saved.revision) == ("running", revision)
    assert open_task(instance.id, "receiving.inspect") == task_id

    runtime.effects = NoEffects()  # the same session goes on: nothing stays marked
    runtime.complete(inspector, task_id, {"conclusion": "accepted", "accepted_qty": "10"},
                     signer=SIGN)
    runtime.suspend(manager, instance.id, "after the step, not inside it")
    assert_rows_follow(runtime, instance.id)
    assert db.session.get(ProcessInstance, instance.id).status == "suspended"


def test_an_instance_starts_only_at_a_known_active_site(
    deployed: dict[str, Any], make_user: Any
) -> None:
    """The site decides which rule packs gate the instance: a typo must not run it ungated."""
    from engine.masterdata import service as md

    runtime = Runtime()
    clerk = make_user("clerk", "receiving_clerk")
    for code in ("Shanghai", "OLD"):
        if code == "OLD":
            md.set_active(audit.SYSTEM, md.create_site(audit.SYSTEM, "OLD", "Closed", "CN",
                                                       "Asia/Shanghai"), False, "closed")
        with pytest.raises(InvalidInput) as refused:
            runtime.start(clerk, "receiving_inspection", START_DATA, site_code=code)
        assert code in refused.value.fields["site"]
    assert db.session.scalar(select(ProcessInstance.id)) is None, "nothing half-written"
    md.create_site(audit.SYSTEM, "SH", "Shanghai", "CN", "Asia/Shanghai")
    started = runtime.start(clerk, "receiving_inspection", START_DATA, site_code="SH")
    assert started.site_code == "SH"

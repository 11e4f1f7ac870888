"""Timers and messages reach instances through the real broker and a real worker process."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from engine.db import db
from engine.workflow import jobs
from engine.workflow.models import HumanTask, ProcessInstance
from engine.workflow.runtime import Runtime
from tests.integration.workflow.conftest import START_DATA
from tests.support.backends import WorkerProcess

pytestmark = pytest.mark.production


def open_steps(instance_id: int) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(HumanTask.step).where(
        HumanTask.instance_id == instance_id, HumanTask.status == "open")))


def test_a_timer_fires_in_the_worker(
    deployed: dict[str, Any], runtime: Runtime, make_user: Any, worker: WorkerProcess
) -> None:
    clerk = make_user("clerk", "receiving_clerk")
    instance = runtime.start(clerk, "receiving_inspection",
                             START_DATA | {"inspection_window": "PT1S"})
    db.session.commit()
    time.sleep(1.2)
    assert jobs.fire_timers.delay().get(timeout=60) == 1
    assert open_steps(instance.id) == ["receiving.escalate"]


def test_a_message_reaches_a_waiting_instance_in_the_worker(
    ctx: Flask, deployed: dict[str, Any], runtime: Runtime, make_user: Any,
    worker: WorkerProcess,
) -> None:
    clerk = make_user("clerk", "receiving_clerk")
    inspector = make_user("insp", "inspector")
    operator = make_user("op", "warehouse_operator")
    instance = runtime.start(clerk, "receiving_inspection", START_DATA | {"correlation": "PO-9"})
    task = db.session.scalar(select(HumanTask).where(HumanTask.status == "open"))
    runtime.complete(inspector, task.id, {"conclusion": "accepted", "accepted_qty": "10"},
                     signer=lambda *a: 1)
    task = db.session.scalar(select(HumanTask).where(HumanTask.status == "open"))
    runtime.complete(operator, task.id, {"location": "A-01-01"})
    db.session.commit()
    reached = jobs.deliver_message.delay("supplier_confirmation", {"ok": True}, "PO-9")
    assert reached.get(timeout=60) == [instance.id]
    db.session.expire_all()
    assert db.session.get(ProcessInstance, instance.id).status == "completed"

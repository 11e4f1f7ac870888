"""The shipped dual-review call activity refuses the person who did the reviewed step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from engine import audit
from engine.db import db
from engine.errors import Conflict, InvalidInput
from engine.workflow import store
from engine.workflow.models import HumanTask, ProcessInstance
from engine.workflow.runtime import GateBlocked, current_runtime

ROOT = Path(__file__).resolve().parents[3]


def test_second_person_review_in_a_call_activity(ctx: Flask, make_user: Any) -> None:
    store.deploy(audit.SYSTEM, (ROOT / "processes/bpmn/dual_review.bpmn").read_bytes(),
                 "dual_review.bpmn")
    store.deploy(audit.SYSTEM,
                 (Path(__file__).parent / "bpmn/four_eyes_parent.bpmn").read_bytes(),
                 "four_eyes_parent.bpmn")
    first = make_user("first", "inspector")
    second = make_user("second", "inspector")
    runtime = current_runtime()
    instance = runtime.start(first, "four_eyes_parent", {})
    work = db.session.scalar(select(HumanTask).where(HumanTask.status == "open"))
    runtime.complete(first, work.id, {"result": "done"})
    db.session.commit()
    review = db.session.scalar(select(HumanTask).where(HumanTask.status == "open"))
    assert (review.step, review.role) == ("review.dual", "inspector")
    assert runtime.four_eyes(review) == ("test.work", first.id)
    with pytest.raises(Conflict, match="second person must do this task"):
        runtime.claim(first, review.id)
    lead = make_user("lead", "inspector", "administrator")
    with pytest.raises(InvalidInput, match=r"performed test\.work"):
        runtime.assign(lead, review.id, first, "short of staff")
    db.session.rollback()
    assert db.session.get(HumanTask, review.id).assignee_id is None
    with pytest.raises(GateBlocked, match="second person"):
        runtime.complete(first, review.id, {"review_decision": "confirmed"}, signer=lambda *a: 1)
    db.session.rollback()
    runtime.complete(second, review.id, {"review_decision": "confirmed"}, signer=lambda *a: 1)
    db.session.commit()
    assert db.session.get(ProcessInstance, instance.id).status == "completed"

"""RulesGate in the workflow runtime: the packs active at the instance's site decide at task
completion; blocks refuse it, other verdicts are recorded; every process sees a new activation
at its next evaluation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from engine.audit import AuditEvent
from engine.db import db
from engine.errors import InvalidInput
from engine.rules import store
from engine.rules.workflow_gate import RulesGate
from engine.workflow import store as processes
from engine.workflow.models import HumanTask, ProcessInstance
from engine.workflow.runtime import GateBlocked, Runtime, current_runtime
from tests.integration.rules.conftest import BPMN, CLI, make_sites
from tests.support import backends
from tests.support.factories import PASSWORD

COLD_CHAIN = {"is_return": False, "cold_chain": True, "inspection_record_missing_fields": [],
              "temp_min_c": 2, "temp_max_c": 8, "in_transit_record_present": True,
              "in_transit_min_c": 3, "in_transit_max_c": 6, "lot": "L1"}


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.seq)))


def deploy() -> None:
    processes.deploy(CLI, (BPMN / "gated_inspection.bpmn").read_bytes(),
                     "gated_inspection.bpmn")
    db.session.commit()


def start(runtime: Runtime, user: Any, site: str | None = "SH", **data: Any
          ) -> tuple[ProcessInstance, HumanTask]:
    instance = runtime.start(user, "gated_inspection", {**COLD_CHAIN, **data},
                             subject="GR-1", site_code=site)
    db.session.commit()
    task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                     HumanTask.status == "open"))
    assert task is not None
    return instance, task


@pytest.fixture
def world(ctx: Flask, make_user: Any, officer: Any) -> dict[str, Any]:
    make_sites()
    store.import_shipped(CLI)
    deploy()
    return {"inspector": make_user("wang", "inspector"), "officer": officer,
            "runtime": current_runtime()}


def activate_nmpa(officer: Any) -> None:
    store.activate(officer, store.find_version("nmpa", "2024.7.2"), "SH", password=PASSWORD,
                   username="sarah", reason="go live")
    db.session.commit()


def test_the_app_runtime_gates_with_rule_packs(app: Flask) -> None:
    assert isinstance(app.extensions["gxpflow.runtime"].gate, RulesGate)


def test_no_active_pack_passes(world: dict[str, Any]) -> None:
    runtime, inspector = world["runtime"], world["inspector"]
    instance, task = start(runtime, inspector)
    runtime.complete(inspector, task.id, {"inspection_passed": "true",
                                          "arrival_temperature_c": "12.5"})
    db.session.commit()
    assert instance.status == "completed"
    assert events("rules.decision") == [] and events("rules.blocked") == []


def test_block_refuses_completion_and_is_audited(world: dict[str, Any]) -> None:
    runtime, inspector = world["runtime"], world["inspector"]
    activate_nmpa(world["officer"])
    instance, task = start(runtime, inspector)
    with pytest.raises(GateBlocked) as blocked:
        runtime.complete(inspector, task.id, {"inspection_passed": "true",
                                              "arrival_temperature_c": "12.5"})
    db.session.commit()  # what the web layer does: keep the audit events, nothing else
    outcome = blocked.value.outcome
    assert {m["rule"] for m in outcome.messages} == {"nmpa-gsp67-temp-block"}
    assert all(m["zh"] and m["en"] for m in outcome.messages)
    assert "too" in blocked.value.message or "temperature" in blocked.value.message
    assert {v["rule_id"] for v in outcome.verdicts} >= {"nmpa-gsp67-temp-block",
                                                         "nmpa-gsp67-temp-quarantine"}
    db.session.refresh(task)
    assert task.status == "open"
    [event] = events("rules.blocked")
    after = json.loads(event.after)
    assert (event.entity_type, event.entity_id) == ("process_instance", str(instance.id))
    assert after["outcome"] == "block" and after["step"] == "receiving.inspect"
    assert after["pack_versions"][0]["id"] == "nmpa"
    assert after["pack_versions"][0]["version"] == "2024.7.2"
    assert {(v["rule_id"], v["pack_id"], v["pack_version"]) for v in after["verdicts"]} >= {
        ("nmpa-gsp67-temp-block", "nmpa", "2024.7.2")}
    assert after["fact"]["arrival_temperature_c"] == 12.5
    assert len(events("task.blocked")) == 1

    # In range: completes; the dual-review verdict is recorded, not a refusal.
    runtime.complete(inspector, task.id, {"inspection_passed": "true",
                                          "arrival_temperature_c": "5"})
    db.session.commit()
    assert db.session.get(ProcessInstance, instance.id).status == "completed"
    [decision] = events("rules.decision")
    after = json.loads(decision.after)
    assert after["outcome"] == "require_second_person"
    assert [v["rule_id"] for v in after["verdicts"]] == ["nmpa-dual-review-inspect"]


def test_gate_data_reaches_the_task(world: dict[str, Any]) -> None:
    runtime, inspector = world["runtime"], world["inspector"]
    activate_nmpa(world["officer"])
    instance, task = start(runtime, inspector)
    runtime.complete(inspector, task.id, {"inspection_passed": "true",
                                          "arrival_temperature_c": "4"})
    db.session.commit()
    workflow = runtime.load(db.session.get(ProcessInstance, instance.id))
    compliance = workflow.data["compliance"]
    assert compliance["outcome"] == "require_second_person"
    assert compliance["review_required"] == ["receiving.inspect"]
    assert compliance["packs"] == ["nmpa 2024.7.2"]


def test_a_badly_typed_fact_is_invalid_input_naming_the_field(world: dict[str, Any]) -> None:
    runtime, inspector = world["runtime"], world["inspector"]
    activate_nmpa(world["officer"])
    _, task = start(runtime, inspector)
    with pytest.raises(InvalidInput) as refused:
        runtime.complete(inspector, task.id, {"inspection_passed": "true",
                                              "arrival_temperature_c": "5",
                                              "days_to_expiry": "soon"})
    assert refused.value.status == 422
    assert "days_to_expiry" in refused.value.fields
    assert "days_to_expiry" in refused.value.message
    assert "receiving.inspect" in refused.value.message


def test_another_site_or_no_site_is_not_gated_by_nmpa(world: dict[str, Any]) -> None:
    runtime, inspector = world["runtime"], world["inspector"]
    activate_nmpa(world["officer"])
    for site in ("CHI", None):
        instance, task = start(runtime, inspector, site=site)
        runtime.complete(inspector, task.id, {"inspection_passed": "true",
                                              "arrival_temperature_c": "30"})
        db.session.commit()
        assert instance.status == "completed"


@pytest.fixture
def second_app(stack: backends.Stack, app: Flask) -> Iterator[Flask]:
    """Another app on the same database: what a second web or worker process is."""
    other = backends.make_app(stack)
    yield other
    with other.app_context():
        backends.discard_session()
        other.extensions["sqlalchemy"].engine.dispose()


def test_activation_in_one_process_reaches_another(world: dict[str, Any],
                                                   second_app: Flask) -> None:
    inspector_id = world["inspector"].id
    first, _ = start(world["runtime"], world["inspector"])
    second, _ = start(world["runtime"], world["inspector"])
    ids = (first.id, second.id)

    def complete_in_other_process(instance_id: int) -> str:
        with second_app.app_context():
            from engine.identity.models import User

            runtime = second_app.extensions["gxpflow.runtime"]
            user = db.session.get(User, inspector_id)
            task = db.session.scalar(select(HumanTask).where(
                HumanTask.instance_id == instance_id, HumanTask.status == "open"))
            try:
                runtime.complete(user, task.id, {"inspection_passed": "true",
                                                 "arrival_temperature_c": "12"})
            except GateBlocked:
                db.session.commit()
                return "blocked"
            finally:
                backends.discard_session()
            return "completed"

    other_gate = second_app.extensions["gxpflow.runtime"].gate
    assert complete_in_other_process(ids[0]) == "completed"  # the other process: no pack yet
    reloads = other_gate.active.reloads
    activate_nmpa(world["officer"])  # here; only the generation counter tells the other one
    assert complete_in_other_process(ids[1]) == "blocked"
    assert other_gate.active.reloads == reloads + 1

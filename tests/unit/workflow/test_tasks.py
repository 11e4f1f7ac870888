"""Starting a workflow with data, finding and completing human tasks, delivering messages."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.errors import Conflict, NotFound
from engine.workflow.definitions import load_spec
from engine.workflow.forms import FormInvalid
from engine.workflow.scripting import RestrictedScriptEngine
from engine.workflow.tasks import (
    complete_user_task,
    element_states,
    new_workflow,
    ready_user_tasks,
    seed_start_data,
    send_message,
    taken_flows,
)
from tests.unit.workflow.conftest import bpmn_file

START = {"lines": [{"product": "P-1", "qty": 2, "unit_price": "1.00"}],
         "expiry_date": "2027-01-01", "received_on": "2026-01-01", "inspection_window": "PT48H"}


def started(**data: Any) -> BpmnWorkflow:
    spec, subprocesses = load_spec(bpmn_file("receiving.bpmn"), "receiving_inspection",
                                   {"putaway.bpmn": bpmn_file("putaway.bpmn")})
    workflow = new_workflow(spec, subprocesses, {**START, **data})
    workflow.do_engine_steps()
    return workflow


def test_seeded_data_is_what_the_first_script_sees() -> None:
    workflow = started()
    (inspect,) = ready_user_tasks(workflow)
    assert inspect.task.data["expected_qty"] == 2
    assert workflow.data == {}, "workflow.data only fills when the workflow ends"


def test_data_cannot_be_seeded_once_the_workflow_has_moved_on() -> None:
    with pytest.raises(Conflict, match="already started"):
        seed_start_data(started(), {"late": 1})


@pytest.mark.parametrize("data", [{"_hidden": 1}, {"not a name": 1}, {"when": object()}])
def test_unusable_initial_data_is_refused(data: dict[str, Any]) -> None:
    spec, subprocesses = load_spec(bpmn_file("putaway.bpmn"), "putaway")
    workflow = new_workflow(spec, subprocesses, script_engine=RestrictedScriptEngine())
    with pytest.raises(ValueError, match="Initial data"):
        seed_start_data(workflow, data)


def test_ready_user_tasks_carry_their_step_role_and_form() -> None:
    (inspect,) = ready_user_tasks(started())
    assert inspect.element_id == "Task_inspect"
    assert inspect.name == "Inspect goods"
    assert inspect.meta.step == "receiving.inspect"
    assert inspect.meta.role == "inspector"
    assert inspect.meta.due_hours == 48
    assert inspect.meta.signature_meaning == "performed"
    assert inspect.meta.form is not None
    assert inspect.meta.form.names == ("conclusion", "accepted_qty", "remarks")


def test_tasks_of_a_called_process_are_listed_with_their_own_lane() -> None:
    workflow = started()
    (inspect,) = ready_user_tasks(workflow)
    complete_user_task(workflow, inspect.id, {"conclusion": "accepted", "accepted_qty": "2"})
    workflow.do_engine_steps()
    (putaway,) = ready_user_tasks(workflow)
    assert (putaway.meta.step, putaway.meta.role) == ("receiving.putaway", "warehouse_operator")
    assert ready_user_tasks(workflow, lane="warehouse_operator") == [putaway]
    assert ready_user_tasks(workflow, lane="Inspector (inspector)") == []


def test_completing_a_task_stores_coerced_values() -> None:
    workflow = started()
    (inspect,) = ready_user_tasks(workflow)
    values = complete_user_task(workflow, inspect.id,
                                {"conclusion": "rejected", "accepted_qty": "0"})
    assert values == {"conclusion": "rejected", "accepted_qty": 0, "remarks": None}
    assert inspect.task.state == TaskState.COMPLETED
    assert inspect.task.data["accepted_qty"] == 0


def test_a_refused_form_leaves_the_task_waiting_and_unchanged() -> None:
    workflow = started()
    (inspect,) = ready_user_tasks(workflow)
    before = dict(inspect.task.data)
    with pytest.raises(FormInvalid) as caught:
        complete_user_task(workflow, inspect.id, {"conclusion": "fine", "accepted_qty": "-2"})
    assert set(caught.value.errors) == {"conclusion", "accepted_qty"}
    assert inspect.task.state == TaskState.READY
    assert inspect.task.data == before


def test_posted_lists_replace_what_was_there() -> None:
    workflow = started(serials=["OLD-1", "OLD-2"])
    (inspect,) = ready_user_tasks(workflow)
    complete_user_task(workflow, inspect.id, {"conclusion": "accepted", "accepted_qty": "2"})
    workflow.do_engine_steps()
    (putaway,) = ready_user_tasks(workflow)
    complete_user_task(workflow, putaway.id, {"location": "A-01-01", "serials": "NEW-1"})
    assert putaway.task.data["serials"] == ["NEW-1"]


def test_unknown_and_finished_tasks_are_refused() -> None:
    workflow = started()
    with pytest.raises(NotFound):
        complete_user_task(workflow, uuid.uuid4(), {})
    (inspect,) = ready_user_tasks(workflow)
    complete_user_task(workflow, inspect.id, {"conclusion": "rejected", "accepted_qty": "0"})
    with pytest.raises(Conflict, match="not READY"):
        complete_user_task(workflow, inspect.id, {"conclusion": "rejected", "accepted_qty": "0"})
    engine_task = workflow.get_tasks(spec_name="Script_totals")[0]
    with pytest.raises(Conflict, match="not a human task"):
        complete_user_task(workflow, engine_task.id, {})


def test_a_message_reaches_a_waiting_catch_event() -> None:
    workflow = started()
    (inspect,) = ready_user_tasks(workflow)
    with pytest.raises(WorkflowException, match="not waiting for supplier_confirmation"):
        send_message(workflow, "supplier_confirmation", {"ok": True})
    complete_user_task(workflow, inspect.id, {"conclusion": "accepted", "accepted_qty": "2"})
    workflow.do_engine_steps()
    (putaway,) = ready_user_tasks(workflow)
    complete_user_task(workflow, putaway.id, {"location": "A-01-01"})
    workflow.do_engine_steps()
    assert [event.name for event in workflow.waiting_events()] == ["supplier_confirmation"]
    send_message(workflow, "supplier_confirmation", {"confirmed_by": "ACME"})
    workflow.do_engine_steps()
    assert workflow.completed
    assert workflow.data["confirmation"] == {"confirmed_by": "ACME"}


def test_only_the_flows_really_taken_are_marked_on_the_diagram() -> None:
    """Receiving with a dual review: the gateway, the review and the putaway were all visited,
    yet the gateway's direct flow to the putaway was not taken."""
    shipped = Path(__file__).resolve().parents[3] / "processes/bpmn"
    spec, called = load_spec((shipped / "receiving.bpmn").read_bytes(), "receiving",
                             {"dual_review.bpmn": (shipped / "dual_review.bpmn").read_bytes()})
    workflow = new_workflow(spec, called, {})
    workflow.do_engine_steps()
    for data in ({}, {"dual_review_needed": True, "inspection_round": 1},
                 {"review_decision": "confirmed"}):
        (ready,) = ready_user_tasks(workflow)
        ready.task.data.update(data)
        ready.task.run()
        workflow.do_engine_steps()
    states = element_states(workflow)
    assert states["Gateway_review"] == "done" and states["Task_putaway"] == "active"
    taken = taken_flows(workflow)
    assert ("Gateway_review", "Call_dual_review") in taken
    assert ("Gateway_review_result", "Task_putaway") in taken
    assert ("Gateway_review", "Task_putaway") not in taken, "the branch not chosen"
    assert len(taken) == 6


def _parallel_process() -> bytes:
    """start -> split -> A, B -> join -> C -> end (A, B and C user tasks)."""
    def task(name: str) -> str:
        return (f'<bpmn:userTask id="Task_{name}"><bpmn:extensionElements>'
                f'<spiffworkflow:properties><spiffworkflow:property name="step" '
                f'value="test.{name.lower()}" /></spiffworkflow:properties>'
                "</bpmn:extensionElements></bpmn:userTask>")
    flows = [("Begin", "Split"), ("Split", "Task_A"), ("Split", "Task_B"), ("Task_A", "Join"),
             ("Task_B", "Join"), ("Join", "Task_C"), ("Task_C", "Finish")]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="D" '
        'targetNamespace="t"><bpmn:process id="par" isExecutable="true">'
        '<bpmn:startEvent id="Begin" /><bpmn:parallelGateway id="Split" />'
        + task("A") + task("B") + '<bpmn:parallelGateway id="Join" />' + task("C")
        + '<bpmn:endEvent id="Finish" />'
        + "".join(f'<bpmn:sequenceFlow id="F{i}" sourceRef="{a}" targetRef="{b}" />'
                  for i, (a, b) in enumerate(flows))
        + "</bpmn:process></bpmn:definitions>").encode()


def test_every_branch_into_a_parallel_join_is_marked_taken() -> None:
    spec, called = load_spec(_parallel_process(), "par", {})
    workflow = new_workflow(spec, called, {})
    workflow.do_engine_steps()
    for _ in range(2):  # A and B, one after the other
        ready = ready_user_tasks(workflow)[0]
        ready.task.run()
        workflow.do_engine_steps()
    assert [t.task.task_spec.bpmn_id for t in ready_user_tasks(workflow)] == ["Task_C"]
    taken = taken_flows(workflow)
    assert ("Task_A", "Join") in taken and ("Task_B", "Join") in taken
    assert ("Join", "Task_C") in taken
    assert len(taken) == 6

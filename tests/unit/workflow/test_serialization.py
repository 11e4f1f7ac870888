"""A workflow saved and restored at any step ends exactly where an uninterrupted run ends.

The receiving sample has a user task in a lane, a script task, an exclusive gateway, a timer
boundary event, a call activity and a message catch. Each path is run three ways: straight
through; saved and restored after every action; and resumed from a snapshot taken after every
single engine task of the straight run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.workflow.definitions import load_spec
from engine.workflow.scripting import RestrictedScriptEngine, ScriptError
from engine.workflow.serialization import (
    SERIALIZER_VERSION,
    WorkflowStateInvalid,
    dumps,
    loads,
    plain,
    saved_version,
)
from engine.workflow.tasks import complete_user_task, new_workflow, ready_user_tasks, send_message
from tests.unit.workflow.conftest import bpmn_file

START = {
    "lines": [{"product": "P-200", "qty": 4, "unit_price": "12.40"},
              {"product": "P-100", "qty": 6, "unit_price": "3.05"}],
    "expiry_date": "2027-03-31",
    "received_on": "2026-01-15",
    "inspection_window": "PT48H",
}
CONFIRMATION = {"confirmed_by": "ACME Medical", "delivery_note": "DN-7731"}

Plan = Mapping[str, Mapping[str, Any]]
PATHS: dict[str, tuple[Plan, dict[str, Any]]] = {
    "accepted": ({
        "receiving.inspect": {"conclusion": "accepted", "accepted_qty": "10",
                              "remarks": "seals intact"},
        "receiving.putaway": {"location": "A-01-02", "serials": "SN-1\nSN-2"},
    }, {}),
    "short delivery": ({
        "receiving.inspect": {"conclusion": "accepted", "accepted_qty": "9"},
        "receiving.review_nonconformity": {"disposition": "return_to_supplier"},
    }, {}),
    "rejected": ({
        "receiving.inspect": {"conclusion": "rejected", "accepted_qty": "0"},
        "receiving.review_nonconformity": {"disposition": "destroy", "comment": "crushed"},
    }, {}),
    "inspection overdue": ({
        "receiving.escalate": {"decision": "quarantine"},
    }, {"inspection_window": "PT0S"}),
}
END_OF_PATH = {"accepted": "End_done", "short delivery": "End_rejected",
               "rejected": "End_rejected", "inspection overdue": "End_escalated"}


def receiving_workflow(**start: Any) -> BpmnWorkflow:
    spec, subprocesses = load_spec(bpmn_file("receiving.bpmn"), "receiving_inspection",
                                   {"putaway.bpmn": bpmn_file("putaway.bpmn")})
    return new_workflow(spec, subprocesses, {**START, **start})


def round_trip(workflow: BpmnWorkflow) -> BpmnWorkflow:
    return loads(dumps(workflow), RestrictedScriptEngine())


@dataclass
class Driver:
    """Plays a person (the plan, by step), the supplier (the message) and the clock."""

    plan: Plan
    between: Callable[[BpmnWorkflow], BpmnWorkflow] = lambda workflow: workflow
    on_engine_task: Callable[[BpmnWorkflow], None] | None = None
    actions: list[str] = field(default_factory=list)

    def run(self, workflow: BpmnWorkflow) -> BpmnWorkflow:
        for _ in range(100):
            workflow = self.between(workflow)
            if workflow.completed or not self.act(workflow):
                return workflow
        raise AssertionError(f"no end after 100 actions: {self.actions}")

    def act(self, workflow: BpmnWorkflow) -> bool:
        if workflow.get_tasks(state=TaskState.READY, manual=False):
            hook = self.on_engine_task
            workflow.do_engine_steps(
                did_complete_task=(lambda task: hook(task.workflow.top_workflow)) if hook else None
            )
            self.actions.append("engine")
            return True
        for ready in ready_user_tasks(workflow):
            if ready.meta.step in self.plan:
                complete_user_task(workflow, ready.id, self.plan[ready.meta.step])
                self.actions.append(ready.meta.step)
                return True
        if any(event.name == "supplier_confirmation" for event in workflow.waiting_events()):
            send_message(workflow, "supplier_confirmation", CONFIRMATION)
            self.actions.append("message")
            return True
        if any(event.event_type.endswith("TimerEventDefinition")
               for event in workflow.waiting_events()):
            workflow.refresh_timers()
            self.actions.append("clock")
            return bool(workflow.get_tasks(state=TaskState.READY, manual=False)) or (
                self.actions[-3:] != ["clock"] * 3)
        return False


def completed_elements(workflow: BpmnWorkflow) -> list[str]:
    tasks: list[Task] = workflow.get_tasks(state=TaskState.COMPLETED)
    for subprocess in workflow.subprocesses.values():
        tasks.extend(subprocess.get_tasks(state=TaskState.COMPLETED))
    return sorted(str(t.task_spec.bpmn_id) for t in tasks if t.task_spec.bpmn_id)


def final_state(workflow: BpmnWorkflow) -> dict[str, Any]:
    return {
        "completed": workflow.completed,
        "data": workflow.data,
        "elements": completed_elements(workflow),
        "waiting": [event.name for event in workflow.waiting_events()],
    }


@pytest.mark.parametrize("path", sorted(PATHS))
def test_saving_after_every_action_changes_nothing(path: str) -> None:
    plan, start = PATHS[path]
    straight = Driver(plan)
    expected = final_state(straight.run(receiving_workflow(**start)))
    assert expected["completed"]
    assert END_OF_PATH[path] in expected["elements"]

    saved = Driver(plan, between=round_trip)
    assert final_state(saved.run(receiving_workflow(**start))) == expected
    # The clock may need one tick more or less: a zero timer fires within the same microsecond
    # or the next one.
    assert [a for a in saved.actions if a != "clock"] == [
        a for a in straight.actions if a != "clock"]


@pytest.mark.parametrize("path", sorted(PATHS))
def test_resuming_from_a_snapshot_after_any_engine_task_ends_the_same(path: str) -> None:
    plan, start = PATHS[path]
    snapshots: list[str] = []

    def snapshot(workflow: BpmnWorkflow) -> BpmnWorkflow:
        snapshots.append(dumps(workflow))
        return workflow

    straight = Driver(plan, between=snapshot, on_engine_task=snapshot)
    expected = final_state(straight.run(receiving_workflow(**start)))
    assert len(snapshots) > len(straight.actions), "engine tasks were snapshotted one by one"
    for index, saved in enumerate(snapshots):
        resumed = Driver(plan).run(loads(saved, RestrictedScriptEngine()))
        assert final_state(resumed) == expected, f"snapshot {index} of {len(snapshots)}"


def test_the_accepted_path_ends_with_typed_data_from_every_step() -> None:
    plan, start = PATHS["accepted"]
    data = Driver(plan, between=round_trip).run(receiving_workflow(**start)).data
    assert data["total_value"] == Decimal("67.90")
    assert data["expiry"] == date(2027, 3, 31)
    assert data["products"] == ["P-100", "P-200"]
    assert data["summary"] == "2 lines, 10 units, value 67.90"
    assert data["accepted_qty"] == 10
    assert data["stored_at"] == "A-01-02"
    assert data["moves"] == [{"product": "P-100", "location": "A-01-02"},
                             {"product": "P-200", "location": "A-01-02"}]
    assert data["confirmation"] == CONFIRMATION


@pytest.mark.parametrize(("name", "plan", "start"), [
    ("putaway.bpmn", {"receiving.putaway": {"location": "B-02-01"}},
     {"accepted_qty": 3, "products": ["P-1"]}),
])
def test_every_sample_file_survives_save_and_restore(
    name: str, plan: Plan, start: dict[str, Any]
) -> None:
    key = name.removesuffix(".bpmn")

    def fresh() -> BpmnWorkflow:
        spec, subprocesses = load_spec(bpmn_file(name), key)
        return new_workflow(spec, subprocesses, start)

    expected = final_state(Driver(plan).run(fresh()))
    assert expected["completed"]
    assert final_state(Driver(plan, between=round_trip).run(fresh())) == expected


# --- the serializer itself ----------------------------------------------------------------


def test_a_restored_workflow_runs_on_the_restricted_engine() -> None:
    workflow = receiving_workflow()
    restored = loads(dumps(workflow))
    assert isinstance(restored.script_engine, RestrictedScriptEngine)
    restored.get_next_task(state=TaskState.READY).data["lines"] = "__import__('os')"
    with pytest.raises(ScriptError):
        restored.do_engine_steps()


def test_loads_refuses_an_unrestricted_engine() -> None:
    with pytest.raises(TypeError, match="RestrictedScriptEngine"):
        loads(dumps(receiving_workflow()), PythonScriptEngine())  # type: ignore[arg-type]


def test_the_saved_json_names_its_serializer_version() -> None:
    text = dumps(receiving_workflow())
    assert json.loads(text)["serializer_version"] == SERIALIZER_VERSION
    assert saved_version(text) == SERIALIZER_VERSION
    assert saved_version("not json") is None


@pytest.mark.parametrize("text", ["", "{}", "[]", '{"serializer_version": "1.5"}', "nonsense"])
def test_a_corrupt_saved_workflow_is_refused_clearly(text: str) -> None:
    with pytest.raises(WorkflowStateInvalid, match="cannot be restored"):
        loads(text)


def test_decimal_date_and_datetime_values_keep_their_types() -> None:
    moment = datetime(2026, 1, 15, 8, 30, tzinfo=UTC)
    workflow = receiving_workflow(price=Decimal("0.10"), on=date(2026, 1, 15), at=moment,
                                  wait=timedelta(hours=2))
    data = loads(dumps(workflow)).get_next_task(state=TaskState.READY).data
    assert data["price"] == Decimal("0.10") and isinstance(data["price"], Decimal)
    assert data["on"] == date(2026, 1, 15) and type(data["on"]) is date
    assert data["at"] == moment
    assert data["wait"] == timedelta(hours=2)


def test_plain_makes_task_data_json_ready() -> None:
    value = {"price": Decimal("1.10"), "on": date(2026, 1, 2), "pair": (1, 2), "tags": {"b", "a"},
             "at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "wait": timedelta(minutes=1),
             7: float("nan")}
    assert plain(value) == {"price": "1.10", "on": "2026-01-02", "pair": [1, 2],
                            "tags": ["a", "b"], "at": "2026-01-02T03:04:00+00:00",
                            "wait": 60.0, "7": None}
    json.dumps(plain(value), allow_nan=False)


def test_workflows_restored_from_the_same_saved_diagram_share_its_specs_not_their_state(
) -> None:
    workflow = receiving_workflow()
    workflow.do_engine_steps()
    saved = dumps(workflow)
    first, second = loads(saved), loads(saved)
    assert first.spec is second.spec  # the diagram is restored once
    assert first.subprocess_specs["putaway"] is second.subprocess_specs["putaway"]
    own = loads(saved, share_specs=False)  # SpiffWorkflow's own restore rebuilds it
    assert own.spec is not first.spec
    assert dumps(own) == dumps(first) == saved

    inspect = next(t for t in ready_user_tasks(first) if t.meta.step == "receiving.inspect")
    complete_user_task(first, inspect.id, PATHS["accepted"][0]["receiving.inspect"])
    first.do_engine_steps()
    assert dumps(second) == saved  # the other workflow did not move
    assert [t.meta.step for t in ready_user_tasks(second)] == ["receiving.inspect"]


def test_a_changed_diagram_under_the_same_name_is_restored_afresh() -> None:
    saved = json.loads(dumps(receiving_workflow()))
    shared = loads(json.dumps(saved)).spec
    task = next(name for name, spec in saved["spec"]["task_specs"].items()
                if spec.get("bpmn_name"))
    original = saved["spec"]["task_specs"][task]["bpmn_name"]
    saved["spec"]["task_specs"][task]["bpmn_name"] = "Renamed in version 2"
    changed = loads(json.dumps(saved)).spec
    assert changed is not shared
    assert changed.task_specs[task].bpmn_name == "Renamed in version 2"
    assert loads(json.dumps(saved)).spec is changed
    # Instances of both versions run side by side: each keeps its own shared spec.
    saved["spec"]["task_specs"][task]["bpmn_name"] = original
    assert loads(json.dumps(saved)).spec is shared

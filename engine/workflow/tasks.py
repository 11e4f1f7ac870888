"""Working with a live workflow: start it with data, list and complete human tasks, deliver
messages. No database here; the runtime saves the workflow around these calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.errors import Conflict, NotFound
from engine.workflow.definitions import DefinitionInvalid, UserTaskMeta, user_task_meta
from engine.workflow.forms import FormInvalid, FormSpecInvalid, parse_form
from engine.workflow.scripting import NotStorable, RestrictedScriptEngine, as_task_data


@dataclass(frozen=True)
class ReadyUserTask:
    """A human task that can be done now, with what GxPFlow needs to route and check it."""

    task: Task
    meta: UserTaskMeta

    @property
    def id(self) -> UUID:
        return self.task.id

    @property
    def element_id(self) -> str:
        return str(self.task.task_spec.bpmn_id)

    @property
    def name(self) -> str:
        return str(self.task.task_spec.bpmn_name or self.task.task_spec.bpmn_id)


def new_workflow(
    spec: BpmnProcessSpec,
    subprocess_specs: Mapping[str, BpmnProcessSpec] | None = None,
    data: Mapping[str, Any] | None = None,
    script_engine: RestrictedScriptEngine | None = None,
) -> BpmnWorkflow:
    """A new workflow on the restricted engine, with `data` seeded; no step has run yet."""
    workflow = BpmnWorkflow(
        spec, dict(subprocess_specs or {}), script_engine=script_engine or RestrictedScriptEngine()
    )
    if data:
        seed_start_data(workflow, data)
    return workflow


def seed_start_data(workflow: BpmnWorkflow, data: Mapping[str, Any]) -> None:
    """Put initial data on the READY start task, where the first steps will see it.

    (`workflow.data` only fills when the workflow ends, so seeding it does nothing.)
    Raises Conflict once the workflow has moved past its start, ValueError for data that
    cannot be kept (not JSON-like, or keys that are not identifiers).
    """
    start = workflow.get_next_task(state=TaskState.READY, spec_name=workflow.spec.start.name)
    if start is None:
        raise Conflict("The workflow has already started; initial data can no longer be set.")
    for key in data:
        if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
            raise ValueError(f"Initial data key {key!r} is not a usable variable name.")
    try:
        start.data.update(as_task_data(dict(data)))
    except NotStorable as err:
        raise ValueError(f"Initial data cannot be kept: {err}") from None


def ready_user_tasks(workflow: BpmnWorkflow, lane: str | None = None) -> list[ReadyUserTask]:
    """The READY human tasks (user and manual tasks, in called processes too), with meta."""
    tasks = workflow.get_tasks(state=TaskState.READY, manual=True, lane=lane)
    return [ReadyUserTask(task, user_task_meta(task.task_spec)) for task in tasks]


def complete_user_task(
    workflow: BpmnWorkflow,
    task_id: UUID,
    posted: Mapping[str, Any],
    *,
    tz: tzinfo | None = None,
) -> dict[str, Any]:
    """Check `posted` against the task's form, store the values in the task and complete it.

    Returns the coerced values. Raises NotFound, Conflict (task not READY), FormInvalid.
    Engine steps are the caller's next move (`workflow.do_engine_steps()`).
    """
    try:
        task = workflow.get_task_from_id(task_id)
    except TaskNotFoundException:
        task = None
    if task is None:
        raise NotFound(f"The task {task_id} is not part of this workflow.")
    if not task.task_spec.manual:
        raise Conflict(f"The task {task_id} is not a human task.")
    if task.state != TaskState.READY:
        raise Conflict(f"The task {task_id} is {TaskState.get_name(task.state)}, not READY.")
    meta = user_task_meta(task.task_spec)
    if meta.form is not None:
        values = meta.form.validate(posted, tz=tz)
    elif posted:
        raise FormInvalid({name: {"en": "Unknown field.", "zh": "未知字段。"} for name in posted})
    else:
        values = {}
    # What was posted replaces what was there (SpiffWorkflow's own add_data_from_form would
    # deep-merge lists); a spiff `variableName` on the task keeps the values under that name.
    variable = getattr(task.task_spec, "variable", None)
    task.set_data(**({variable: values} if variable else values))
    task.run()
    return values


def send_message(
    workflow: BpmnWorkflow,
    name: str,
    payload: Mapping[str, Any] | None = None,
    correlations: Mapping[str, Any] | None = None,
) -> None:
    """Deliver a message (by its BPMN message name) to the workflow's waiting catch events.

    Pass `correlations` explicitly for follow-up messages. Raises WorkflowException when
    nothing is waiting for it. Run `workflow.do_engine_steps()` afterwards.
    """
    event = BpmnEvent(
        MessageEventDefinition(name),
        payload=as_task_data(dict(payload or {})),
        correlations=dict(correlations or {}),
    )
    workflow.send_event(event)


_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


def _bpmn_id(task: Any) -> str | None:
    found = getattr(task.task_spec, "bpmn_id", None)
    return str(found) if found else None


def element_states(workflow: BpmnWorkflow) -> dict[str, str]:
    """BPMN element id -> `done` or `active` for the main process, to highlight the path taken
    on its diagram (an element active again in a loop counts as active)."""
    states: dict[str, str] = {}
    for task in workflow.get_tasks():
        bpmn_id = _bpmn_id(task)
        if task.workflow is not workflow or not bpmn_id:
            continue
        if task.has_state(_ACTIVE):
            states[bpmn_id] = "active"
        elif task.has_state(TaskState.COMPLETED):
            states.setdefault(bpmn_id, "done")
    return states


def taken_flows(workflow: BpmnWorkflow) -> list[tuple[str, str]]:
    """(source, target) element ids of the sequence flows the main process really took: a
    reached task and the completed element it came from in the task tree (two elements both
    visited do not make the flow between them taken: a gateway's other branch, a loop), and
    every branch that reached a join that went on."""
    taken: set[tuple[str, str]] = set()
    tasks = [task for task in workflow.get_tasks() if task.workflow is workflow]
    # A join goes on from one branch's arrival; the other branches' arrivals are cancelled,
    # yet their flows into the join were taken too.
    joined = {task.task_spec.name for task in tasks if isinstance(task.task_spec, Join)
              and task.has_state(_ACTIVE | TaskState.COMPLETED)}
    for task in tasks:
        target = _bpmn_id(task)
        arrived_at_join = (task.has_state(TaskState.CANCELLED)
                           and task.task_spec.name in joined)
        if not target or not (task.has_state(_ACTIVE | TaskState.COMPLETED) or arrived_at_join):
            continue
        parent = task.parent
        while parent is not None and _bpmn_id(parent) is None:  # engine-internal tasks
            parent = parent.parent
        if parent is not None and parent.has_state(TaskState.COMPLETED):
            taken.add((str(_bpmn_id(parent)), target))
    return sorted(taken)


Labels = dict[str, dict[str, Mapping[str, str]]]
#: Form field labels per deployed definition (a version never changes, so neither do they).
_LABELS: dict[int, Labels] = {}


def _with_options(form_field: Any) -> Mapping[str, str]:
    """A field's label, with its options' labels as "<locale>:<value>" keys (an enum's value
    shown as the form offered it: accepted -> 合格)."""
    label = dict(form_field.label)
    for option in getattr(form_field, "options", ()) or ():
        for locale, text in dict(option.label).items():
            label[f"{locale}:{option.value}"] = text
    return label


def field_labels(definition_id: int, workflow: Callable[[], BpmnWorkflow]) -> Labels:
    """Step -> field name -> {"en", "zh"} label, from every user task form of the process and
    the processes it calls, to show recorded data as the step's form named it. `workflow`
    reads the instance's workflow, called only the first time a definition is asked for."""
    found = _LABELS.get(definition_id)
    if found is None:
        found = {}
        flow = workflow()
        for spec in (flow.spec, *flow.subprocess_specs.values()):
            for task_spec in spec.task_specs.values():
                if not getattr(task_spec, "manual", False):
                    continue
                try:
                    meta = user_task_meta(task_spec)
                except DefinitionInvalid:
                    continue
                step = found.setdefault(meta.step, {})
                for form_field in meta.form.fields if meta.form else ():
                    if form_field.label:
                        step.setdefault(form_field.name, _with_options(form_field))
            # What the start form asked (the "started" entry, which has no step).
            for event in getattr(spec, "bpmn_start_events", ()):
                properties = (getattr(event, "extensions", None) or {}).get("properties") or {}
                try:
                    form = parse_form(str(properties["form"])) if properties.get("form") else None
                except FormSpecInvalid:
                    continue
                for form_field in form.fields if form else ():
                    if form_field.label:
                        found.setdefault("", {}).setdefault(form_field.name,
                                                            _with_options(form_field))
        _LABELS[definition_id] = found
    return found

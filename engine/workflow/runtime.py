"""The workflow runtime: start instances, complete tasks under a lock, run engine steps, keep
human-task rows, timers and message waits in step with the workflow, and persist it.

One unit of work per call: services flush, the caller commits. Completing a task locks the
instance row (SELECT ... FOR UPDATE on PostgreSQL) and checks its revision, so two requests or
a request and a worker never advance one instance at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from SpiffWorkflow.bpmn.specs.mixins import ServiceTaskMixin, UserTaskMixin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException, WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, inspect, or_, select, update
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import audit
from engine.db import db, ends_work, utcnow
from engine.errors import (
    Bilingual,
    Conflict,
    GxpError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from engine.identity import service as identity
from engine.identity.models import User
from engine.masterdata.models import Site
from engine.workflow import serialization, writes
from engine.workflow.definitions import UserTaskMeta, user_task_meta
from engine.workflow.models import (
    HumanTask,
    MessageWait,
    ProcessDefinition,
    ProcessInstance,
    ServiceCall,
    TaskHistory,
    TimerDue,
)
from engine.workflow.scripting import RestrictedScriptEngine
from engine.workflow.store import SPECS, active_definition
from engine.workflow.tasks import seed_start_data

log = logging.getLogger(__name__)

MAX_ENGINE_ROUNDS = 200

_TASK_WITH_INSTANCE = (
    select(ProcessInstance, HumanTask)
    .join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
    .where(HumanTask.id == bindparam("task_id")))
_LOCK_TASK = (_TASK_WITH_INSTANCE.with_for_update(of=ProcessInstance)
              .execution_options(populate_existing=True))
#: session.info key: {human task id: (instance, task)} locked in this transaction.
_LOCKED = "gxpflow.workflow.locked"
#: session.info key: ids of the instances this session is advancing now (`_advancing`).
_ADVANCING = "gxpflow.workflow.advancing"


@orm_event.listens_for(Session, "after_transaction_end")
def _forget_locks(session: Session, transaction: object) -> None:
    """A lock ends with its transaction (a savepoint's rollback releases its locks too)."""
    if ends_work(transaction):
        session.info.pop(_LOCKED, None)


@contextmanager
def _advancing(instance_id: int) -> Iterator[None]:
    """Mark an instance as being advanced by this session, from its load to its save.

    Locking it again meanwhile (a step effect or connector that suspends, messages or
    completes its own instance) is refused: the nested advance would save over the outer one's
    loaded workflow and drop its queued writes."""
    busy: set[int] = db.session().info.setdefault(_ADVANCING, set())
    busy.add(instance_id)
    try:
        yield
    finally:
        busy.discard(instance_id)


#: (definition, step) -> its declared four-eyes step (None: none), as the workflow said it:
#: a deployed version never changes, so a claim need not read the workflow to know.
_FOUR_EYES: dict[tuple[int, str], str | None] = {}

#: Task and instance statuses in Chinese, for refusals that name them.
_STATUS_ZH = {"open": "待办", "completed": "已完成", "cancelled": "已取消", "running": "运行中",
              "waiting": "等待中", "suspended": "已暂停", "terminated": "已终止", "error": "出错"}


def _refuse_reentry(instance_id: int) -> None:
    if instance_id in db.session().info.get(_ADVANCING, ()):
        raise Conflict(
            f"Process instance {instance_id} is already being advanced by this request: a "
            "step cannot suspend, message or complete its own process while it runs.")


# -- the gate and step effects, supplied by the processes layer ------------------------------

@dataclass
class StepContext:
    """What a gate or an effect needs to know about the step being completed."""

    instance: ProcessInstance
    workflow: BpmnWorkflow
    task: Any
    meta: UserTaskMeta
    actor: User
    form: dict[str, Any]
    performers: dict[str, int]
    #: Facts the server computed for this step (licence validity, stock status...): they win
    #: over task data and form fields of the same name, so a form cannot claim them.
    facts: dict[str, Any] = field(default_factory=dict)
    #: What a step's facts and effects both need (read once per completion, see `once`).
    shared: dict[str, Any] = field(default_factory=dict)

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """`make()` the first time, the same value after (the step's facts and its effects
        run in one transaction, so master data read for one holds for the other)."""
        if key not in self.shared:
            self.shared[key] = make()
        return self.shared[key]


@dataclass
class GateOutcome:
    """The gate's answer for one step (a subset of the rule-pack decision the runtime needs)."""

    blocked: bool = False
    messages: list[dict[str, str]] = field(default_factory=list)
    signature_meaning: str | None = None
    second_person_of: list[str] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


class StepGate(Protocol):
    def check(self, context: StepContext) -> GateOutcome: ...


class StepEffects(Protocol):
    def facts(self, context: StepContext) -> dict[str, Any]: ...

    def apply(self, context: StepContext, outcome: GateOutcome) -> dict[str, Any]: ...

    def terminated(self, instance: ProcessInstance, actor: User, reason: str) -> None:
        """An administrator ended the instance: undo what it holds that nothing else would
        (stock reserved for it), in the terminating transaction."""

    def check_start(self, process_key: str, site_code: str | None) -> None:
        """Refuse (InvalidInput) an instance its steps could never complete, before it
        starts: a site process started without a site."""


class OpenGate:
    """The gate when no rule packs are wired in: every step passes."""

    def check(self, context: StepContext) -> GateOutcome:
        return GateOutcome()


class NoEffects:
    def facts(self, context: StepContext) -> dict[str, Any]:
        return {}

    def apply(self, context: StepContext, outcome: GateOutcome) -> dict[str, Any]:
        return {}

    def terminated(self, instance: ProcessInstance, actor: User, reason: str) -> None:
        return None

    def check_start(self, process_key: str, site_code: str | None) -> None:
        return None


class RuntimeScriptEngine(RestrictedScriptEngine):  # type: ignore[misc]
    """The restricted engine; service tasks get the result their Celery call recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.service_results: dict[str, Any] = {}

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        return json.dumps(self.service_results.pop(str(task.id)))


def defer_service_tasks(specs: Any) -> None:
    """Service tasks run through Celery, so engine steps must not run them inline."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, ServiceTaskMixin):
                task_spec.manual = True


class GateBlocked(GxpError):
    """The compliance gate refused the step; nothing but an audit event was written."""

    code = "blocked"
    status = 422

    def __init__(self, outcome: GateOutcome) -> None:
        text = " ".join(m.get("en", "") for m in outcome.messages) or "The step is blocked."
        super().__init__(text)
        self.outcome = outcome


class SignatureRequired(GxpError):
    code = "signature_required"
    status = 428

    def __init__(self, meaning: str) -> None:
        super().__init__(f"This step must be signed (meaning: {meaning}). Enter your password "
                         "to sign it.")
        self.meaning = meaning


Signer = Callable[[str, str, str, Mapping[str, Any]], int]
"""sign(meaning, entity_type, entity_id, content) -> signature id; supplied by the edge."""


@dataclass
class Runtime:
    gate: StepGate = field(default_factory=OpenGate)
    effects: StepEffects = field(default_factory=NoEffects)
    connectors: dict[str, Callable[..., Any]] = field(default_factory=dict)
    dispatch: Callable[[int], None] | None = None
    "Sends a service call to a worker; None runs it inline (eager)."

    # -- instances -------------------------------------------------------------------------

    def start(self, actor: User | audit.Actor, key: str, data: Mapping[str, Any] | None = None,
              *, subject: str = "", site_code: str | None = None) -> ProcessInstance:
        if isinstance(actor, User):
            identity.require(actor, "instances.start")
        if site_code is not None:
            _check_site(site_code)
        self.effects.check_start(key, site_code)
        definition = active_definition(key)
        assert definition is not None
        parsed = SPECS.get(definition)
        workflow = BpmnWorkflow(parsed.spec, parsed.subprocess_specs,
                                script_engine=RuntimeScriptEngine())
        if data:
            seed_start_data(workflow, data)
        instance = ProcessInstance(
            definition_id=definition.id, process_key=key, subject=subject[:200],
            site_code=site_code, status="running", serialized="{}",
            serializer_version=serialization.VERSION, started_by=actor.id,
        )
        db.session.add(instance)
        db.session.flush()
        writes.discard(db.session(), instance.id)  # SQLite may reuse a rolled-back id
        self._history(instance, None, "started", actor, data or {})
        audit.record(actor, "instance.start", "process_instance", instance.id,
                     after={"process": key, "version": definition.version,
                            "subject": subject, "site": site_code})
        with _advancing(instance.id):
            self._advance(instance, workflow, actor, _Synced.nothing())
        return instance

    def load(self, instance: ProcessInstance) -> BpmnWorkflow:
        workflow = serialization.loads(instance.serialized, RuntimeScriptEngine())
        defer_service_tasks([workflow.spec, *workflow.subprocess_specs.values()])
        return workflow

    def lock(self, instance_id: int) -> ProcessInstance:
        """Lock the instance row for this transaction (PostgreSQL row lock; SQLite serialises
        writers and the revision check catches the rest)."""
        _refuse_reentry(instance_id)
        instance = db.session.scalar(
            select(ProcessInstance).where(ProcessInstance.id == instance_id)
            .with_for_update().execution_options(populate_existing=True)
        )
        if instance is None:
            raise NotFound(f"Process instance {instance_id} does not exist.")
        writes.discard(db.session(), instance.id)
        return instance

    def lock_task(self, human_task_id: int) -> tuple[ProcessInstance, HumanTask]:
        """Lock the instance of a human task and read both rows, in one statement.

        When the lock had to wait (another request was advancing the instance), PostgreSQL
        re-reads the instance row but may return the task row as it was before the wait: the
        workflow, loaded from the locked instance, decides whether the task is still READY,
        and the task's UPDATE is made only while the row is still open.

        Locked once per transaction: a page that locks before its own checks and then
        completes the task reads the rows once."""
        session = db.session()
        locked: dict[int, tuple[ProcessInstance, HumanTask]] = session.info.setdefault(
            _LOCKED, {})
        if human_task_id not in locked:
            found = session.execute(_LOCK_TASK, {"task_id": human_task_id}).one_or_none()
            if found is None:
                raise NotFound(f"Task {human_task_id} does not exist.")
            locked[human_task_id] = (found[0], found[1])
        instance, row = locked[human_task_id]
        _refuse_reentry(instance.id)
        writes.discard(session, instance.id)
        return instance, row

    def _save(self, instance: ProcessInstance, workflow: BpmnWorkflow) -> None:
        """Write the workflow and the instance's state if the revision is still the one loaded,
        with what the advance queued (task rows, history; see `writes`), then flush."""
        revision = instance.revision
        values = {"serialized": serialization.dumps(workflow), "revision": revision + 1,
                  "serializer_version": serialization.VERSION, "updated_at": utcnow(),
                  "status": instance.status, "ended_at": instance.ended_at,
                  "error": instance.error}
        with db.session.no_autoflush:  # the instance's own changes go in this UPDATE
            writes.save(db.session(), instance.id, revision, values)
        _committed(instance, values)
        _flush_changes()

    def _advance(self, instance: ProcessInstance, workflow: BpmnWorkflow,
                 actor: User | audit.Actor, synced: _Synced | None = None) -> None:
        """Run engine steps, start service calls, then sync human tasks, timers and waits.

        `synced`: what the instance's rows held when it was loaded (None: read them)."""
        try:
            for _ in range(MAX_ENGINE_ROUNDS):
                workflow.do_engine_steps()
                if not self._run_inline_service_calls(instance, workflow, actor):
                    break
            instance.error = ""
        except (WorkflowException, GxpError) as error:
            instance.status = "error"
            instance.error = str(error)
            self._history(instance, None, "error", actor, {"error": str(error)})
            log.warning("instance %s stopped with an error: %s", instance.id, error)
        self._sync(instance, workflow, synced)
        self._save(instance, workflow)

    def _status(self, instance: ProcessInstance, workflow: BpmnWorkflow,
                ready_manual: list[Any]) -> str:
        if instance.status in ("suspended", "terminated", "error"):
            return instance.status
        if workflow.is_completed():
            return "completed"
        return "running" if ready_manual else "waiting"

    def _sync(self, instance: ProcessInstance, workflow: BpmnWorkflow,
              synced: _Synced | None = None) -> None:
        """Make the instance's human-task rows match its READY user tasks: cancel the rows of
        tasks no longer READY, add rows for new ones. With `synced` (the rows as loaded) only
        the difference is written and nothing is read."""
        ready_manual = workflow.get_tasks(state=TaskState.READY, manual=True)
        instance.status = self._status(instance, workflow, ready_manual)
        if instance.status == "completed" and instance.ended_at is None:
            instance.ended_at = utcnow()
        ready = _user_tasks(ready_manual)
        queued = writes.pending(db.session(), instance.id)
        if synced is None:
            open_rows = {
                row.task_guid: row
                for row in db.session.scalars(
                    select(HumanTask).where(HumanTask.instance_id == instance.id,
                                            HumanTask.status == "open")
                )
            }
            for guid, row in open_rows.items():
                if guid not in ready:
                    row.status = "cancelled"
            had_rows = set(open_rows)
        else:
            queued.cancelled |= synced.open_tasks - ready.keys()
            had_rows = synced.open_tasks
        for guid, task in ready.items():
            if guid in had_rows:
                continue
            meta = user_task_meta(task.task_spec)
            now = utcnow()
            queued.new_tasks.append({
                "task_guid": guid, "task_name": task.task_spec.name,
                "title": task.task_spec.bpmn_name or task.task_spec.name, "step": meta.step,
                "role": meta.role, "subject": instance.subject, "site_code": instance.site_code,
                "created_at": now,
                "due_at": now + timedelta(hours=meta.due_hours) if meta.due_hours else None,
            })
        self._sync_waits(instance, workflow, synced)

    def _sync_waits(self, instance: ProcessInstance, workflow: BpmnWorkflow,
                    synced: _Synced | None = None) -> None:
        """Make the timer_due and message_wait rows match what the workflow waits for (with
        `synced`, rows are rewritten only when that changed)."""
        wanted = _waits(instance.status, workflow)
        if synced is not None and wanted == synced.waits:
            return
        if synced is None or synced.waits[0] is not None:
            db.session.execute(delete(TimerDue).where(TimerDue.instance_id == instance.id))
        if synced is None or synced.waits[1]:
            db.session.execute(delete(MessageWait).where(MessageWait.instance_id == instance.id))
        due, messages = wanted
        for name, correlation in messages:
            db.session.add(MessageWait(instance_id=instance.id, message_name=name,
                                       correlation=correlation))
        if due is not None:
            db.session.add(TimerDue(instance_id=instance.id, due_at=due))

    # -- tasks -----------------------------------------------------------------------------

    def task_with_instance(self, human_task_id: int) -> tuple[ProcessInstance, HumanTask]:
        """A human task and its instance, in one statement (no lock: for showing them)."""
        found = db.session.execute(_TASK_WITH_INSTANCE, {"task_id": human_task_id}).one_or_none()
        if found is None:
            raise NotFound(f"Task {human_task_id} does not exist.")
        return found[0], found[1]

    def task_row(self, human_task_id: int) -> HumanTask:
        row = db.session.get(HumanTask, human_task_id)
        if row is None:
            raise NotFound(f"Task {human_task_id} does not exist.")
        return row

    def task_view(self, row: HumanTask) -> tuple[Any, UserTaskMeta, dict[str, Any]]:
        """The spiff task, its meta and its current data, for showing the task page."""
        instance = db.session.get(ProcessInstance, row.instance_id)
        assert instance is not None
        workflow = self.load(instance)
        task = workflow.get_task_from_id(_uuid(row.task_guid))
        return task, user_task_meta(task.task_spec), dict(task.data)

    def four_eyes(self, row: HumanTask, task: Any = None) -> tuple[str, int | None] | None:
        """For a task declared four-eyes: the step it must be done apart from and who performed
        it (None while nobody has); None for other tasks. `task`: the spiff task, if loaded."""
        instance = db.session.get(ProcessInstance, row.instance_id)
        assert instance is not None
        known = (instance.definition_id, row.step)
        if task is None:
            if _FOUR_EYES.get(known, "") is None:
                return None  # the step declares none: no need to read the workflow
            try:
                task = self.load(instance).get_task_from_id(_uuid(row.task_guid))
            except TaskNotFoundException:
                task = None
            if task is None:
                return None  # gone from its workflow: completing it says so
        declared = user_task_meta(task.task_spec).four_eyes_with
        _FOUR_EYES[known] = declared or None
        if not declared:
            return None
        step = _four_eyes_step(declared, task)
        performers = {**_performers(task.workflow.top_workflow),
                      **task.data.get("_performers", {})}
        return step, performers.get(step)

    def _refuse_performer(self, row: HumanTask, user: User, error: type[GxpError]) -> None:
        found = self.four_eyes(row)
        if found is not None and found[1] == user.id:
            raise error(f"{user.full_name} performed {found[0]} in this process: a second "
                        "person must do this task (four-eyes principle).",
                        zh=f"{user.full_name} 已在本流程中执行 {found[0]}：此任务须由另一人完成"
                           "（双人复核原则）。",
                        fields={"assignee": "Choose someone else."})

    def claim(self, actor: User, human_task_id: int) -> HumanTask:
        row = self.task_row(human_task_id)
        self._check_open(row)
        if row.role not in identity.effective_roles(actor):
            raise PermissionDenied(f"This task is for the role {row.role}; you do not hold it.",
                                   zh=f"此任务属于角色 {row.role}，您不具备该角色。")
        if row.assignee_id not in (None, actor.id):
            raise Conflict("Someone else has already claimed this task.", zh="此任务已被他人认领。")
        self._refuse_performer(row, actor, Conflict)
        row.assignee_id = actor.id
        db.session.flush()
        audit.record(actor, "task.claim", "human_task", row.id)
        return row

    def release(self, actor: User, human_task_id: int) -> HumanTask:
        row = self.task_row(human_task_id)
        self._check_open(row)
        if row.assignee_id != actor.id:
            identity.require(actor, "tasks.assign")
        row.assignee_id = None
        db.session.flush()
        audit.record(actor, "task.release", "human_task", row.id)
        return row

    def assign(self, actor: User, human_task_id: int, assignee: User, reason: str) -> HumanTask:
        identity.require(actor, "tasks.assign")
        row = self.task_row(human_task_id)
        self._check_open(row)
        if row.role not in identity.effective_roles(assignee):
            raise InvalidInput(f"{assignee.full_name} does not hold the role {row.role}.",
                               zh=f"{assignee.full_name} 不具备角色 {row.role}。",
                               fields={"assignee": "Choose a user with the task's role."})
        self._refuse_performer(row, assignee, InvalidInput)
        before = {"assignee_id": row.assignee_id}
        row.assignee_id = assignee.id
        db.session.flush()
        audit.record(actor, "task.assign", "human_task", row.id, before=before,
                     after={"assignee_id": assignee.id}, reason=reason, reason_required=True)
        return row

    @staticmethod
    def _check_open(row: HumanTask) -> None:
        if row.status != "open":
            raise Conflict(f"This task is already {row.status}.",
                           zh=f"此任务{_STATUS_ZH.get(row.status, row.status)}。")

    def complete(self, actor: User, human_task_id: int,
                 form_data: Mapping[str, Any] | Callable[[UserTaskMeta], Mapping[str, Any]], *,
                 signer: Signer | None = None, tz: Any = None) -> ProcessInstance:
        """Complete a user task: validate the form, gate it, run it, advance, save.

        `form_data` is the submitted data, or a function that reads it given the task's meta
        (a page that parses its fields by the task's form, without loading the workflow twice).

        A gate block raises `GateBlocked` after writing its audit event; the caller commits
        that event and nothing else (it must roll back other work first, which there is none).
        """
        instance, row = self.lock_task(human_task_id)
        with _advancing(instance.id):
            return self._complete(instance, row, actor, form_data, signer, tz)

    def _complete(self, instance: ProcessInstance, row: HumanTask, actor: User,
                  form_data: Mapping[str, Any] | Callable[[UserTaskMeta], Mapping[str, Any]],
                  signer: Signer | None, tz: Any) -> ProcessInstance:
        self._check_open(row)
        if instance.status not in ("running", "waiting"):
            raise Conflict(f"The process is {instance.status}; its tasks cannot be completed.",
                           zh=f"流程{_STATUS_ZH.get(instance.status, instance.status)}，"
                              "其任务不能完成。")
        if row.role not in identity.effective_roles(actor):
            raise PermissionDenied(
                f"This task is for the role {row.role}; {actor.full_name} does not hold it "
                "(or the training for it has expired).",
                zh=f"此任务属于角色 {row.role}；{actor.full_name} 不具备该角色（或其培训已过期）。")
        if row.assignee_id not in (None, actor.id):
            raise Conflict("This task is claimed by someone else.", zh="此任务已被他人认领。")
        workflow = self.load(instance)
        synced = _Synced.of(workflow)
        task = workflow.get_task_from_id(_uuid(row.task_guid))
        if task is None or task.state != TaskState.READY:
            raise Conflict("This task is no longer waiting for input.", zh="此任务已不再等待处理。")
        meta = user_task_meta(task.task_spec)
        if callable(form_data):
            form_data = form_data(meta)
        form = meta.form.validate(form_data, tz=tz) if meta.form else {}
        performers = {**_performers(workflow), **task.data.get("_performers", {})}
        context = StepContext(instance, workflow, task, meta, actor, form, performers)
        context.facts = self.effects.facts(context)
        second_of = [_four_eyes_step(meta.four_eyes_with, task)] if meta.four_eyes_with else []
        outcome = self.gate.check(context)
        for step in second_of + outcome.second_person_of:
            if performers.get(step) == actor.id:
                outcome.blocked = True
                outcome.messages.append({
                    "en": f"A second person must do this: you performed {step} in this "
                          "process (four-eyes principle).",
                    "zh": f"须由另一人完成：您已在本流程中执行了 {step}（双人复核原则）。",
                })
        if outcome.blocked:
            self._refuse(instance, row, actor, form, outcome)
        meaning = outcome.signature_meaning or meta.signature_meaning
        signature_id = None
        if meaning:
            if signer is None:
                raise SignatureRequired(meaning)
            signed_content = {"process": instance.process_key, "step": meta.step,
                              "task": row.task_guid, "data": serialization.plain(form)}
            signature_id = signer(meaning, "human_task", str(row.id), signed_content)
        effects = self.effects.apply(context, outcome)
        task.data.update(form)  # coerced values (Decimal, date) so conditions compare types
        task.data.update(effects)
        task.data.update(outcome.data)
        task.data["_performers"] = {**performers, meta.step: actor.id}
        record = serialization.plain({**form, **effects})
        task.run()
        self._close_row(instance, row, actor)
        synced.open_tasks.discard(row.task_guid)
        self._history(instance, task, "completed", actor, record, outcome.verdicts,
                      step=meta.step)
        audit.record(actor, "task.complete", "human_task", row.id,
                     after={"instance": instance.id, "step": meta.step, "data": record,
                            "verdicts": outcome.verdicts, "signature_id": signature_id})
        self._advance(instance, workflow, actor, synced)
        return instance

    @staticmethod
    def _close_row(instance: ProcessInstance, row: HumanTask, actor: User) -> None:
        """Mark the human task completed by `actor`, when the instance is saved and only while
        the row is still open."""
        values = {"status": "completed", "completed_at": utcnow(), "completed_by": actor.id,
                  "assignee_id": row.assignee_id if row.assignee_id is not None else actor.id}
        writes.pending(db.session(), instance.id).closed = (row.id, values)
        _committed(row, values)

    def _refuse(self, instance: ProcessInstance, row: HumanTask, actor: User,
                form: Mapping[str, Any], outcome: GateOutcome) -> None:
        audit.record(actor, "task.blocked", "human_task", row.id,
                     after={"instance": instance.id, "step": row.step,
                            "data": serialization.plain(form), "verdicts": outcome.verdicts,
                            "messages": outcome.messages})
        raise GateBlocked(outcome)

    # -- instance administration ------------------------------------------------------------

    def suspend(self, actor: User, instance_id: int, reason: str) -> ProcessInstance:
        return self._set_status(actor, instance_id, "suspended", reason, ("running", "waiting",
                                                                          "error"))

    def resume(self, actor: User, instance_id: int, reason: str) -> ProcessInstance:
        identity.require(actor, "instances.manage")
        instance = self.lock(instance_id)
        if instance.status != "suspended":
            raise Conflict(f"The process is {instance.status}, not suspended.",
                           zh=f"流程{_STATUS_ZH.get(instance.status, instance.status)}，"
                              "未处于暂停状态。")
        before = instance.status
        instance.status = "running"
        with _advancing(instance.id):
            workflow = self.load(instance)
            self._audit_status(actor, instance, before, reason)
            self._advance(instance, workflow, actor)
        return instance

    def terminate(self, actor: User, instance_id: int, reason: str) -> ProcessInstance:
        instance = self._set_status(actor, instance_id, "terminated", reason,
                                    ("running", "waiting", "error", "suspended"))
        db.session.execute(update(HumanTask).where(HumanTask.instance_id == instance.id,
                                                   HumanTask.status == "open")
                           .values(status="cancelled"))
        instance.ended_at = utcnow()
        db.session.flush()
        self.effects.terminated(instance, actor, reason)
        return instance

    def _set_status(self, actor: User, instance_id: int, status: str, reason: str,
                    allowed_from: tuple[str, ...]) -> ProcessInstance:
        identity.require(actor, "instances.manage")
        if not reason.strip():
            raise InvalidInput("Say why.", zh="请说明原因。",
                               fields={"reason": "A reason is required."})
        instance = self.lock(instance_id)
        if instance.status not in allowed_from:
            raise Conflict(f"The process is {instance.status}; it cannot become {status}.",
                           zh=f"流程{_STATUS_ZH.get(instance.status, instance.status)}，不能变为"
                              f"{_STATUS_ZH.get(status, status)}。")
        before = instance.status
        instance.status = status
        self._audit_status(actor, instance, before, reason)
        with _advancing(instance.id):
            workflow = self.load(instance)
            self._sync_waits(instance, workflow)
            self._save(instance, workflow)
        return instance

    def _audit_status(self, actor: User, instance: ProcessInstance, before: str,
                      reason: str) -> None:
        audit.record(actor, f"instance.{instance.status}", "process_instance", instance.id,
                     before={"status": before}, after={"status": instance.status},
                     reason=reason, reason_required=True)
        self._history(instance, None, instance.status, actor, {"reason": reason})

    # -- timers and messages ---------------------------------------------------------------

    def fire_due_timers(self, now: datetime | None = None, limit: int = 100) -> int:
        """Advance every instance whose earliest timer is due (called by the beat job)."""
        now = now or utcnow()
        due_ids = list(db.session.scalars(
            select(TimerDue.instance_id).where(TimerDue.due_at <= now)
            .order_by(TimerDue.due_at).limit(limit)
        ))
        fired = 0
        for instance_id in due_ids:
            instance = self.lock(instance_id)
            if instance.status not in ("running", "waiting"):
                continue
            with _advancing(instance.id):
                workflow = self.load(instance)
                synced = _Synced.of(workflow)
                workflow.refresh_timers()
                self._history(instance, None, "timer", audit.SYSTEM, {"at": now.isoformat()})
                self._advance(instance, workflow, audit.SYSTEM, synced)
            fired += 1
        return fired

    def deliver_message(self, actor: User | audit.Actor, name: str, payload: Mapping[str, Any],
                        correlation: str = "") -> list[int]:
        """Deliver a message to every instance waiting for it with this correlation value."""
        from engine.workflow.tasks import send_message

        query = select(MessageWait.instance_id).where(MessageWait.message_name == name)
        if correlation:
            query = query.where(MessageWait.correlation == correlation)
        reached = []
        for instance_id in sorted(set(db.session.scalars(query))):
            instance = self.lock(instance_id)
            if instance.status not in ("running", "waiting"):
                continue
            with _advancing(instance.id):
                workflow = self.load(instance)
                synced = _Synced.of(workflow)
                send_message(workflow, name, serialization.plain(payload))
                self._history(instance, None, "message", actor, {"message": name, **payload})
                self._advance(instance, workflow, actor, synced)
            reached.append(instance.id)
        return reached

    # -- service tasks ---------------------------------------------------------------------

    def _run_inline_service_calls(self, instance: ProcessInstance, workflow: BpmnWorkflow,
                                  actor: User | audit.Actor) -> bool:
        """Record a call for each READY service task; run it now when eager. Returns whether
        any task was completed (so engine steps should run again)."""
        progressed = False
        for task in workflow.get_tasks(state=TaskState.READY, manual=True):
            if not isinstance(task.task_spec, ServiceTaskMixin):
                continue
            guid = str(task.id)
            call = db.session.scalar(select(ServiceCall).where(
                ServiceCall.instance_id == instance.id, ServiceCall.task_guid == guid))
            if call is None:
                call = ServiceCall(instance_id=instance.id, task_guid=guid,
                                   connector=task.task_spec.operation_name,
                                   params=json.dumps(_service_params(task), default=str))
                db.session.add(call)
                db.session.flush()
                if self.dispatch is not None:
                    self._send(call)
                    continue
            if call.status == "pending" and self.dispatch is None:
                self._invoke(call)
            if call.status == "done":
                result = json.loads(call.result)
                workflow.script_engine.service_results[guid] = result
                task.run()
                # What the connector answered, where the next step's performer sees it.
                self._history(instance, task, "service", actor,
                              {"connector": call.connector,
                               task.task_spec.result_variable: result})
                progressed = True
            elif call.status == "failed":
                raise GxpError(f"The service {call.connector} failed: {call.error}",
                               code="service_failed")
        return progressed

    def _send(self, call: ServiceCall) -> None:
        assert self.dispatch is not None
        call.dispatched_at = utcnow()
        self.dispatch(call.id)

    def resend_stale_service_calls(self, older_than: timedelta = timedelta(minutes=10)) -> int:
        """Send again the calls still pending long after they were sent (a lost message: the
        broker was down at commit, a worker died); a call runs at most `time_limit` seconds, so
        one this old is not running. Returns how many were sent."""
        if self.dispatch is None:
            return 0
        stale = list(db.session.scalars(select(ServiceCall).join(
            ProcessInstance, ProcessInstance.id == ServiceCall.instance_id).where(
            ServiceCall.status == "pending", ProcessInstance.status == "running",
            or_(ServiceCall.dispatched_at.is_(None),
                ServiceCall.dispatched_at < utcnow() - older_than))))
        for call in stale:
            log.warning("service call %s (%s) was still pending: sent again", call.id,
                        call.connector)
            self._send(call)
        return len(stale)

    def _invoke(self, call: ServiceCall) -> None:
        connector = self.connectors.get(call.connector)
        call.attempts += 1
        if connector is None:
            call.status = "failed"
            call.error = f"no connector named {call.connector!r} is registered"
            return
        try:
            result = connector(idempotency_key=f"service-call-{call.id}",
                               **json.loads(call.params))
        except Exception as error:  # a connector's failure is data for the administrator
            call.status = "failed"
            call.error = f"{type(error).__name__}: {error}"
            log.warning("service call %s (%s) failed: %s", call.id, call.connector, error)
        else:
            call.status = "done"
            call.result = json.dumps(serialization.plain(result or {}))
            call.error = ""
        call.finished_at = utcnow()
        db.session.flush()

    def run_service_call(self, call_id: int) -> None:
        """Worker side: call the connector once, then apply the result to the instance."""
        call = db.session.get(ServiceCall, call_id)
        if call is None:
            return
        if call.status in ("pending", "failed"):
            self._invoke(call)
            db.session.commit()  # the connector's result is kept even if applying fails
        if call.status != "done":
            instance = self.lock(call.instance_id)
            instance.status = "error"
            instance.error = f"The service {call.connector} failed: {call.error}"
            db.session.flush()
            return
        instance = self.lock(call.instance_id)
        if instance.status not in ("running", "waiting", "error"):
            return
        instance.status = "running"
        with _advancing(instance.id):
            self._advance(instance, self.load(instance), audit.SYSTEM)

    def retry(self, actor: User, instance_id: int) -> ProcessInstance:
        """An administrator retries an instance stopped by an error (failed service call)."""
        identity.require(actor, "tasks.retry")
        instance = self.lock(instance_id)
        if instance.status != "error":
            raise Conflict(f"The process is {instance.status}, not in error.",
                           zh=f"流程{_STATUS_ZH.get(instance.status, instance.status)}，"
                              "未处于出错状态。")
        for call in db.session.scalars(select(ServiceCall).where(
                ServiceCall.instance_id == instance.id, ServiceCall.status == "failed")):
            call.status = "pending"
            if self.dispatch is not None:  # a worker calls it again (eager: the advance does)
                self._send(call)
        instance.status = "running"
        audit.record(actor, "instance.retry", "process_instance", instance.id)
        self._history(instance, None, "retry", actor, {})
        with _advancing(instance.id):
            self._advance(instance, self.load(instance), actor)
        return instance

    # -- history ---------------------------------------------------------------------------

    def _history(self, instance: ProcessInstance, task: Any, event: str,
                 actor: User | audit.Actor, data: Mapping[str, Any],
                 verdicts: list[dict[str, Any]] | None = None, step: str = "") -> None:
        name = actor.full_name if isinstance(actor, User) else actor.name
        writes.pending(db.session(), instance.id).history.append(dict(
            task_guid=str(task.id) if task is not None else None,
            task_name=(task.task_spec.bpmn_name or task.task_spec.name) if task else "",
            step=step, event=event, user_id=actor.id, user_name=name, at=utcnow(),
            data=json.dumps(serialization.plain(data), ensure_ascii=False, default=str),
            verdicts=json.dumps(verdicts or [], ensure_ascii=False, default=str),
        ))

    def history(self, instance_id: int) -> list[TaskHistory]:
        return list(db.session.scalars(select(TaskHistory)
                                       .where(TaskHistory.instance_id == instance_id)
                                       .order_by(TaskHistory.id)))


Waits = tuple[datetime | None, tuple[tuple[str, str], ...]]
"""What an instance waits for: its earliest timer, and (message name, correlation) pairs."""


@dataclass
class _Synced:
    """What an instance's rows hold, known from the workflow as it was loaded: the READY user
    tasks that have an open human_task row, and the waits in timer_due and message_wait.

    Every save of a running or waiting instance leaves its rows equal to its workflow (only
    suspend and terminate change them otherwise, and those instances are not advanced until
    a full sync), so an advance can write the difference without reading the rows back."""

    open_tasks: set[str]
    waits: Waits

    @classmethod
    def nothing(cls) -> _Synced:
        """A new instance: no rows yet."""
        return cls(set(), (None, ()))

    @classmethod
    def of(cls, workflow: BpmnWorkflow) -> _Synced:
        """The rows of a running or waiting instance whose saved workflow was just loaded."""
        ready = _user_tasks(workflow.get_tasks(state=TaskState.READY, manual=True))
        return cls(set(ready), _waits("running", workflow))


def _committed(obj: Any, values: Mapping[str, Any]) -> None:
    """Tell the ORM that `obj`'s row holds `values` (a Core UPDATE just wrote them), so the
    unit of work has nothing to write for it."""
    for name, value in values.items():
        set_committed_value(obj, name, value)
    state = inspect(obj)
    if not state.committed_state:  # no other attribute changed: the object is clean again
        state._commit_all(state.dict, db.session().identity_map)


def _flush_changes() -> None:
    """Flush what the step's effects changed through the ORM (ledger rows, say); skipped when
    nothing changed (the instance's own row is written by the revision-checked UPDATE)."""
    session = db.session()
    if session.new or session.deleted or any(
            inspect(obj).committed_state for obj in session.dirty):
        session.flush()


def _user_tasks(ready_manual: list[Any]) -> dict[str, Any]:
    return {str(task.id): task for task in ready_manual
            if isinstance(task.task_spec, UserTaskMixin)}


def _waits(status: str, workflow: BpmnWorkflow) -> Waits:
    if status in ("completed", "terminated", "suspended"):
        return None, ()
    due: datetime | None = None
    messages: list[tuple[str, str]] = []
    correlation: str | None = None
    for event in workflow.waiting_events():
        kind = event.event_type
        if kind.endswith("TimerEventDefinition") and event.value:
            when = _parse_due(event.value)
            if when is not None and (due is None or when < due):
                due = when
        elif kind.endswith("MessageEventDefinition"):
            if correlation is None:
                correlation = str(workflow.data.get("correlation", "") or
                                  _start_data(workflow).get("correlation", ""))
            messages.append((event.name, correlation))
    return due, tuple(messages)


def _uuid(guid: str) -> Any:
    from uuid import UUID

    return UUID(guid)


def _start_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    start = workflow.get_tasks(spec_name="Start")
    return dict(start[0].data) if start else {}


def _performers(workflow: BpmnWorkflow) -> dict[str, int]:
    """Who performed each step so far (kept in the task data as `_performers`), across the
    process and the processes it called."""
    found: dict[str, int] = {}
    for flow in (workflow, *workflow.subprocesses.values()):
        for task in flow.get_tasks(state=TaskState.COMPLETED):
            found.update(task.data.get("_performers", {}))
        found.update(flow.data.get("_performers", {}))
    return found


def _four_eyes_step(declared: str, task: Any) -> str:
    """`four_eyes_with` names a step, or `=variable` for a step named in the task data (the
    reusable dual review learns which step it reviews from its caller)."""
    if declared.startswith("="):
        return str(task.data.get(declared[1:], ""))
    return declared


def _service_params(task: Any) -> dict[str, Any]:
    evaluated = task.task_spec.evaluate_params(task)
    return serialization.plain({name: param["value"] for name, param in evaluated.items()})


def _parse_due(value: Any) -> datetime | None:
    if isinstance(value, dict):
        value = value.get("next")
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _check_site(code: str) -> None:
    """An instance's site decides which rule packs gate it: an unknown or deactivated site
    would run it ungated, so it is refused."""
    active = db.session.scalar(select(Site.active).where(Site.code == code))
    if active is None:
        raise InvalidInput(f"There is no site {code}.", zh=f"没有编码为 {code} 的仓库。",
                           fields={"site": Bilingual(f"No site has the code {code}: use a site "
                                                     "from master data.",
                                                     f"没有编码为 {code} 的仓库：请使用主数据中的"
                                                     "仓库。")})
    if not active:
        raise InvalidInput(f"The site {code} is deactivated.", zh=f"仓库 {code} 已停用。",
                           fields={"site": Bilingual(f"The site {code} is deactivated: processes "
                                                     "cannot start there.",
                                                     f"仓库 {code} 已停用：不能在此发起流程。")})


def definition_of(instance: ProcessInstance) -> ProcessDefinition:
    found = db.session.get(ProcessDefinition, instance.definition_id)
    assert found is not None
    return found


def current_runtime() -> Runtime:
    """The runtime of the current app (built by the app factory with its gate and effects)."""
    from flask import current_app

    runtime: Runtime = current_app.extensions["gxpflow.runtime"]
    return runtime


def celery_dispatch(call_id: int) -> None:
    """Send a service call to a worker once the transaction that recorded it commits."""
    from engine.db import after_commit
    from engine.workflow.jobs import run_service_call

    after_commit(lambda: run_service_call.delay(call_id))

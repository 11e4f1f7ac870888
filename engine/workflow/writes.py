"""What one advance of an instance writes, gathered and written together with its save.

An advance closes the completed human task, cancels the rows of tasks no longer waiting, adds
rows for new ones, appends task history and saves the workflow under its revision check. The
pieces are queued on the session as the advance goes, and `save` writes them: on PostgreSQL in
one statement (data-modifying CTEs, one round trip whatever their number; constant text, so
the driver prepares it), elsewhere one statement each.

The save is the revision-checked UPDATE of the instance: if another transaction advanced the
instance since it was loaded, or closed the task, nothing is kept (the caller rolls back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, event, text
from sqlalchemy.orm import Session

from engine.errors import Conflict
from engine.workflow.models import HumanTask, ProcessInstance, TaskHistory

#: session.info key: {instance id: _Pending} queued in this transaction.
_PENDING = "gxpflow.workflow.pending_writes"

INSTANCE_STATE = ("serialized", "revision", "serializer_version", "updated_at", "status",
                  "ended_at", "error")
CLOSED_TASK = ("status", "completed_at", "completed_by", "assignee_id")
NEW_TASK = ("task_guid", "task_name", "title", "step", "role", "subject", "site_code",
            "created_at", "due_at")
HISTORY = ("task_guid", "task_name", "step", "event", "user_id", "user_name", "at", "data",
           "verdicts")


@dataclass
class _Pending:
    closed: tuple[int, dict[str, Any]] | None = None
    "(human task id, its completed values)"
    cancelled: set[str] = field(default_factory=set)
    "task guids whose open rows are cancelled"
    new_tasks: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def pending(session: Session, instance_id: int) -> _Pending:
    queued: dict[int, _Pending] = session.info.setdefault(_PENDING, {})
    return queued.setdefault(instance_id, _Pending())


def discard(session: Session, instance_id: int) -> None:
    """Drop what an earlier, failed attempt to advance the instance left queued (every advance
    begins by locking or starting its instance, which calls this)."""
    session.info.get(_PENDING, {}).pop(instance_id, None)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    """Queued writes end with the transaction (anything still queued then was left by an
    error). A savepoint's end keeps them: an advance may run a savepoint before its save."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


_instances, _tasks = ProcessInstance.__table__, HumanTask.__table__
_SAVE_INSTANCE = (
    _instances.update()
    .where(_instances.c.id == bindparam("instance_id"),
           _instances.c.revision == bindparam("loaded_revision"))
    .values({name: bindparam(name) for name in INSTANCE_STATE}))
_CLOSE_TASK = (
    _tasks.update()
    .where(_tasks.c.id == bindparam("task_id"), _tasks.c.status == "open")
    .values({name: bindparam(name) for name in CLOSED_TASK}))
_CANCEL_TASKS = (
    _tasks.update()
    .where(_tasks.c.instance_id == bindparam("of_instance"),
           _tasks.c.task_guid.in_(bindparam("guids", expanding=True)),
           _tasks.c.status == "open")
    .values(status="cancelled"))
_INSERT_TASKS = _tasks.insert()
_INSERT_HISTORY = TaskHistory.__table__.insert()


def _unnest(prefix: str, columns: tuple[str, ...], types: dict[str, str]) -> str:
    arrays = ", ".join(f"CAST(:{prefix}{name} AS {types.get(name, 'text')}[])"
                       for name in columns)
    return f"unnest({arrays}) AS {prefix.rstrip('_')}({', '.join(columns)})"


#: PostgreSQL: every queued write and the save, one statement. Returns how many task rows
#: were closed and whether the instance was saved.
_PG_SAVE = text(
    "WITH closed AS (UPDATE human_task SET status = 'completed', "  # noqa: S608 - constant SQL
    "completed_at = :completed_at, completed_by = :completed_by, assignee_id = :assignee_id "
    "WHERE id = :task_id AND status = 'open' RETURNING id), "
    # No guids: a one-time filter, so nothing is scanned.
    "cancelled AS (UPDATE human_task SET status = 'cancelled' WHERE "
    "cardinality(CAST(:cancelled AS text[])) > 0 AND instance_id = :instance_id "
    "AND task_guid = ANY(CAST(:cancelled AS text[])) AND status = 'open'), "
    "new_tasks AS (INSERT INTO human_task (instance_id, status, " + ", ".join(NEW_TASK) + ") "
    "SELECT :instance_id, 'open', " + ", ".join(f"t.{name}" for name in NEW_TASK)
    + " FROM " + _unnest("t_", NEW_TASK, {"created_at": "timestamptz", "due_at": "timestamptz"})
    + "), "
    "history AS (INSERT INTO task_history (instance_id, " + ", ".join(HISTORY) + ") "
    "SELECT :instance_id, " + ", ".join(f"h.{name}" for name in HISTORY)
    + " FROM " + _unnest("h_", HISTORY, {"user_id": "integer", "at": "timestamptz"}) + "), "
    "saved AS (UPDATE process_instance SET "
    + ", ".join(f"{name} = :{name}" for name in INSTANCE_STATE)
    + " WHERE id = :instance_id AND revision = :loaded_revision RETURNING id) "
    "SELECT (SELECT count(*) FROM closed), (SELECT count(*) FROM saved)")


def save(session: Session, instance_id: int, loaded_revision: int,
         state: dict[str, Any]) -> None:
    """Write the queued pieces of `instance_id`'s advance and its `state` (INSTANCE_STATE),
    if its revision is still `loaded_revision` and the closed task was still open."""
    queued = session.info.get(_PENDING, {}).pop(instance_id, None) or _Pending()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        closed_id, closed = queued.closed or (None, dict.fromkeys(CLOSED_TASK))
        params = {"instance_id": instance_id, "loaded_revision": loaded_revision, **state,
                  "task_id": closed_id, **{k: v for k, v in closed.items() if k != "status"},
                  "cancelled": sorted(queued.cancelled)}
        params.update({f"t_{name}": [row[name] for row in queued.new_tasks]
                       for name in NEW_TASK})
        params.update({f"h_{name}": [row[name] for row in queued.history] for name in HISTORY})
        closed_count, saved_count = connection.execute(_PG_SAVE, params).one()
    else:
        closed_count = 0
        if queued.closed is not None:
            closed_count = connection.execute(
                _CLOSE_TASK, {"task_id": queued.closed[0], **queued.closed[1]}).rowcount
        if queued.cancelled:
            connection.execute(_CANCEL_TASKS, {"of_instance": instance_id,
                                               "guids": sorted(queued.cancelled)})
        if queued.new_tasks:
            connection.execute(_INSERT_TASKS, [
                {"instance_id": instance_id, "status": "open", "assignee_id": None, **row}
                for row in queued.new_tasks])
        if queued.history:
            connection.execute(_INSERT_HISTORY, [{"instance_id": instance_id, **row}
                                                 for row in queued.history])
        saved_count = connection.execute(_SAVE_INSTANCE, {
            "instance_id": instance_id, "loaded_revision": loaded_revision, **state}).rowcount
    if queued.closed is not None and closed_count != 1:
        raise Conflict("This task is no longer waiting for input.")
    if saved_count != 1:
        raise Conflict("Someone else advanced this process at the same time. "
                       "Reload the page and try again.")

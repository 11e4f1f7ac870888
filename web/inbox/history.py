"""What the workflow pages show of an instance's past: its task history with the gate's
verdicts, and the attempts the gate blocked (kept in the audit trail only)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.audit import AuditEvent
from engine.db import db
from engine.workflow.models import TaskHistory


@dataclass
class Entry:
    at: datetime
    event: str
    task_name: str
    step: str
    who: str
    data: dict[str, Any]
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    task_guid: str | None = None


def _json(text: str | None, default: Any) -> Any:
    try:
        value = json.loads(text or "null")
    except ValueError:
        return default
    return default if value is None else value


def history(instance_id: int) -> list[Entry]:
    """Every recorded event of an instance, oldest first: who, when, with what data."""
    rows = db.session.scalars(select(TaskHistory).where(TaskHistory.instance_id == instance_id)
                              .order_by(TaskHistory.id))
    return [Entry(row.at, row.event, row.task_name, row.step, row.user_name,
                  _json(row.data, {}), _json(row.verdicts, []), task_guid=row.task_guid)
            for row in rows]


def blocked_attempts(human_task_ids: list[int]) -> list[Entry]:
    """Attempts to complete these tasks that the gate (or four-eyes) refused, oldest first."""
    if not human_task_ids:
        return []
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "human_task",
                                 AuditEvent.entity_id.in_([str(i) for i in human_task_ids]),
                                 AuditEvent.action == "task.blocked")
        .order_by(AuditEvent.seq))
    entries = []
    for event in events:
        after = _json(event.after, {})
        entries.append(Entry(event.at, "blocked", "", str(after.get("step", "")),
                             event.actor_name, after.get("data") or {},
                             after.get("verdicts") or [], after.get("messages") or []))
    return entries

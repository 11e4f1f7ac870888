"""Persistence of the workflow runtime: definitions as versions, instances, human tasks,
their history, timers due, message waits and service calls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import UTCDateTime, db, utcnow

DEFINITION_STATUSES = ("draft", "active", "retired")
INSTANCE_STATUSES = ("running", "waiting", "completed", "error", "suspended", "terminated")
TASK_STATUSES = ("open", "completed", "cancelled")


class ProcessDefinition(db.Model):  # type: ignore[name-defined]
    """One deployed version of a BPMN process; running instances keep their version."""

    __tablename__ = "process_definition"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    filename: Mapped[str] = mapped_column(String(200), nullable=False)
    bpmn_xml: Mapped[str] = mapped_column(Text, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="draft")
    deployed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("e_signature.id"))
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")

    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_process_definition_key_version"),
        Index("ix_process_definition_key_status", "key", "status"),
    )


class ProcessInstance(db.Model):  # type: ignore[name-defined]
    __tablename__ = "process_instance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"),
                                               nullable=False)
    process_key: Mapped[str] = mapped_column(String(120), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    site_code: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="running")
    serialized: Mapped[str] = mapped_column(Text, nullable=False)
    serializer_version: Mapped[str] = mapped_column(String(20), nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status_reason: Mapped[str] = mapped_column(Text, nullable=False, default="")

    definition: Mapped[ProcessDefinition] = relationship(lazy="select")

    __table_args__ = (
        Index("ix_process_instance_status", "status", "updated_at"),
        Index("ix_process_instance_key", "process_key", "started_at"),
    )


class HumanTask(db.Model):  # type: ignore[name-defined]
    """A READY user task; inboxes are queries on these rows, never on workflow JSON."""

    __tablename__ = "human_task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), nullable=False)
    task_guid: Mapped[str] = mapped_column(String(40), nullable=False)
    task_name: Mapped[str] = mapped_column(String(120), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    step: Mapped[str] = mapped_column(String(60), nullable=False)
    role: Mapped[str] = mapped_column(String(40), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    site_code: Mapped[str | None] = mapped_column(String(40))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="open")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    instance: Mapped[ProcessInstance] = relationship(lazy="raise")

    __table_args__ = (
        UniqueConstraint("instance_id", "task_guid", name="uq_human_task_instance_task"),
        # Inbox queries: open tasks by assignee, and unclaimed open tasks by role.
        Index("ix_human_task_open_assignee", "assignee_id", "created_at",
              postgresql_where=text("status = 'open'"),
              sqlite_where=text("status = 'open'")),
        Index("ix_human_task_open_role", "role", "created_at",
              postgresql_where=text("status = 'open' AND assignee_id IS NULL"),
              sqlite_where=text("status = 'open' AND assignee_id IS NULL")),
        # Unclaimed tasks of several roles, oldest first: read in created order, the role
        # checked in the index, so the first page stops after a few dozen entries.
        Index("ix_human_task_unclaimed_created", "created_at", "role",
              postgresql_where=text("status = 'open' AND assignee_id IS NULL"),
              sqlite_where=text("status = 'open' AND assignee_id IS NULL")),
        # Overdue unclaimed tasks of one role, most overdue first (`inbox.page`).
        Index("ix_human_task_unclaimed_due", "role", "due_at",
              postgresql_where=text("status = 'open' AND assignee_id IS NULL"),
              sqlite_where=text("status = 'open' AND assignee_id IS NULL")),
        Index("ix_human_task_open_due", "due_at",
              postgresql_where=text("status = 'open'"),
              sqlite_where=text("status = 'open'")),
        Index("ix_human_task_instance", "instance_id", "status"),
    )


class TaskHistory(db.Model):  # type: ignore[name-defined]
    """What happened in an instance, step by step: who, when, with what data."""

    __tablename__ = "task_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), nullable=False)
    task_guid: Mapped[str | None] = mapped_column(String(40))
    task_name: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    step: Mapped[str] = mapped_column(String(60), nullable=False, default="")
    event: Mapped[str] = mapped_column(String(30), nullable=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    user_name: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    data: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    verdicts: Mapped[str] = mapped_column(Text, nullable=False, default="[]")

    __table_args__ = (Index("ix_task_history_instance", "instance_id", "id"),)


class TimerDue(db.Model):  # type: ignore[name-defined]
    """The earliest timer of a waiting instance; the timer job is a query on `due_at`."""

    __tablename__ = "timer_due"

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"),
                                             primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    __table_args__ = (Index("ix_timer_due_at", "due_at"),)


class MessageWait(db.Model):  # type: ignore[name-defined]
    """An instance waiting for a message, with the correlation value it waits for."""

    __tablename__ = "message_wait"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), nullable=False)
    message_name: Mapped[str] = mapped_column(String(120), nullable=False)
    correlation: Mapped[str] = mapped_column(String(200), nullable=False, default="")

    __table_args__ = (Index("ix_message_wait_name", "message_name", "correlation"),)


class ServiceCall(db.Model):  # type: ignore[name-defined]
    """A service task's call to a connector, run by a Celery worker; never applied twice."""

    __tablename__ = "service_call"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), nullable=False)
    task_guid: Mapped[str] = mapped_column(String(40), nullable=False)
    connector: Mapped[str] = mapped_column(String(120), nullable=False)
    params: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    result: Mapped[str] = mapped_column(Text, nullable=False, default="null")
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("instance_id", "task_guid", name="uq_service_call_task"),
        Index("ix_service_call_status", "status", "created_at"),
    )

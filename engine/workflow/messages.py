"""Starting instances by a message: every active process whose start event catches the message
is started, and the message (with its payload) is delivered to that new instance only."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from engine import audit
from engine.db import db
from engine.identity.models import User
from engine.workflow.models import ProcessDefinition, ProcessInstance
from engine.workflow.runtime import current_runtime
from engine.workflow.store import SPECS


def starts_on(definition: ProcessDefinition, name: str) -> bool:
    """Whether the process's start events include a message start for `name`."""
    spec = SPECS.get(definition).spec
    return any(type(event.event_definition).__name__ == "MessageEventDefinition"
               and getattr(event.event_definition, "name", None) == name
               for event in spec.bpmn_start_events)


def start_by_message(actor: User | audit.Actor, name: str, payload: Mapping[str, Any], *,
                     subject: str = "", site_code: str | None = None) -> list[ProcessInstance]:
    """Start each active process that a `name` message starts, passing it the payload."""
    runtime = current_runtime()
    started = []
    definitions = db.session.scalars(select(ProcessDefinition).where(
        ProcessDefinition.status == "active").order_by(ProcessDefinition.key)).all()
    for definition in definitions:
        if not starts_on(definition, name):
            continue
        # A private correlation value makes the message reach this new instance only.
        correlation = f"start-{secrets.token_hex(8)}"
        instance = runtime.start(actor, definition.key, {"correlation": correlation},
                                 subject=subject or f"{name}", site_code=site_code)
        runtime.deliver_message(actor, name, payload, correlation=correlation)
        started.append(instance)
    return started

"""Process definitions as versions: validate, deploy (signed), activate, and a parsed-spec cache.

A running instance keeps the definition row it started with; deploying a new version changes
what the next instance starts on.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from engine import audit
from engine.db import db
from engine.errors import InvalidInput, NotFound
from engine.identity import service as identity
from engine.identity.models import User
from engine.workflow.definitions import ValidationResult, load_spec, validate_bpmn
from engine.workflow.models import ProcessDefinition


@dataclass(frozen=True)
class ParsedDefinition:
    """The parsed spec of one definition version (immutable, so it is safe to share)."""

    definition_id: int
    key: str
    spec: Any
    subprocess_specs: dict[str, Any]


class SpecCache:
    """Parsed specs keyed by the definition's hash and the hashes of the active processes it
    may call; parsing BPMN costs milliseconds, a lookup must not."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[tuple[Any, ...], ParsedDefinition] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, definition: ProcessDefinition) -> ParsedDefinition:
        library = db.session.execute(
            select(ProcessDefinition.key, ProcessDefinition.sha256)
            .where(ProcessDefinition.status == "active", ProcessDefinition.key != definition.key)
            .order_by(ProcessDefinition.key)
        ).all()
        cache_key = (definition.key, definition.sha256, tuple(map(tuple, library)))
        with self._lock:
            found = self._items.get(cache_key)
            if found is not None:
                self._items.move_to_end(cache_key)
                return found
        dependencies = {k: v for k, v in library_xml().items() if k != definition.key}
        spec, subprocess_specs = load_spec(definition.bpmn_xml.encode("utf-8"), definition.key,
                                           dependencies)
        from engine.workflow.runtime import defer_service_tasks

        defer_service_tasks([spec, *subprocess_specs.values()])
        parsed = ParsedDefinition(definition.id, definition.key, spec, subprocess_specs)
        with self._lock:
            self._items[cache_key] = parsed
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return parsed


SPECS = SpecCache()


def library_xml() -> dict[str, bytes]:
    """BPMN of every active definition, so call activities can find the processes they call."""
    rows = db.session.execute(
        select(ProcessDefinition.key, ProcessDefinition.bpmn_xml)
        .where(ProcessDefinition.status == "active")
    ).all()
    return {key: xml.encode("utf-8") for key, xml in rows}


def validate(xml: bytes, filename: str) -> ValidationResult:
    known = set(library_xml())
    return validate_bpmn(xml, filename, called_processes=known)


def deploy(actor: User | audit.Actor, xml: bytes, filename: str, *, note: str = "",
           activate: bool = True, signature_id: int | None = None) -> ProcessDefinition:
    """Validate and store a new version; refused with the element id and reason if invalid.

    Deploying the same file again (same hash as the active version) is a no-op.
    """
    if isinstance(actor, User):
        identity.require(actor, "processes.deploy")
    result = validate(xml, filename)
    if not result.ok:
        raise InvalidInput(
            f"{filename} was refused: " + "; ".join(f"{p.element_id}: {p.reason}"
                                                   for p in result.problems),
            fields={p.element_id or "file": p.reason for p in result.problems},
        )
    key = result.process_key
    assert key is not None  # ok implies a main process
    digest = hashlib.sha256(xml).hexdigest()
    current = active_definition(key, missing_ok=True)
    if current is not None and current.sha256 == digest:
        return current
    version = (db.session.scalar(
        select(func.max(ProcessDefinition.version)).where(ProcessDefinition.key == key)
    ) or 0) + 1
    definition = ProcessDefinition(
        key=key, version=version, name=result.process_name or key, filename=filename,
        bpmn_xml=xml.decode("utf-8"), sha256=digest, status="draft",
        deployed_by=actor.id, signature_id=signature_id, note=note,
    )
    db.session.add(definition)
    db.session.flush()
    audit.record(actor, "process.deploy", "process_definition", definition.id,
                 after={"key": key, "version": version, "sha256": digest, "file": filename,
                        "note": note})
    if activate:
        activate_definition(actor, definition)
    return definition


def activate_definition(actor: User | audit.Actor, definition: ProcessDefinition) -> None:
    if isinstance(actor, User):
        identity.require(actor, "processes.deploy")
    db.session.execute(
        update(ProcessDefinition)
        .where(ProcessDefinition.key == definition.key, ProcessDefinition.status == "active",
               ProcessDefinition.id != definition.id)
        .values(status="retired")
    )
    definition.status = "active"
    db.session.flush()
    audit.record(actor, "process.activate", "process_definition", definition.id,
                 after={"key": definition.key, "version": definition.version})


def active_definition(key: str, missing_ok: bool = False) -> ProcessDefinition | None:
    found = db.session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key, ProcessDefinition.status == "active")
    )
    if found is None and not missing_ok:
        raise NotFound(f"No active version of the process {key!r} is deployed.")
    return found


def definitions(key: str | None = None) -> list[ProcessDefinition]:
    query = select(ProcessDefinition).order_by(ProcessDefinition.key,
                                               ProcessDefinition.version.desc())
    if key:
        query = query.where(ProcessDefinition.key == key)
    return list(db.session.scalars(query))


def load_shipped(folder: Path) -> list[str]:
    """Deploy the shipped `*.bpmn` files (call-activity targets first); one line per file."""
    lines = []
    files = sorted(folder.glob("*.bpmn"), key=lambda p: (not p.stem.startswith("dual"), p.name))
    for path in files:
        definition = deploy(audit.Actor(None, "gxpflow init"), path.read_bytes(), path.name,
                            note="shipped with GxPFlow")
        lines.append(f"{definition.key} v{definition.version}")
    return lines

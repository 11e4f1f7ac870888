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

from engine import audit, signatures
from engine.db import db, transaction_cache
from engine.errors import Conflict, InvalidInput, NotFound
from engine.identity import service as identity
from engine.identity.models import Signature, User
from engine.workflow.definitions import (
    DefinitionInvalid,
    ValidationResult,
    load_spec,
    validate_bpmn,
)
from engine.workflow.forms import FormSpec, FormSpecInvalid, parse_form
from engine.workflow.models import ProcessDefinition

#: What the process owner's signature on a deployment means (21 CFR 11.50).
DEPLOY_MEANING = "approved"


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
        library = tuple(item for item in active_hashes() if item[0] != definition.key)
        cache_key = (definition.key, definition.sha256, library)
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

#: session.info key: the active processes' (key, sha256), read once per transaction.
_ACTIVE = "gxpflow.workflow.active_hashes"


def active_hashes() -> tuple[tuple[str, str], ...]:
    """(key, sha256) of every active definition, by key: what a parsed spec's call activities
    resolve against. Read once per transaction (a start page parses its process and asks which
    processes others call); forgotten when a definition is written or the transaction ends."""
    found: tuple[tuple[str, str], ...] | None = db.session.info.get(_ACTIVE)
    if found is None:
        found = db.session.info[_ACTIVE] = tuple(
            (str(key), str(sha256)) for key, sha256 in db.session.execute(
                select(ProcessDefinition.key, ProcessDefinition.sha256)
                .where(ProcessDefinition.status == "active").order_by(ProcessDefinition.key)))
    return found


transaction_cache(_ACTIVE, ProcessDefinition)


def library_xml() -> dict[str, bytes]:
    """BPMN of every active definition, so call activities can find the processes they call."""
    rows = db.session.execute(
        select(ProcessDefinition.key, ProcessDefinition.bpmn_xml)
        .where(ProcessDefinition.status == "active")
    ).all()
    return {key: xml.encode("utf-8") for key, xml in rows}


def validate(xml: bytes, filename: str) -> ValidationResult:
    """`validate_bpmn` with the processes a file may call and, inside the app, the connectors
    its runtime has (engine's and plugins')."""
    from flask import has_app_context

    from engine.workflow.runtime import current_runtime  # it imports this module

    return validate_bpmn(xml, filename, called_processes=set(library_xml()),
                         connectors=set(current_runtime().connectors) if has_app_context()
                         else None)


def deploy(actor: User | audit.Actor, xml: bytes, filename: str, *, note: str = "",
           activate: bool = True, signature_id: int | None = None) -> ProcessDefinition:
    """Validate and store a new version; refused with the element id and reason if invalid.

    Deploying the same file again (same hash as the active version) is a no-op.
    """
    if isinstance(actor, User):
        identity.require(actor, "processes.deploy")
    result = _checked(xml, filename)
    key = result.process_key or ""
    digest = hashlib.sha256(xml).hexdigest()
    current = active_definition(key, missing_ok=True)
    if current is not None and current.sha256 == digest:
        return current
    version = next_version(key)
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


def _checked_key(xml: bytes, filename: str) -> str:
    return _checked(xml, filename).process_key or ""


def _checked(xml: bytes, filename: str) -> ValidationResult:
    result = validate(xml, filename)
    if not result.ok:
        raise DefinitionInvalid(
            f"{filename} was refused: " + "; ".join(f"{p.element_id}: {p.reason}"
                                                   for p in result.problems),
            result.problems,
        )
    assert result.process_key is not None  # ok implies a main process
    return result


def next_version(key: str) -> int:
    return (db.session.scalar(
        select(func.max(ProcessDefinition.version)).where(ProcessDefinition.key == key)
    ) or 0) + 1


def signed_content(key: str, version: int, sha256: str, filename: str,
                   note: str) -> dict[str, Any]:
    """What the process owner signs when deploying: the exact file (by hash) as a version."""
    return {"key": key, "version": version, "sha256": sha256, "file": filename, "note": note}


def signature_entity(key: str, version: int) -> str:
    return f"{key} v{version}"


def deploy_signed(user: User, xml: bytes, filename: str, *, password: str, note: str = "",
                  username: str | None = None, first_in_session: bool = True,
                  policy: identity.Policy | None = None, edits: str | None = None,
                  new: bool = False) -> ProcessDefinition:
    """Deploy a new version from a page: validated first, then signed by the process owner
    (password re-entry), then stored and activated.

    Refused (nothing stored) when the file is invalid (DefinitionInvalid naming each element),
    when it is the active version already (Conflict) or when the signature fails
    (NotAuthenticated, after the failure is recorded: commit it). From the modeler, `edits`
    names the process being edited (the file must keep its key) and `new` says the file is a
    new process (its key must not be taken): a version is never put over another process by
    mistake.
    """
    identity.require(user, "processes.deploy")
    key = _checked_key(xml, filename)
    if edits is not None and key != edits:
        raise InvalidInput(f"This diagram's process id is {key}, but the modeler is editing "
                           f"{edits}: deploy it under {edits}'s id, or start a new process.",
                           zh=f"此流程图的流程标识为 {key}，而正在编辑的是 {edits}：请以 {edits} "
                              "的标识部署，或新建流程。",
                           fields={"key": f"Expected {edits}."})
    if new and next_version(key) > 1:
        raise Conflict(f"A process with the key {key} exists already: give the new process "
                       f"its own key, or open {key} in the modeler to change it.",
                       zh=f"标识为 {key} 的流程已存在：请为新流程另取标识，或在建模器中打开 {key} "
                          "进行修改。")
    digest = hashlib.sha256(xml).hexdigest()
    current = active_definition(key, missing_ok=True)
    if current is not None and current.sha256 == digest:
        raise Conflict(f"This file is already the active version (v{current.version}) of "
                       f"{key}; nothing was deployed.")
    version = next_version(key)
    signature = signatures.sign(
        user, password, DEPLOY_MEANING, "process_definition", signature_entity(key, version),
        signed_content(key, version, digest, filename, note), username=username,
        first_in_session=first_in_session, policy=policy,
    )
    definition = deploy(user, xml, filename, note=note, signature_id=signature.id)
    assert definition.version == version
    return definition


def signature_check(definition: ProcessDefinition) -> signatures.SignatureCheck | None:
    """The deployment's signature and whether it still binds this exact file (None: unsigned,
    e.g. the shipped files `gxpflow init` loads)."""
    if definition.signature_id is None:
        return None
    signature = db.session.get(Signature, definition.signature_id)
    if signature is None:
        return None
    content = signed_content(definition.key, definition.version, definition.sha256,
                             definition.filename, definition.note)
    return signatures.check(signature, content)


@dataclass(frozen=True)
class StartInfo:
    """Whether people may start a process from a page, and the form its start event asks."""

    startable: bool
    form: FormSpec | None = None
    reason: str = ""


def start_info(definition: ProcessDefinition, called: set[str] | None = None) -> StartInfo:
    """A process can be started by users when its main process has a plain (none) start event
    whose `startable` property is not `false`, and no other active process calls it (a called
    process, such as the dual review, gets its data from its caller). The start event's
    `form` property, if any, is asked for when starting. `called`: called_processes(), when
    the caller already has it."""
    if definition.status != "active":
        return StartInfo(False, reason="Only the active version of a process can be started.")
    try:
        spec = SPECS.get(definition).spec
    except DefinitionInvalid as err:
        return StartInfo(False, reason=err.message)
    plain = [event for event in spec.bpmn_start_events
             if type(event.event_definition).__name__ == "NoneEventDefinition"]
    if not plain:
        return StartInfo(False, reason="It starts by a message or a timer, not by a person.")
    properties = (getattr(plain[0], "extensions", None) or {}).get("properties") or {}
    if str(properties.get("startable", "")).lower() == "false":
        return StartInfo(False, reason="Its start event is marked startable = false.")
    if definition.key in (called_processes() if called is None else called):
        return StartInfo(False, reason="Other processes call it; it starts from them.")
    form = None
    if properties.get("form"):
        try:
            form = parse_form(str(properties["form"]))
        except FormSpecInvalid as err:
            return StartInfo(False, reason=f"Its start form is not valid: {err.message}")
    return StartInfo(True, form)


def called_processes() -> set[str]:
    """Keys of processes that active definitions call from call activities."""
    from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity

    library = active_hashes()
    with _CALLED_LOCK:
        known = _CALLED.get(library)
    if known is not None:
        return set(known)
    called: set[str] = set()
    for definition in db.session.scalars(
            select(ProcessDefinition).where(ProcessDefinition.status == "active")):
        try:
            parsed = SPECS.get(definition)
        except DefinitionInvalid:
            continue
        for spec in (parsed.spec, *parsed.subprocess_specs.values()):
            for task_spec in spec.task_specs.values():
                if isinstance(task_spec, CallActivity) and task_spec.spec != definition.key:
                    called.add(str(task_spec.spec))
    with _CALLED_LOCK:
        _CALLED[library] = frozenset(called)
        while len(_CALLED) > 16:
            del _CALLED[next(iter(_CALLED))]
    return called


#: called_processes() per set of active processes (their keys and hashes decide it).
_CALLED: dict[tuple[tuple[str, str], ...], frozenset[str]] = {}
_CALLED_LOCK = threading.Lock()


def activate_definition(actor: User | audit.Actor, definition: ProcessDefinition) -> None:
    if isinstance(actor, User):
        identity.require(actor, "processes.deploy")
    db.session.execute(
        update(ProcessDefinition)
        .where(ProcessDefinition.key == definition.key, ProcessDefinition.status == "active",
               ProcessDefinition.id != definition.id)
        .values(status="retired")
    )
    db.session.info.pop(_ACTIVE, None)
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

"""Saving and restoring a running workflow as JSON, with the restricted engine re-attached.

SpiffWorkflow gives a restored workflow its default (unrestricted) script engine; `loads`
always puts the restricted one back. The serializer knows the spiff task specs (extension
properties, pre/post scripts) and, beyond SpiffWorkflow's own types, Decimal and date values,
which forms and scripts put in task data.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_SERIALIZER_VERSION
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.errors import GxpError
from engine.workflow.scripting import RestrictedScriptEngine

#: Written into every saved workflow (key `serializer_version`). It stays SpiffWorkflow's own
#: format version, so SpiffWorkflow's migrations still apply after an upgrade.
SERIALIZER_VERSION: Final = SPIFF_SERIALIZER_VERSION
VERSION: Final = SERIALIZER_VERSION


class WorkflowStateInvalid(GxpError):
    """A saved workflow cannot be restored."""

    code = "workflow_state"
    status = 500


class _SharedSpecWorkflowConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Restores a workflow with the process specs of an earlier restore when its saved specs
    are the same: a spec is the diagram (read-only while workflows run, as when many
    workflows start from one parsed diagram), and rebuilding it was half of every load."""

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        # A restored object in place of its dict: the registry hands objects back unchanged.
        dct["spec"], dct["subprocess_specs"] = _shared_specs(
            self.registry, dct["spec"], dct.get("subprocess_specs") or {})
        return super().from_dict(dct)


_SPECS: dict[tuple[str, str], list[tuple[Any, Any, Any, dict[str, Any]]]] = {}
"""(process name, file) -> for each version seen lately, the saved spec and subprocess specs as
loaded (untouched copies: restoring consumes its input) and what they were restored to."""
#: Versions of one diagram kept (instances of older versions run on beside the newest).
VERSIONS_KEPT = 4


def _shared_specs(registry: Any, spec: dict[str, Any], subprocess_specs: dict[str, Any]
                  ) -> tuple[Any, dict[str, Any]]:
    key = (str(spec.get("name")), str(spec.get("file")))
    versions = _SPECS.get(key, [])
    for saved_spec, saved_subprocesses, restored_spec, restored_subprocesses in versions:
        if saved_spec == spec and saved_subprocesses == subprocess_specs:
            return restored_spec, restored_subprocesses
    saved = (json.loads(json.dumps(spec)), json.loads(json.dumps(subprocess_specs)))
    restored = registry.restore(spec), {name: registry.restore(sub)
                                        for name, sub in subprocess_specs.items()}
    if len(_SPECS) >= 256:  # diagrams of many names over a long life: start again
        _SPECS.clear()
    _SPECS[key] = [*versions[-(VERSIONS_KEPT - 1):], (*saved, *restored)]
    return restored


@functools.cache
def serializer(share_specs: bool = True) -> BpmnWorkflowSerializer:
    """The configured serializer (built on first use, then shared; it holds no state beyond
    the restored specs it shares). `share_specs=False`: SpiffWorkflow's own restore, which
    rebuilds the specs every time (what the benchmarks compare with)."""
    converter = _SharedSpecWorkflowConverter if share_specs else BpmnWorkflowConverter
    registry = BpmnWorkflowSerializer.configure({**SPIFF_CONFIG, BpmnWorkflow: converter})
    registry.register(
        Decimal, lambda value: {"value": str(value)}, lambda dct: Decimal(dct["value"]),
        typename="Decimal",
    )
    registry.register(
        date, lambda value: {"value": value.isoformat()},
        lambda dct: date.fromisoformat(dct["value"]), typename="date",
    )
    return BpmnWorkflowSerializer(registry, version=SERIALIZER_VERSION)


def dumps(workflow: BpmnWorkflow) -> str:
    """The workflow (specs, task tree, data, timers, correlations) as a JSON string."""
    text: str = serializer().serialize_json(workflow)
    return text


def loads(text: str | bytes, script_engine: RestrictedScriptEngine | None = None, *,
          share_specs: bool = True) -> BpmnWorkflow:
    """Restore a workflow saved by `dumps` and attach the restricted script engine.

    Pass the engine the caller uses (a fresh RestrictedScriptEngine otherwise); anything else
    is refused, so a restored workflow can never run with SpiffWorkflow's unrestricted engine.
    """
    engine = RestrictedScriptEngine() if script_engine is None else script_engine
    if not isinstance(engine, RestrictedScriptEngine):
        raise TypeError("a restored workflow must run with the RestrictedScriptEngine")
    try:
        workflow = serializer(share_specs).deserialize_json(text)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise WorkflowStateInvalid(
            f"The saved workflow cannot be restored: {type(err).__name__}: {err}"
        ) from err
    if not isinstance(workflow, BpmnWorkflow):
        raise WorkflowStateInvalid("The saved workflow cannot be restored: it holds no workflow.")
    workflow.script_engine = engine
    return workflow


def saved_version(text: str | bytes) -> str | None:
    """The serializer version a saved workflow was written with (None if it does not say)."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    version = document.get(BpmnWorkflowSerializer.VERSION_KEY)
    return version if isinstance(version, str) else None


def plain(value: Any) -> Any:
    """A JSON-ready copy of task data, for audit records and API bodies (not for task data:
    there, keep Decimal and dates so conditions compare numbers and dates, not text).

    Decimal becomes its exact text, dates and date-times ISO 8601 text, a timedelta its
    seconds, tuples and sets lists; mapping keys become text. Anything else is kept only if
    JSON knows it, else replaced by its text.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((plain(item) for item in value), key=repr)
    return str(value)

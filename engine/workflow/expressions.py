"""Find every script and expression a parsed task spec will hand to the script engine.

Used when a definition is checked: each must compile under the restricted engine, and timer
expressions that are plain text must also be valid ISO 8601.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any, Final

from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

from engine.workflow.scripting import expression_problems, script_problems

#: Text that is an ISO 8601 duration, date-time or repetition, not a Python expression.
_ISO_LOOKING: Final = re.compile(r"(?:R\d*/|P\d|PT\d|\d{4}-\d{2}-\d{2})", re.IGNORECASE)
_QUOTE_HINT: Final = (
    "timer expressions are Python, so ISO 8601 text must be quoted, e.g. \"PT48H\""
)


def element_expression_problems(task_spec: Any) -> list[str]:
    """Reasons the scripts and expressions of one task spec would be refused."""
    problems: list[str] = []
    for label, source, mode in _sources(task_spec):
        if mode == "missing":
            problems.append(f"{label}: the script task has no script")
            continue
        reasons = script_problems(source) if mode == "exec" else expression_problems(source)
        problems.extend(f"{label}: {reason}" for reason in reasons)
    definition = getattr(task_spec, "event_definition", None)
    for timer in _timers(definition):
        problem = timer_problem(timer)
        if problem:
            problems.append(f"Timer {timer.expression!r}: {problem}")
    return problems


def _sources(task_spec: Any) -> Iterator[tuple[str, str | None, str]]:
    """(what, source, mode) for every script and non-timer expression of the task spec."""
    if hasattr(task_spec, "script"):
        if not (task_spec.script or "").strip():
            yield "Script", "", "missing"
        else:
            yield "Script", task_spec.script, "exec"
    for attribute, label in (("prescript", "Pre-script"), ("postscript", "Post-script")):
        if getattr(task_spec, attribute, None) is not None:
            yield label, getattr(task_spec, attribute), "exec"
    for attribute, label in (("condition", "Loop condition"), ("cardinality", "Cardinality")):
        if getattr(task_spec, attribute, None) is not None:
            yield label, getattr(task_spec, attribute), "eval"
    for name, parameter in (getattr(task_spec, "operation_params", None) or {}).items():
        if isinstance(parameter, dict) and parameter.get("value") is not None:
            yield f"Service parameter {name}", parameter["value"], "eval"
    yield from _event_sources(getattr(task_spec, "event_definition", None))


def _event_sources(definition: Any) -> Iterator[tuple[str, str | None, str]]:
    if definition is None:
        return
    if isinstance(definition, MultipleEventDefinition):
        for inner in definition.event_definitions:
            yield from _event_sources(inner)
        return
    if isinstance(definition, ConditionalEventDefinition):
        yield "Event condition", definition.expression, "eval"
    elif not isinstance(definition, TimerEventDefinition) and (
        getattr(definition, "expression", None) is not None
    ):
        yield "Event payload", definition.expression, "eval"
    for prop in [
        *(getattr(definition, "correlation_properties", None) or []),
        *(getattr(definition, "process_correlations", None) or []),
    ]:
        yield f"Correlation {prop.name}", prop.retrieval_expression, "eval"


def _timers(definition: Any) -> Iterator[TimerEventDefinition]:
    if isinstance(definition, MultipleEventDefinition):
        for inner in definition.event_definitions:
            yield from _timers(inner)
    elif isinstance(definition, TimerEventDefinition):
        yield definition


def timer_problem(timer: TimerEventDefinition) -> str | None:
    """Why a timer expression would not work, or None (checked as far as it is constant)."""
    source = (timer.expression or "").strip()
    if not source:
        return "the timer has no expression"
    problems = expression_problems(source)
    if problems:
        hint = f"; {_QUOTE_HINT}" if _ISO_LOOKING.match(source) else ""
        return "; ".join(problems) + hint
    body = ast.parse(source, mode="eval").body
    if isinstance(body, ast.Name) and _ISO_LOOKING.match(body.id):
        return f"{body.id} reads as a variable name; {_QUOTE_HINT}"
    if isinstance(body, ast.Constant):
        if not isinstance(body.value, str):
            return "a constant timer expression must be ISO 8601 text"
        return _iso_problem(timer, body.value)
    return None  # computed at run time from task data


def _iso_problem(timer: TimerEventDefinition, text: str) -> str | None:
    try:
        if isinstance(timer, DurationTimerEventDefinition):
            TimerEventDefinition.parse_iso_duration(text)
        elif isinstance(timer, TimeDateEventDefinition):
            TimerEventDefinition.parse_time_or_duration(text)
        elif isinstance(timer, CycleTimerEventDefinition):
            TimerEventDefinition.parse_iso_recurring_interval(text)
    except Exception:  # SpiffWorkflow raises bare Exception for bad values
        kind = {
            DurationTimerEventDefinition: "duration (e.g. PT48H)",
            TimeDateEventDefinition: "date-time (e.g. 2025-01-31T12:00:00Z)",
            CycleTimerEventDefinition: "repetition (e.g. R3/PT1H)",
        }.get(type(timer), "timer value")
        return f"{text!r} is not an ISO 8601 {kind}"
    return None

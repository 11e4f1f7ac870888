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

from engine.errors import Bilingual
from engine.workflow.scripting import chinese, expression_problems, script_problems

#: Text that is an ISO 8601 duration, date-time or repetition, not a Python expression.
_ISO_LOOKING: Final = re.compile(r"(?:R\d*/|P\d|PT\d|\d{4}-\d{2}-\d{2})", re.IGNORECASE)
_QUOTE_HINT: Final = Bilingual(
    "timer expressions are Python, so ISO 8601 text must be quoted, e.g. \"PT48H\"",
    "定时器表达式是 Python 表达式，ISO 8601 文本须加引号，例如 \"PT48H\"",
)
#: The Chinese of what element_expression_problems names a script or expression by.
_LABELS_ZH: Final = {
    "Script": "脚本", "Pre-script": "前置脚本", "Post-script": "后置脚本",
    "Loop condition": "循环条件", "Cardinality": "实例数", "Event condition": "事件条件",
    "Event payload": "事件负载",
}


def _labelled(label: str, reason: str) -> Bilingual:
    """`reason` after the name of the script or expression it is about ("Script: ...")."""
    return Bilingual(f"{label}: {reason}", f"{chinese(label)}：{chinese(reason)}")


def element_expression_problems(task_spec: Any) -> list[str]:
    """Reasons the scripts and expressions of one task spec would be refused."""
    problems: list[str] = []
    for label, source, mode in _sources(task_spec):
        if mode == "missing":
            problems.append(_labelled(label, Bilingual("the script task has no script",
                                                       "脚本任务没有脚本")))
            continue
        reasons = script_problems(source) if mode == "exec" else expression_problems(source)
        problems.extend(_labelled(label, reason) for reason in reasons)
    definition = getattr(task_spec, "event_definition", None)
    for timer in _timers(definition):
        problem = timer_problem(timer)
        if problem:
            problems.append(Bilingual(f"Timer {timer.expression!r}: {problem}",
                                      f"定时器 {timer.expression!r}：{chinese(problem)}"))
    return problems


def _sources(task_spec: Any) -> Iterator[tuple[str, str | None, str]]:
    """(what, source, mode) for every script and non-timer expression of the task spec."""
    if hasattr(task_spec, "script"):
        if not (task_spec.script or "").strip():
            yield _label("Script"), "", "missing"
        else:
            yield _label("Script"), task_spec.script, "exec"
    for attribute, label in (("prescript", "Pre-script"), ("postscript", "Post-script")):
        if getattr(task_spec, attribute, None) is not None:
            yield _label(label), getattr(task_spec, attribute), "exec"
    for attribute, label in (("condition", "Loop condition"), ("cardinality", "Cardinality")):
        if getattr(task_spec, attribute, None) is not None:
            yield _label(label), getattr(task_spec, attribute), "eval"
    for name, parameter in (getattr(task_spec, "operation_params", None) or {}).items():
        if isinstance(parameter, dict) and parameter.get("value") is not None:
            yield (Bilingual(f"Service parameter {name}", f"服务参数 {name}"), parameter["value"],
                   "eval")
    yield from _event_sources(getattr(task_spec, "event_definition", None))


def _label(english: str) -> Bilingual:
    return Bilingual(english, _LABELS_ZH[english])


def _event_sources(definition: Any) -> Iterator[tuple[str, str | None, str]]:
    if definition is None:
        return
    if isinstance(definition, MultipleEventDefinition):
        for inner in definition.event_definitions:
            yield from _event_sources(inner)
        return
    if isinstance(definition, ConditionalEventDefinition):
        yield _label("Event condition"), definition.expression, "eval"
    elif not isinstance(definition, TimerEventDefinition) and (
        getattr(definition, "expression", None) is not None
    ):
        yield _label("Event payload"), definition.expression, "eval"
    for prop in [
        *(getattr(definition, "correlation_properties", None) or []),
        *(getattr(definition, "process_correlations", None) or []),
    ]:
        yield (Bilingual(f"Correlation {prop.name}", f"关联属性 {prop.name}"),
               prop.retrieval_expression, "eval")


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
        return Bilingual("the timer has no expression", "定时器没有表达式")
    problems = expression_problems(source)
    if problems:
        iso = _ISO_LOOKING.match(source)
        return Bilingual("; ".join(problems) + (f"; {_QUOTE_HINT}" if iso else ""),
                         "；".join(map(chinese, problems)) + (f"；{_QUOTE_HINT.zh}" if iso else ""))
    body = ast.parse(source, mode="eval").body
    if isinstance(body, ast.Name) and _ISO_LOOKING.match(body.id):
        return Bilingual(f"{body.id} reads as a variable name; {_QUOTE_HINT}",
                         f"{body.id} 会被当作变量名：{_QUOTE_HINT.zh}")
    if isinstance(body, ast.Constant):
        if not isinstance(body.value, str):
            return Bilingual("a constant timer expression must be ISO 8601 text",
                             "常量定时器表达式必须是 ISO 8601 文本")
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
        kind, kind_zh = {
            DurationTimerEventDefinition: ("duration (e.g. PT48H)", "时长（例如 PT48H）"),
            TimeDateEventDefinition: ("date-time (e.g. 2025-01-31T12:00:00Z)",
                                      "日期时间（例如 2025-01-31T12:00:00Z）"),
            CycleTimerEventDefinition: ("repetition (e.g. R3/PT1H)", "重复周期（例如 R3/PT1H）"),
        }.get(type(timer), ("timer value", "定时器值"))
        return Bilingual(f"{text!r} is not an ISO 8601 {kind}",
                         f"{text!r} 不是 ISO 8601 {kind_zh}")
    return None

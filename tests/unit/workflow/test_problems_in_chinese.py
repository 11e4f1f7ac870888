"""Every reason our own checks give a refused definition carries its Chinese (a Bilingual), the
English unchanged; only what SpiffWorkflow, lxml, Python or RestrictedPython say stays English,
quoted inside our Chinese."""

from __future__ import annotations

import re

import pytest

from engine.errors import ELLIPSIS, Bilingual
from engine.workflow.definitions import (
    DOCUMENT,
    MAX_REASON_SHOWN,
    DefinitionInvalid,
    Problem,
    user_task_meta,
    validate_bpmn,
)
from engine.workflow.forms import FormSpecInvalid, parse_form
from engine.workflow.scripting import chinese, expression_problems, script_problems
from tests.unit.workflow.conftest import HEADER, one_task_process, properties

HAN = re.compile(r"[\u4e00-\u9fff]")


def user_task(**props: str) -> str:
    return f'<bpmn:userTask id="Task_1" name="Do it">{properties(**props)}</bpmn:userTask>'


def before_task(element: str) -> bytes:
    """A process with `element` (id X_1) between the start and the stepped user task."""
    return one_task_process(task=user_task(step="test.do") + element).replace(
        b'sourceRef="Start_1" targetRef="Task_1"',
        b'sourceRef="Start_1" targetRef="X_1" /><bpmn:sequenceFlow id="Flow_x" '
        b'sourceRef="X_1" targetRef="Task_1"')


def timer(expression: str) -> bytes:
    return before_task('<bpmn:intermediateCatchEvent id="X_1"><bpmn:timerEventDefinition>'
                       f"<bpmn:timeDuration>{expression}</bpmn:timeDuration>"
                       "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>")


def condition(expression: str) -> bytes:
    return one_task_process().replace(
        b'<bpmn:sequenceFlow id="Flow_2" sourceRef="Task_1" targetRef="End_1" />',
        b'<bpmn:sequenceFlow id="Flow_2" sourceRef="Task_1" targetRef="End_1">'
        b"<bpmn:conditionExpression>" + expression.encode() + b"</bpmn:conditionExpression>"
        b"</bpmn:sequenceFlow>")


#: Diagrams refused by our own checks, and a piece of the English of each reason.
REFUSED = {
    "empty": (b"", "The file is empty."),
    "not XML": (b"<a", "The file is not well-formed XML"),
    "not BPMN": (b"<x/>", "This is not a BPMN 2.0 file"),
    "DOCTYPE": (b"<!DOCTYPE x><x/>", "DOCTYPE declarations"),
    "not UTF-8": (one_task_process().decode().replace("UTF-8", "UTF-16").encode("utf-16"),
                  "The file is not UTF-8 text"),
    "nested": (HEADER.encode() + b"<a>" * 70 + b"</a>" * 70 + b"</bpmn:definitions>",
               "nests deeper than"),
    "XSD": (one_task_process(body="<bpmn:nonsense />"), "Not valid BPMN 2.0: "),
    "no executable": (one_task_process().replace(b'isExecutable="true"',
                                                 b'isExecutable="false"'),
                      "The file has no executable process"),
    "two executable": (one_task_process(extra='<bpmn:process id="q" isExecutable="true" />'),
                       "The file has several executable processes"),
    "reserved id": (one_task_process().replace(b'"End_1"', b'"End"'), "is reserved by"),
    "DMN": (before_task('<bpmn:businessRuleTask id="X_1" />'), "Business rule tasks (DMN)"),
    "half a property": (one_task_process(task='<bpmn:userTask id="Task_1"><bpmn:extensionElements>'
                                              "<spiffworkflow:properties><spiffworkflow:property "
                                              'name="step" /></spiffworkflow:properties>'
                                              "</bpmn:extensionElements></bpmn:userTask>"),
                        "needs both name and value"),
    "two outgoing flows": (one_task_process(body='<bpmn:sequenceFlow id="Flow_3" '
                                                 'sourceRef="Task_1" targetRef="End_1" />'),
                           "put a gateway after it"),
    "no step": (one_task_process(task='<bpmn:userTask id="Task_1" />'),
                "The user task has no 'step' property"),
    "untyped, no step": (one_task_process(task='<bpmn:task id="Task_1" />'),
                         "The untyped task (it waits for a person, like a user task) has no"),
    "bad step": (one_task_process(task=user_task(step="Inspect")), "is not of the form"),
    "no lane": (one_task_process(lane=None), "is not in a lane"),
    "unknown role": (one_task_process(lane="Boss"), "The lane 'Boss' names no role"),
    "bad form": (one_task_process(task=user_task(step="test.do", form="{not json")),
                 "The form is not valid: The form is not valid JSON"),
    "bad four eyes": (one_task_process(task=user_task(step="test.do", four_eyes_with="Ann")),
                      "four_eyes_with 'Ann' is not a step"),
    "bad due hours": (one_task_process(task=user_task(step="test.do", due_hours="soon")),
                      "due_hours 'soon' is not a positive number of hours"),
    "bad meaning": (one_task_process(task=user_task(step="test.do", signature="blessed")),
                    "The signature meaning 'blessed' is not one of"),
    "unknown call": (before_task('<bpmn:callActivity id="X_1" calledElement="nowhere" />'),
                     "The call activity calls 'nowhere'"),
    "import": (before_task('<bpmn:scriptTask id="X_1"><bpmn:script>import os</bpmn:script>'
                           "</bpmn:scriptTask>"), "Script: Line 1: import statements"),
    "class": (before_task('<bpmn:scriptTask id="X_1"><bpmn:script>class A: pass</bpmn:script>'
                          "</bpmn:scriptTask>"), "class definitions are not allowed"),
    "print": (before_task('<bpmn:scriptTask id="X_1"><bpmn:script>print(1)</bpmn:script>'
                          "</bpmn:scriptTask>"), '"print" is not available'),
    "no script": (before_task('<bpmn:scriptTask id="X_1" />'), "the script task has no script"),
    "empty condition": (condition(" "), "Condition '': the expression is empty"),
    "bad condition": (condition("import os"), "Condition 'import os': Line 1: SyntaxError"),
    "unquoted timer": (timer("PT48H"), "PT48H reads as a variable name"),
    "bad duration": (timer('"P48"'), "'P48' is not an ISO 8601 duration"),
    "number timer": (timer("48"), "a constant timer expression must be ISO 8601 text"),
    "empty timer": (timer(""), "the timer has no expression"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_every_reason_of_our_checks_has_its_chinese(case: str) -> None:
    xml, english = REFUSED[case]
    problems = validate_bpmn(xml, "t.bpmn").problems
    assert any(english in problem.reason for problem in problems), problems
    for problem in problems:
        assert isinstance(problem.reason, Bilingual), problem
        assert HAN.search(problem.reason.zh), problem.reason.zh
        assert not HAN.search(problem.reason), "the English stays English"


def test_the_chinese_reads_as_a_process_owner_expects() -> None:
    xml = one_task_process(task='<bpmn:userTask id="Task_1">'
                                + properties(due_hours="soon", signature="blessed",
                                             form="{not json") + "</bpmn:userTask>", lane="Boss")
    chinese_reasons = [chinese(p.reason) for p in validate_bpmn(xml, "t.bpmn").problems]
    assert chinese_reasons[0] == ("用户任务没有 'step' 属性（它执行的合规步骤，例如 "
                                  "receiving.inspect）。")
    assert chinese_reasons[1].startswith("泳道 'Boss' 未指明任何角色：请以角色标识命名")
    assert chinese_reasons[2].startswith("表单无效：表单不是有效的 JSON：Expecting")
    assert chinese_reasons[3] == "due_hours 'soon' 不是正数小时（最多 87600）。"
    assert chinese_reasons[4].startswith("签名含义 'blessed' 不是以下之一：approved")
    script = before_task('<bpmn:scriptTask id="X_1"><bpmn:script>x = 1\nimport os'
                         "</bpmn:script></bpmn:scriptTask>")
    (problem,) = validate_bpmn(script, "t.bpmn").problems
    assert chinese(problem.reason).startswith("脚本：第 2 行：不允许使用 import 语句")


def test_restricted_pythons_own_refusals_stay_english_behind_a_chinese_line_number() -> None:
    (reason,) = script_problems("_secret = 1")
    assert reason.startswith('Line 1: "_secret" is an invalid variable name')
    assert chinese(reason).startswith('第 1 行："_secret" is an invalid variable name')
    assert chinese(expression_problems("")[0]) == "表达式为空"
    assert chinese(expression_problems("1 +")[0]).startswith("Line 1: SyntaxError")  # Python's


@pytest.mark.parametrize("form", [
    "", "[]", '{"fields": 1}', '{"fields": [1]}', '{"fields": [{"name": "A"}]}',
    '{"fields": [{"name": "len", "type": "str"}]}', '{"fields": [{"name": "a", "type": "x"}]}',
    '{"fields": [{"name": "a", "type": "str", "min": 1}]}',
    '{"fields": [{"name": "a", "type": "str", "required": 1}]}',
    '{"fields": [{"name": "a", "type": "str", "blank": 1}]}',
    '{"fields": [{"name": "a", "type": "enum"}]}',
    '{"fields": [{"name": "a", "type": "enum", "options": []}]}',
    '{"fields": [{"name": "a", "type": "enum", "options": [1]}]}',
    '{"fields": [{"name": "a", "type": "enum", "options": [" x"]}]}',
    '{"fields": [{"name": "a", "type": "enum", "options": ["x", "x"]}]}',
    '{"fields": [{"name": "a", "type": "enum", "options": [{"value": "x", "label": 3}]}]}',
    '{"fields": [{"name": "a", "type": "int", "min": "q"}]}',
    '{"fields": [{"name": "a", "type": "int", "min": 3, "max": 1}]}',
    '{"fields": [{"name": "a", "type": "str", "max_length": 0}]}',
    '{"fields": [{"name": "a", "type": "str", "pattern": ""}]}',
    '{"fields": [{"name": "a", "type": "str", "pattern": "("}]}',
    '{"fields": [{"name": "a", "type": "str", "label": 3}]}',
    '{"fields": [{"name": "a", "type": "str"}, {"name": "a", "type": "str"}]}',
    '{"fields": [' + ", ".join(f'{{"name": "f{i}", "type": "str"}}' for i in range(101)) + "]}",
])
def test_every_form_refusal_has_its_chinese(form: str) -> None:
    with pytest.raises(FormSpecInvalid) as refused:
        parse_form(form)
    assert refused.value.zh and HAN.search(refused.value.zh), refused.value.message
    assert not HAN.search(refused.value.message)


def test_a_form_field_problem_names_the_field_in_either_language() -> None:
    with pytest.raises(FormSpecInvalid) as refused:
        parse_form('{"fields": [{"name": "lot", "type": "money"}]}')
    assert refused.value.message.startswith("Field 1 ('lot'): the type must be one of bool")
    assert refused.value.text("zh").startswith("第 1 个字段（'lot'）：type 必须是以下之一：bool")
    with pytest.raises(FormSpecInvalid) as undecodable:
        parse_form(b"\xff")
    assert undecodable.value.text("zh") == "表单不是 UTF-8 文本。"


def test_a_long_reason_is_clipped_in_both_languages() -> None:
    problem = Problem(DOCUMENT, Bilingual("x" * 3000, "长" * 3000))
    assert isinstance(problem.reason, Bilingual)
    assert len(problem.reason) == len(problem.reason.zh) == MAX_REASON_SHOWN
    assert problem.reason.endswith(ELLIPSIS) and problem.reason.zh.startswith("长长")
    xml = one_task_process(task=user_task(step="test.do", due_hours="9" * 2000))
    (found,) = validate_bpmn(xml, "t.bpmn").problems
    assert found.reason.zh.startswith("due_hours '999") and found.reason.zh.endswith(ELLIPSIS)


def test_the_runtime_reads_a_task_with_reasons_in_both_languages() -> None:
    class Spec:
        bpmn_id = name = "Task_1"
        lane = "inspector"
        extensions = {"properties": {"step": "test.do", "signature": "blessed"}}

    with pytest.raises(DefinitionInvalid) as refused:
        user_task_meta(Spec())
    (problem,) = refused.value.problems
    assert problem.reason == "Unknown signature meaning 'blessed'."
    assert problem.reason.zh == "未知的签名含义 'blessed'。"

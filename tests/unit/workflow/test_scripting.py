"""BPMN scripts and conditions run restricted: ordinary work goes through, escapes are refused.

Each escape is tried in a real BPMN run (script task, then gateway condition), and must fail
with an error that names the element and says why.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from engine.workflow.definitions import load_spec
from engine.workflow.scripting import (
    RESERVED_NAMES,
    RestrictedEnvironment,
    RestrictedScriptEngine,
    ScriptError,
    ScriptRefused,
    compile_expression,
    compile_script,
    expression_problems,
    script_problems,
)
from engine.workflow.tasks import new_workflow
from tests.unit.workflow.conftest import HEADER


def script_and_gateway(script: str, condition: str = "True") -> bytes:
    """start -> Script_1 -> Gateway_1 -(condition)-> End_yes | (default) -> End_no."""
    return (
        HEADER
        + '<bpmn:process id="p" isExecutable="true">'
        + '<bpmn:startEvent id="Start_1" />'
        + f'<bpmn:scriptTask id="Script_1" name="Work it out"><bpmn:script>{escape(script)}'
        + "</bpmn:script></bpmn:scriptTask>"
        + '<bpmn:exclusiveGateway id="Gateway_1" name="Which way?" default="Flow_no" />'
        + '<bpmn:endEvent id="End_yes" /><bpmn:endEvent id="End_no" />'
        + '<bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="Script_1" />'
        + '<bpmn:sequenceFlow id="Flow_2" sourceRef="Script_1" targetRef="Gateway_1" />'
        + '<bpmn:sequenceFlow id="Flow_yes" sourceRef="Gateway_1" targetRef="End_yes">'
        + f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)}'
        + "</bpmn:conditionExpression></bpmn:sequenceFlow>"
        + '<bpmn:sequenceFlow id="Flow_no" sourceRef="Gateway_1" targetRef="End_no" />'
        + "</bpmn:process></bpmn:definitions>"
    ).encode()


def run(script: str, condition: str = "True", **data: Any) -> BpmnWorkflow:
    spec, subprocesses = load_spec(script_and_gateway(script, condition), "p")
    workflow = new_workflow(spec, subprocesses, data)
    workflow.do_engine_steps()
    return workflow


def end_reached(workflow: BpmnWorkflow) -> str:
    ends = [t.task_spec.name for t in workflow.get_tasks() if t.task_spec.name.startswith("End_")
            and t.has_state(64)]  # COMPLETED
    assert len(ends) == 1, ends
    return ends[0]


# --- ordinary scripts work ----------------------------------------------------------------


def test_ordinary_script_and_condition_run_in_a_real_workflow() -> None:
    workflow = run(
        """
lines = [{"product": "P-1", "qty": 3, "price": "2.50"}, {"product": "P-2", "qty": 2, "price": "4"}]
total_qty = sum(line["qty"] for line in lines)
total_value = sum(Decimal(line["price"]) * line["qty"] for line in lines)
by_product = {line["product"]: line["qty"] for line in lines}
by_product["P-3"] = 0
codes = sorted(by_product)
codes.append("P-4")
count = 0
for code in codes:
    count += 1
received = date(2024, 2, 27)
expiry = received + timedelta(days=365)
leap_day_seen = (expiry - received).days == 365 and expiry.month == 2
label = f"{total_qty} units worth {total_value:.2f} expire {expiry.isoformat()}"
rounded = round(Decimal("2.345"), 2)
unique = {"b", "a", "b"}
pair = (1, 2)
del count
""",
        condition="total_value > Decimal('10') and 'P-4' in codes and leap_day_seen",
    )
    data = workflow.data
    assert workflow.completed
    assert end_reached(workflow) == "End_yes"
    assert data["total_qty"] == 5
    assert data["total_value"] == Decimal("15.50")
    assert data["by_product"] == {"P-1": 3, "P-2": 2, "P-3": 0}
    assert data["codes"] == ["P-1", "P-2", "P-3", "P-4"]
    assert data["expiry"] == date(2025, 2, 26)
    assert data["label"] == "5 units worth 15.50 expire 2025-02-26"
    assert data["rounded"] == Decimal("2.34") or data["rounded"] == Decimal("2.35")
    assert data["unique"] == ["a", "b"], "sets are kept as sorted lists"
    assert data["pair"] == [1, 2], "tuples are kept as lists"
    assert "count" not in data, "del removes a variable"
    assert not {"date", "Decimal", "timedelta", "now_utc", "today"} & set(data)


def test_the_default_branch_is_taken_when_the_condition_is_false() -> None:
    workflow = run("qty = 1", condition="qty > 5")
    assert end_reached(workflow) == "End_no"


def test_seeded_data_reaches_the_script_and_helpers_give_utc_time() -> None:
    workflow = run(
        "now = now_utc()\nzone_ok = now.tzinfo is not None and now.utcoffset() == timedelta(0)\n"
        "day = today()\nlate = received > day",
        condition="zone_ok and not late",
        received=date(2020, 1, 1),
    )
    assert end_reached(workflow) == "End_yes"
    assert workflow.data["day"] == workflow.data["now"].date()


def test_date_functions_that_import_internally_work() -> None:
    environment = RestrictedEnvironment()
    data: dict[str, Any] = {}
    environment.execute(
        "a = date.today()\nb = datetime.strptime('02.01.2024', '%d.%m.%Y')\n"
        "c = date(2024, 1, 2).strftime('%Y/%m/%d')\nd = f'{date(2024, 1, 2):%d %b %Y}'", data)
    assert isinstance(data["a"], date)
    assert data["b"].date() == date(2024, 1, 2)
    assert (data["c"], data["d"]) == ("2024/01/02", "02 Jan 2024")


def test_timer_expressions_are_python_text() -> None:
    environment = RestrictedEnvironment()
    assert environment.evaluate('"PT1H"', {}) == "PT1H"
    assert environment.evaluate("window", {"window": "P2D"}) == "P2D"
    assert environment.evaluate("(now_utc() + timedelta(hours=hours)).hour >= 0", {"hours": 2})


# --- escapes are refused ------------------------------------------------------------------

ESCAPES = [
    ("import os", "import statements are not allowed"),
    ("from os import system", "import statements are not allowed"),
    ("__import__('os')", '"__import__" is an invalid variable name'),
    ("open('/etc/passwd').read()", '"open" is not available'),
    ("().__class__.__base__.__subclasses__()", "starts with \"_\""),
    ("getattr(f, '__globals__')", '"getattr" is not available'),
    ("f.__globals__", '"__globals__" is an invalid attribute name'),
    ("'{0.__class__}'.format(1)", '"format" is not available'),
    ("'{x.__globals__}'.format(x=f)", '"format" is not available'),
    ("'{x.__globals__}'.format_map({'x': f})", '"format_map" is not available'),
    ("str.format('{0.__class__}', 1)", '"format" is not available'),
    ("eval('1 + 1')", "Eval calls are not allowed"),
    ("exec('x = 1')", "Exec calls are not allowed"),
    ("compile('1', 'x', 'eval')", '"compile" is not available'),
    ("globals()", '"globals" is not available'),
    ("vars()", '"vars" is not available'),
    ("locals()", '"locals" is not available'),
    ("type(f)", '"type" is not available'),
    ("type('X', (), {})", '"type" is not available'),
    ("int.mro()", '"mro" is not available'),
    ("KeyError.mro()[-2]", '"mro" is not available'),
    ("class X: pass", "class definitions are not allowed"),
    ("print('hello')", '"print" is not available'),
    ("(i for i in [1]).gi_frame", '"gi_frame" is a restricted name'),
    ("range(10 ** 7)", "range() of more than"),
]


@pytest.mark.parametrize(("source", "reason"), ESCAPES, ids=[s for s, _ in ESCAPES])
def test_escape_in_a_script_task_fails_naming_the_task(source: str, reason: str) -> None:
    statement = source if source.startswith(("import", "from", "class")) else f"x = {source}"
    with pytest.raises(ScriptError) as caught:
        run(f"def f():\n    return 1\n{statement}")
    error = caught.value
    assert error.element_id == "Script_1"
    assert "'Script_1' (Work it out)" in str(error)
    assert reason in str(error)
    assert reason in error.reason


@pytest.mark.parametrize(
    ("source", "reason"),
    [(s, r) for s, r in ESCAPES if not s.startswith(("import", "from", "class"))],
)
def test_escape_in_a_gateway_condition_fails_naming_the_gateway(source: str, reason: str) -> None:
    with pytest.raises(ScriptError) as caught:
        run("f = 1", condition=source)
    assert caught.value.element_id == "Gateway_1"
    assert "'Gateway_1' (Which way?)" in str(caught.value)
    assert reason in str(caught.value)


def test_the_same_escape_runs_under_spiffworkflows_default_engine() -> None:
    """Why any of this matters: the default engine lets a BPMN author reach the OS."""
    spec, subprocesses = load_spec(script_and_gateway("cwd = __import__('os').getcwd()"), "p")
    workflow = BpmnWorkflow(spec, subprocesses, script_engine=PythonScriptEngine())
    workflow.do_engine_steps()
    assert isinstance(workflow.data["cwd"], str)


def test_task_data_cannot_replace_the_guards() -> None:
    environment = RestrictedEnvironment()
    hostile = {"_getattr_": getattr, "__builtins__": __builtins__, "_getitem_": None}
    with pytest.raises(AttributeError, match="format"):
        environment.evaluate("'{0}'.format(1)", hostile)
    assert environment.evaluate("[1, 2][1]", hostile) == 2


def test_refusals_are_reported_before_running() -> None:
    assert script_problems("import os")
    assert script_problems("total = 1 +") and "SyntaxError" in script_problems("total = 1 +")[0]
    assert expression_problems("${approved}")
    assert expression_problems("") == ["the expression is empty"]
    assert script_problems("total = sum([1, 2])") == []
    assert expression_problems("total > 1") == []
    with pytest.raises(ScriptRefused, match="import statements"):
        compile_script("import os")
    with pytest.raises(ScriptRefused):
        RestrictedScriptEngine().validate("x = 1")  # a statement is no expression


def test_compiled_code_is_cached_by_source_text() -> None:
    assert compile_script("a = 1") is compile_script("a = 1")
    assert compile_expression("a > 1") is compile_expression("a > 1")
    assert compile_script("a = 1") is not compile_script("a = 2")


# --- clear failures -----------------------------------------------------------------------


def test_a_failing_script_names_the_line() -> None:
    with pytest.raises(ScriptError) as caught:
        run("a = 1\nb = a / 0\nc = 2")
    error = caught.value
    assert not error.refused
    assert error.line_number == 2
    assert "on line 2 ('b = a / 0')" in str(error)
    assert "ZeroDivisionError" in error.reason


def test_a_missing_variable_in_a_condition_suggests_the_right_one() -> None:
    with pytest.raises(ScriptError) as caught:
        run("quantity = 1", condition="quantiy > 0")
    assert "NameError" in str(caught.value)
    assert "quantity" in str(caught.value)


def test_values_that_cannot_be_saved_are_refused_when_assigned() -> None:
    with pytest.raises(ScriptError, match="'pending' cannot be kept: a generator"):
        run("pending = (i for i in [1, 2])")


def test_functions_and_lambdas_stay_out_of_task_data() -> None:
    workflow = run("def double(v):\n    return v * 2\nfour = double(2)\nkey = lambda v: -v\n"
                   "ordered = sorted([1, 3, 2], key=key)")
    assert workflow.data["four"] == 4
    assert workflow.data["ordered"] == [3, 2, 1]
    assert "double" not in workflow.data and "key" not in workflow.data


def test_task_data_may_shadow_a_helper_name() -> None:
    environment = RestrictedEnvironment()
    data: dict[str, Any] = {"date": "2024-05-01"}
    environment.execute("copy = date", data)
    assert data == {"date": "2024-05-01", "copy": "2024-05-01"}


def test_reserved_names_cover_helpers_builtins_and_escape_hatches() -> None:
    assert {"date", "Decimal", "len", "sorted", "type", "eval", "getattr"} <= RESERVED_NAMES
    assert "conclusion" not in RESERVED_NAMES


def test_service_tasks_fail_clearly_without_a_connector() -> None:
    spec = SimpleNamespace(bpmn_id="Service_1", bpmn_name="Ask ERP", name="Service_1")
    workflow = SimpleNamespace(spec=SimpleNamespace(file="x.bpmn"))
    workflow.top_workflow = workflow
    task = SimpleNamespace(task_spec=spec, data={}, workflow=workflow)
    with pytest.raises(ScriptError, match=r"Service task 'Service_1' \(Ask ERP\) failed: no"):
        RestrictedScriptEngine().call_service(task)


def test_a_week_from_now_is_a_date_in_utc() -> None:
    environment = RestrictedEnvironment()
    data: dict[str, Any] = {}
    environment.execute("due = today() + timedelta(days=7)", data)
    assert isinstance(data["due"], date) and data["due"] > date(2024, 1, 1)
    assert environment.evaluate("due - today()", data) == timedelta(days=7)

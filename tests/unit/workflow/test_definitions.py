"""Checking BPMN before deployment: our conventions, other modelers' files, hostile XML."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.identity.roles import ROLES
from engine.workflow.definitions import (
    DOCUMENT,
    MAX_BPMN_BYTES,
    ROLE_IDS,
    SIGNATURE_MEANINGS,
    DefinitionInvalid,
    Problem,
    ValidationResult,
    load_spec,
    role_for_lane,
    user_task_meta,
    validate_bpmn,
)
from engine.workflow.forms import FormSpec
from tests.unit.workflow.conftest import HEADER, bpmn_file, properties

MakeBpmn = Callable[..., bytes]


def reasons(result: ValidationResult, element_id: str | None = None) -> list[str]:
    return [p.reason for p in result.problems if element_id is None or p.element_id == element_id]


def only_problem(result: ValidationResult) -> Problem:
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


def user_task(**props: str) -> str:
    return f'<bpmn:userTask id="Task_1" name="Do it">{properties(**props)}</bpmn:userTask>'


# --- the sample files ---------------------------------------------------------------------


def test_the_sample_receiving_process_is_valid() -> None:
    result = validate_bpmn(bpmn_file("receiving.bpmn"), "receiving.bpmn",
                           called_processes={"putaway"})
    assert result.problems == []
    assert result.ok
    assert result.process_key == "receiving_inspection"
    assert result.process_name == "Receiving inspection"


def test_the_sample_putaway_process_is_valid() -> None:
    result = validate_bpmn(bpmn_file("putaway.bpmn"), "putaway.bpmn")
    assert result.ok and result.process_key == "putaway"


def test_a_call_to_an_unknown_process_is_a_problem() -> None:
    result = validate_bpmn(bpmn_file("receiving.bpmn"), "receiving.bpmn")
    assert not result.ok
    assert reasons(result) == ["The call activity calls 'putaway', which is neither in this "
                               "file nor an allowed process."]
    assert only_problem(result).element_id == "Call_putaway"


def test_role_ids_and_signature_meanings_match_identity_and_signatures() -> None:
    from engine.signatures import MEANINGS

    assert frozenset(ROLES) == ROLE_IDS
    assert frozenset(MEANINGS) == SIGNATURE_MEANINGS


@pytest.mark.parametrize(("lane", "role"), [
    ("inspector", "inspector"),
    ("Inspector (inspector)", "inspector"),
    ("验收员（inspector）", "inspector"),
    ("  Quality manager ( quality_manager ) ", "quality_manager"),
    ("Inspector", None),
    ("Inspector (inspectors)", None),
    ("(admin)", None),
    ("", None),
    (None, None),
])
def test_lanes_name_a_role_id(lane: str | None, role: str | None) -> None:
    assert role_for_lane(lane) == role


# --- our conventions ----------------------------------------------------------------------


def test_a_minimal_stepped_task_in_a_role_lane_is_valid(make_bpmn: MakeBpmn) -> None:
    result = validate_bpmn(make_bpmn(), "t.bpmn")
    assert result.ok, result.problems
    assert result.process_key == "p"


@pytest.mark.parametrize(("task", "lane", "reason"), [
    ('<bpmn:userTask id="Task_1" />', "inspector", "has no 'step' property"),
    (user_task(step="Receiving Inspect"), "inspector", "is not of the form area.action"),
    (user_task(step="inspect"), "inspector", "is not of the form area.action"),
    (user_task(step="test.do"), None, "is not in a lane"),
    (user_task(step="test.do"), "Warehouse", "The lane 'Warehouse' names no role"),
    (user_task(step="test.do", form="{not json"), "inspector", "The form is not valid: The form "
                                                               "is not valid JSON"),
    (user_task(step="test.do", form='{"fields": [{"name": "a", "type": "money"}]}'),
     "inspector", "the type must be one of"),
    (user_task(step="test.do", due_hours="soon"), "inspector", "due_hours 'soon' is not a "
                                                               "positive number"),
    (user_task(step="test.do", due_hours="-4"), "inspector", "is not a positive number"),
    (user_task(step="test.do", due_hours="nan"), "inspector", "is not a positive number"),
    (user_task(step="test.do", signature="ok"), "inspector", "The signature meaning 'ok' is not"),
    (user_task(step="test.do", four_eyes_with="the inspector"), "inspector",
     "four_eyes_with 'the inspector' is not a step"),
    ('<bpmn:manualTask id="Task_1" />', "inspector", "The manual task has no 'step'"),
    ('<bpmn:task id="Task_1" />', "inspector", "untyped task (it waits for a person"),
])
def test_human_task_conventions(make_bpmn: MakeBpmn, task: str, lane: str | None,
                                reason: str) -> None:
    result = validate_bpmn(make_bpmn(task=task, lane=lane), "t.bpmn")
    assert not result.ok
    problem = only_problem(result)
    assert problem.element_id == "Task_1"
    assert reason in problem.reason


def test_every_property_is_read_into_the_task_meta(make_bpmn: MakeBpmn) -> None:
    form = json.dumps({"fields": [{"name": "conclusion", "type": "enum",
                                   "options": ["accepted", "rejected"]}]})
    xml = make_bpmn(task=user_task(step="receiving.review", four_eyes_with="receiving.inspect",
                                   due_hours="1.5", signature="approved", form=form),
                    lane="Quality manager (quality_manager)")
    assert validate_bpmn(xml, "t.bpmn").ok
    spec, _ = load_spec(xml, "p")
    meta = user_task_meta(spec.task_specs["Task_1"])
    assert meta.step == "receiving.review"
    assert meta.role == "quality_manager"
    assert meta.lane == "Quality manager (quality_manager)"
    assert meta.four_eyes_with == "receiving.inspect"
    assert meta.due_hours == 1.5
    assert meta.signature_meaning == "approved"
    assert isinstance(meta.form, FormSpec) and meta.form.names == ("conclusion",)


def test_task_meta_without_optional_properties(make_bpmn: MakeBpmn) -> None:
    spec, _ = load_spec(make_bpmn(), "p")
    meta = user_task_meta(spec.task_specs["Task_1"])
    assert (meta.step, meta.role, meta.form, meta.four_eyes_with, meta.due_hours,
            meta.signature_meaning) == ("test.do", "inspector", None, None, None, None)


def test_task_meta_of_a_task_without_step_is_refused(make_bpmn: MakeBpmn) -> None:
    spec, _ = load_spec(make_bpmn(task='<bpmn:userTask id="Task_1" />'), "p")
    with pytest.raises(DefinitionInvalid, match="has no step"):
        user_task_meta(spec.task_specs["Task_1"])


def test_a_refused_script_is_a_problem_of_its_task(make_bpmn: MakeBpmn) -> None:
    body = ('<bpmn:scriptTask id="Script_bad"><bpmn:script>import os</bpmn:script>'
            "</bpmn:scriptTask>")
    result = validate_bpmn(make_bpmn(task=body.replace("Script_bad", "Task_1")), "t.bpmn")
    problem = only_problem(result)
    assert problem.element_id == "Task_1"
    assert problem.reason.startswith("Script: Line 1: import statements are not allowed")


def test_an_empty_script_is_a_problem(make_bpmn: MakeBpmn) -> None:
    result = validate_bpmn(make_bpmn(task='<bpmn:scriptTask id="Task_1" />'), "t.bpmn")
    assert reasons(result, "Task_1") == ["Script: the script task has no script"]


def test_pre_and_post_scripts_are_checked(make_bpmn: MakeBpmn) -> None:
    task = ('<bpmn:userTask id="Task_1"><bpmn:extensionElements>'
            "<spiffworkflow:preScript>x = ().__class__</spiffworkflow:preScript>"
            "<spiffworkflow:postScript>y = 1</spiffworkflow:postScript>"
            '<spiffworkflow:properties><spiffworkflow:property name="step" value="a.b" />'
            "</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>")
    problem = only_problem(validate_bpmn(make_bpmn(task=task), "t.bpmn"))
    assert problem.element_id == "Task_1"
    assert problem.reason.startswith('Pre-script: Line 1: "__class__" is an invalid attribute')


def gateway_process(condition: str) -> bytes:
    return (
        HEADER + '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="Start_1" />'
        '<bpmn:exclusiveGateway id="Gateway_1" default="Flow_b" />'
        '<bpmn:endEvent id="End_a" /><bpmn:endEvent id="End_b" />'
        '<bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="Gateway_1" />'
        '<bpmn:sequenceFlow id="Flow_a" sourceRef="Gateway_1" targetRef="End_a">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="Flow_b" sourceRef="Gateway_1" targetRef="End_b" />'
        "</bpmn:process></bpmn:definitions>"
    ).encode()


def test_a_good_condition_passes() -> None:
    assert validate_bpmn(gateway_process("qty &gt; 0 and ok"), "t.bpmn").ok


@pytest.mark.parametrize(("condition", "reason"), [
    ("${approved}", "SyntaxError"),
    ("__import__('os')", "starts with \"_\""),
    ("open('/etc/passwd')", '"open" is not available'),
    ("x = 1", "SyntaxError"),
])
def test_a_refused_condition_is_a_problem_of_its_flow(condition: str, reason: str) -> None:
    problem = only_problem(validate_bpmn(gateway_process(condition), "t.bpmn"))
    assert problem.element_id == "Flow_a"
    assert problem.reason.startswith(f"Condition {condition!r}")
    assert reason in problem.reason
    assert problem.line is not None


def timer_task(definition: str) -> str:
    return ('<bpmn:intermediateCatchEvent id="Task_1"><bpmn:timerEventDefinition id="T">'
            f"{definition}</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>")


@pytest.mark.parametrize("definition", [
    "<bpmn:timeDuration>\"PT48H\"</bpmn:timeDuration>",
    "<bpmn:timeDuration>window</bpmn:timeDuration>",
    "<bpmn:timeDate>\"2030-01-31T12:00:00+00:00\"</bpmn:timeDate>",
    "<bpmn:timeCycle>\"R3/PT1H\"</bpmn:timeCycle>",
    "<bpmn:timeDate>(now_utc() + timedelta(days=2)).isoformat()</bpmn:timeDate>",
])
def test_good_timers_pass(make_bpmn: MakeBpmn, definition: str) -> None:
    assert validate_bpmn(make_bpmn(task=timer_task(definition)), "t.bpmn").ok


@pytest.mark.parametrize(("definition", "reason"), [
    ("<bpmn:timeDuration>PT48H</bpmn:timeDuration>", "PT48H reads as a variable name; timer "
                                                     "expressions are Python"),
    ("<bpmn:timeDate>2030-01-31T12:00:00Z</bpmn:timeDate>", "ISO 8601 text must be quoted"),
    ("<bpmn:timeDuration>\"48 hours\"</bpmn:timeDuration>", "not an ISO 8601 duration"),
    ("<bpmn:timeDate>\"31/01/2030\"</bpmn:timeDate>", "not an ISO 8601 date-time"),
    ("<bpmn:timeCycle>\"every hour\"</bpmn:timeCycle>", "not an ISO 8601 repetition"),
    ("<bpmn:timeDuration>48</bpmn:timeDuration>", "must be ISO 8601 text"),
    ("<bpmn:timeDuration></bpmn:timeDuration>", "no expression"),
])
def test_bad_timers_are_problems(make_bpmn: MakeBpmn, definition: str, reason: str) -> None:
    problem = only_problem(validate_bpmn(make_bpmn(task=timer_task(definition)), "t.bpmn"))
    assert problem.element_id == "Task_1"
    assert reason in problem.reason


def test_message_payload_and_correlation_expressions_are_checked(make_bpmn: MakeBpmn) -> None:
    task = ('<bpmn:intermediateThrowEvent id="Task_1"><bpmn:messageEventDefinition id="M" '
            'messageRef="Message_1"><bpmn:extensionElements><spiffworkflow:messagePayload>'
            "{'lot': lot.__dict__}</spiffworkflow:messagePayload></bpmn:extensionElements>"
            "</bpmn:messageEventDefinition></bpmn:intermediateThrowEvent>")
    extra = '<bpmn:message id="Message_1" name="lot_released" />'
    problem = only_problem(validate_bpmn(make_bpmn(task=task, extra=extra), "t.bpmn"))
    assert problem.element_id == "Task_1"
    assert problem.reason.startswith('Event payload: Line 1: "__dict__" is an invalid attribute')


def test_business_rule_tasks_are_not_supported(make_bpmn: MakeBpmn) -> None:
    task = '<bpmn:businessRuleTask id="Task_1" />'
    problem = only_problem(validate_bpmn(make_bpmn(task=task), "t.bpmn"))
    assert (problem.element_id, problem.reason.split(";")[0]) == (
        "Task_1", "Business rule tasks (DMN) are not supported")


def test_a_property_without_value_is_a_problem(make_bpmn: MakeBpmn) -> None:
    task = ('<bpmn:userTask id="Task_1"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="step" /></spiffworkflow:properties>'
            "</bpmn:extensionElements></bpmn:userTask>")
    problem = only_problem(validate_bpmn(make_bpmn(task=task), "t.bpmn"))
    assert problem.element_id == "Task_1"
    assert "needs both name and value" in problem.reason


# --- which process is main ----------------------------------------------------------------


def library_process(process_id: str = "lib", main: bool = False, executable: bool = True) -> str:
    marker = properties(main="true") if main else ""
    flag = "true" if executable else "false"
    return (f'<bpmn:process id="{process_id}" isExecutable="{flag}">{marker}'
            f'<bpmn:startEvent id="{process_id}_start" /></bpmn:process>')


def test_several_executable_processes_need_a_main_one(make_bpmn: MakeBpmn) -> None:
    result = validate_bpmn(make_bpmn(extra=library_process()), "t.bpmn")
    problem = only_problem(result)
    assert problem.element_id == DOCUMENT
    assert "several executable processes (p, lib)" in problem.reason
    assert result.process_key is None


def test_the_process_marked_main_is_the_one_to_start(make_bpmn: MakeBpmn) -> None:
    xml = make_bpmn(extra=library_process("lib", main=True))
    result = validate_bpmn(xml, "t.bpmn")
    assert result.ok and result.process_key == "lib"


def test_a_non_executable_extra_process_is_ignored(make_bpmn: MakeBpmn) -> None:
    result = validate_bpmn(make_bpmn(extra=library_process(executable=False)), "t.bpmn")
    assert result.ok and result.process_key == "p"


def test_two_main_processes_are_a_problem(make_bpmn: MakeBpmn) -> None:
    xml = make_bpmn(extra=library_process("a", main=True) + library_process("b", main=True))
    assert "More than one process is marked main: a, b." in reasons(validate_bpmn(xml, "t"))


# --- other modelers -----------------------------------------------------------------------


def test_a_camunda_modeler_file_gets_a_problem_per_element() -> None:
    result = validate_bpmn(bpmn_file("camunda_modeler.bpmn"), "camunda_modeler.bpmn")
    assert result.process_key == "approve_order"
    assert {(p.element_id, p.reason.split(" (")[0].split(";")[0]) for p in result.problems} == {
        ("Task_approve", "The user task has no 'step' property"),
        ("Task_approve", "The user task is not in a lane"),
        ("Timer_reminder", "Timer 'PT1H': PT1H reads as a variable name"),
        ("Flow_3", "Condition '${approved}': Line 1: SyntaxError: invalid syntax at statement: "
                   "'${approved}'"),
    }


def test_a_signavio_export_without_executable_process_says_so() -> None:
    result = validate_bpmn(bpmn_file("signavio_like.bpmn"), "signavio_like.bpmn")
    problem = only_problem(result)
    assert problem.element_id == DOCUMENT
    assert "no executable process" in problem.reason


def test_a_signavio_export_made_executable_lists_the_missing_conventions() -> None:
    xml = bpmn_file("signavio_like.bpmn").replace(b'isExecutable="false"', b'isExecutable="true"')
    result = validate_bpmn(xml, "signavio_like.bpmn")
    assert result.process_key == "sid-process"
    assert {p.element_id for p in result.problems} == {"sid-task"}
    assert len(result.problems) == 2


def test_plain_bpmn_io_without_spiff_extensions_is_read() -> None:
    xml = bpmn_file("receiving.bpmn").replace(b'xmlns:spiffworkflow="http://spiffworkflow.org/'
                                              b'bpmn/schema/1.0/core"', b"")
    result = validate_bpmn(xml, "receiving.bpmn")
    assert not result.ok
    assert all(p.element_id == DOCUMENT for p in result.problems)
    assert "not well-formed XML" in result.problems[0].reason


# --- hostile or broken input --------------------------------------------------------------

BROKEN: list[tuple[bytes, str]] = [
    (b"", "The file is empty."),
    (b"   \n", "The file is empty."),
    (b"\x00\xff\xfe binary", "not well-formed XML"),
    (b"just some text", "not well-formed XML"),
    (b"<a><b></a>", "not well-formed XML"),
    (b"<?xml version='1.0'?><html><body/></html>", "root element is 'html'"),
    (b'<definitions xmlns="http://www.omg.org/spec/DMN/20151101/dmn.xsd" />', "not a BPMN 2.0"),
    (HEADER.encode() + b"<bpmn:process id='p'><bpmn:unknownThing/></bpmn:process>"
                       b"</bpmn:definitions>", "Not valid BPMN 2.0"),
    (HEADER.encode() + b"<bpmn:process id='p' isExecutable='true'/></bpmn:definitions>",
     "No start event found"),
    (bpmn_file("receiving.bpmn")[:3000], "not well-formed XML"),
]


@pytest.mark.parametrize(("xml", "reason"), BROKEN)
def test_broken_input_gives_problems_not_exceptions(xml: bytes, reason: str) -> None:
    result = validate_bpmn(xml, "broken.bpmn")
    assert not result.ok
    assert any(reason in p.reason for p in result.problems), result.problems
    assert all(p.element_id and p.reason for p in result.problems)


def test_text_instead_of_bytes_is_read(make_bpmn: MakeBpmn) -> None:
    assert validate_bpmn(make_bpmn().decode(), "t.bpmn").ok  # type: ignore[arg-type]


def test_a_huge_file_is_refused_without_parsing(make_bpmn: MakeBpmn) -> None:
    padding = b"<!--" + b"x" * MAX_BPMN_BYTES + b"-->"
    result = validate_bpmn(make_bpmn() + padding, "huge.bpmn")
    assert reasons(result) == [f"The file is larger than {MAX_BPMN_BYTES} bytes."]


def test_deep_nesting_is_refused() -> None:
    depth = 200
    nested = "<bpmn:documentation>" * depth + "</bpmn:documentation>" * depth
    xml = HEADER + f'<bpmn:process id="p">{nested}</bpmn:process></bpmn:definitions>'
    result = validate_bpmn(xml.encode(), "deep.bpmn")
    assert not result.ok
    assert result.problems[0].element_id == DOCUMENT


def test_very_many_elements_are_refused() -> None:
    many = "<bpmn:documentation/>" * 25_000
    xml = HEADER + f'<bpmn:process id="p">{many}</bpmn:process></bpmn:definitions>'
    assert reasons(validate_bpmn(xml.encode(), "many.bpmn")) == [
        "The file has more than 20000 elements."]


def test_a_very_long_chain_of_tasks_is_a_problem_not_a_crash() -> None:
    count = 1500
    tasks = "".join(f'<bpmn:scriptTask id="T{i}"><bpmn:script>x = {i}</bpmn:script>'
                    "</bpmn:scriptTask>" for i in range(count))
    flows = '<bpmn:sequenceFlow id="F_s" sourceRef="S" targetRef="T0"/>' + "".join(
        f'<bpmn:sequenceFlow id="F{i}" sourceRef="T{i}" targetRef="T{i + 1}"/>'
        for i in range(count - 1))
    xml = (HEADER + f'<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="S"/>{tasks}'
           f"{flows}</bpmn:process></bpmn:definitions>")
    result = validate_bpmn(xml.encode(), "chain.bpmn")
    assert not result.ok
    assert any("chained too long" in p.reason for p in result.problems)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-VALUE")
    return path


def test_an_xxe_file_entity_is_refused_and_not_read(secret_file: Path) -> None:
    xml = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file://{secret_file}">]>'
           + HEADER.split("?>", 1)[1]
           + '<bpmn:process id="p" name="&xxe;" isExecutable="true"><bpmn:startEvent id="s"/>'
             "</bpmn:process></bpmn:definitions>").encode()
    result = validate_bpmn(xml, "xxe.bpmn")
    assert not result.ok
    assert reasons(result) == ["DOCTYPE declarations (DTDs, entities) are not allowed."]
    assert "TOP-SECRET" not in repr(result)
    with pytest.raises(DefinitionInvalid) as caught:
        load_spec(xml, "p")
    assert "TOP-SECRET" not in repr(caught.value.problems)


def test_a_billion_laughs_payload_is_refused_quickly() -> None:
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE d [{entities}]>' + HEADER.split("?>", 1)[1]
           + '<bpmn:process id="p" name="&a9;"/></bpmn:definitions>').encode()
    assert reasons(validate_bpmn(xml, "lol.bpmn")) == [
        "DOCTYPE declarations (DTDs, entities) are not allowed."]


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request made to it."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = b'<!ENTITY leak "LEAKED">'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_external_dtds_and_entities_never_touch_the_network(
    listener: tuple[str, list[str]],
) -> None:
    url, requests = listener
    body = HEADER.split("?>", 1)[1] + '<bpmn:process id="p" name="&leak;"/></bpmn:definitions>'
    payloads = [
        f'<?xml version="1.0"?><!DOCTYPE d SYSTEM "{url}/external.dtd">{body}',
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "{url}/param.dtd"> %p;]>{body}',
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY leak SYSTEM "{url}/entity">]>{body}',
        HEADER + f'<bpmn:import importType="http://www.w3.org/2001/XMLSchema" '
                 f'location="{url}/schema.xsd" namespace="urn:x"/></bpmn:definitions>',
    ]
    for payload in payloads:
        result = validate_bpmn(payload.encode(), "net.bpmn")
        assert not result.ok
        assert "LEAKED" not in repr(result)
        with pytest.raises(DefinitionInvalid):
            load_spec(payload.encode(), "p")
    assert requests == []


# --- loading for the runtime --------------------------------------------------------------


def test_load_spec_returns_the_process_and_the_processes_it_calls() -> None:
    spec, subprocess_specs = load_spec(bpmn_file("receiving.bpmn"), "receiving_inspection",
                                       {"putaway.bpmn": bpmn_file("putaway.bpmn")})
    assert spec.name == "receiving_inspection"
    assert set(subprocess_specs) == {"putaway"}
    assert "Task_putaway" in subprocess_specs["putaway"].task_specs


def test_load_spec_refuses_a_missing_called_process() -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        load_spec(bpmn_file("receiving.bpmn"), "receiving_inspection")
    assert "putaway" in str(caught.value.problems)


def test_load_spec_refuses_an_unknown_key(make_bpmn: MakeBpmn) -> None:
    with pytest.raises(DefinitionInvalid, match="cannot be loaded"):
        load_spec(make_bpmn(), "nope")


def test_load_spec_refuses_broken_input() -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        load_spec(b"<nope/>", "p")
    assert caught.value.problems[0].element_id == DOCUMENT
    assert caught.value.status == 422


def test_a_task_with_two_outgoing_flows_is_told_to_use_a_gateway(make_bpmn: MakeBpmn) -> None:
    result = validate_bpmn(make_bpmn(
        '<bpmn:endEvent id="End_2" />'
        '<bpmn:sequenceFlow id="Flow_3" sourceRef="Task_1" targetRef="End_2" />'), "t.bpmn")
    problem = only_problem(result)
    assert problem.element_id == "Task_1"
    assert problem.reason.endswith("for tasks of type userTask: put a gateway after it to split "
                                   "the flows"), problem.reason


def test_a_refusal_quotes_a_huge_value_clipped(make_bpmn: MakeBpmn) -> None:
    huge = "x" * 50_000
    result = validate_bpmn(make_bpmn(task=user_task(step=huge)), "t.bpmn")
    problem = only_problem(result)
    assert "…' is not of the form area.action" in problem.reason
    assert len(problem.reason) < 300
    lane = validate_bpmn(make_bpmn(lane=huge), "t.bpmn")
    assert "…' names no role" in only_problem(lane).reason
    assert len(only_problem(lane).reason) < 400

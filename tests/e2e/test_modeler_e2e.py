"""In a browser: a process owner edits what deploying checks (a task's step, due hours,
signature, form; a new task's kind and step; a script, a condition, a timer; the connector a
service task calls, its result variable and parameters) in the modeler's properties panel,
checks the diagram and deploys it; spiffworkflow elements the panel does not know come back
from the modeler unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from lxml import etree

from engine import audit
from engine.db import db
from engine.workflow import store
from engine.workflow.runtime import current_runtime
from tests.e2e.test_workflow_e2e import log_in
from tests.support.factories import PASSWORD

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parents[1] / "integration" / "workflow" / "bpmn"
SAMPLES = Path(__file__).resolve().parents[1] / "unit" / "workflow" / "bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
#: Written by SpiffArena, unknown to the panel: they must come back as they went in.
EXTRAS = ("<spiffworkflow:instructionsForEndUser>Check the seal &amp; the label &lt;twice&gt;."
          "</spiffworkflow:instructionsForEndUser>"
          "<spiffworkflow:preScript>checked_by = 'inspector'</spiffworkflow:preScript>")
UNKNOWN_PROPERTY = '<spiffworkflow:property name="colour" value="blue" />'


def quick_check(extras: str = "") -> bytes:
    """The one-lane quick check, its end event moved right to leave room for a new task."""
    xml = (HERE / "quick_check.bpmn").read_text(encoding="utf-8")
    for old, new in (('width="560"', 'width="760"'), ('width="530"', 'width="730"'),
                     ('x="572"', 'x="772"')):
        xml = xml.replace(old, new)
    if extras:  # into and after the properties of Task_check
        xml = xml.replace("\n        </spiffworkflow:properties>\n      </bpmn:extensionElements>",
                          UNKNOWN_PROPERTY + "</spiffworkflow:properties>" + extras +
                          "\n      </bpmn:extensionElements>", 1)
    return xml.encode("utf-8")



def point_on(page: Any, element_id: str) -> tuple[float, float]:
    """Where on the screen an element of the canvas can be clicked, nothing covering it: a
    shape near its middle, a flow somewhere along it."""
    x, y = page.evaluate("""(id) => {
        const hit = document.querySelector(`#modeler [data-element-id="${id}"] .djs-hit`);
        const matrix = hit.getScreenCTM();
        for (const share of [0.5, 0.3, 0.7, 0.15, 0.85, 0.4, 0.6]) {
          const local = hit.tagName === "rect"
            ? new DOMPoint(hit.width.baseVal.value * share, hit.height.baseVal.value * 0.7)
            : hit.getPointAtLength(hit.getTotalLength() * share);
          const point = local.matrixTransform(matrix);
          const found = document.elementFromPoint(point.x, point.y);
          const owner = found && found.closest("[data-element-id]");
          if (owner && owner.dataset.elementId === id) { return [point.x, point.y]; }
        }
        throw new Error(`${id} is covered everywhere`);
    }""", element_id)
    return x, y


def click_element(page: Any, element_id: str) -> None:
    page.mouse.click(*point_on(page, element_id))


def select(page: Any, element_id: str) -> Any:
    """Select an element (clicking a selected one would unselect it); the panel showing it."""
    panel = page.locator("#properties")
    if panel.get_attribute("data-element") != element_id:
        click_element(page, element_id)
    page.locator(f'#properties[data-element="{element_id}"]').wait_for()
    return panel


def enter(panel: Any, name: str, value: str) -> None:
    """Type into a panel field and leave it (the edit is made when the field is left)."""
    field = panel.locator(f"[data-property={name}]")
    field.fill(value)
    field.press("Tab")


def check(page: Any) -> tuple[str, str]:
    """Press Check: the XML the modeler sent and the verdict it shows."""
    status = page.locator("[data-check-status]")
    with page.expect_request("**/processes/check") as sent:
        page.get_by_role("button", name="Check", exact=True).click()
    page.locator("[data-check-status].ok, [data-check-status].bad").wait_for()
    return json.loads(sent.value.post_data)["xml"], status.inner_text()


def properties(element: Any) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in element.iterfind(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)}



def deploy_version_2(app: Flask, page: Any, note: str) -> Any:
    """Deploy the modeler's diagram as quick_check version 2, signed by olga; its XML root."""
    page.locator("#note").fill(note)
    page.locator("#sig-username").fill("olga")
    page.locator("#sig-password").fill(PASSWORD)
    page.get_by_role("button", name="Deploy as new version").click()
    page.wait_for_url("**/processes/definitions/*")
    assert "Deployed quick_check version 2, signed." in page.locator(".flash").inner_text()
    with app.app_context():
        deployed = store.active_definition("quick_check")
        assert deployed is not None and deployed.version == 2
        return etree.fromstring(deployed.bpmn_xml.encode("utf-8"))


def test_a_process_owner_edits_checks_and_deploys_with_the_properties_panel(
    app: Flask, live_server: str, page: Any, screenshot: Any, make_user: Any, errors: list[str]
) -> None:
    make_user("olga", "process_owner")
    with app.app_context():
        store.deploy(audit.SYSTEM, quick_check(), "quick_check.bpmn")
        db.session.commit()
    log_in(page, live_server, "olga")
    page.goto(f"{live_server}/processes/quick_check/modeler")
    page.locator("#modeler[data-state=ready]").wait_for()
    panel = page.locator("#properties[data-state=ready]")
    assert "Process id" in panel.inner_text(), "nothing selected: the process"

    panel = select(page, "Task_check")
    assert panel.locator("[data-property=step]").input_value() == "general.check"
    enter(panel, "step", "Receiving inspect")
    assert panel.locator(".field-error:visible").inner_text().startswith("Not of the form")
    enter(panel, "step", "receiving.inspect")
    assert panel.locator(".field-error:visible").count() == 0
    enter(panel, "due_hours", "12")
    panel.locator("[data-property=signature]").select_option("performed")
    form = panel.locator("[data-property=form]")
    form.fill('{"fields": [')
    assert "Not valid JSON" in panel.locator(".field-error:visible").inner_text()
    form.fill('{"fields": [{"name": "result", "type": "enum", "options": ["passed", "failed"], '
              '"required": true, "label": {"en": "Result", "zh": "结果"}}]}')
    form.press("Tab")
    assert panel.locator(".field-error:visible").count() == 0
    page.locator("#modeler[data-edited=true]").wait_for()
    screenshot("modeler-panel-user-task")

    # A new task from the palette, dropped on the flow to the end: it lands in the lane, between.
    page.locator('.djs-palette [data-action="create.task"]').click()
    x, y = point_on(page, "Flow_check_end")
    page.mouse.move(x - 40, y - 40, steps=4)
    page.mouse.move(x, y, steps=4)
    page.mouse.click(x, y)
    page.keyboard.type("Second check")
    panel.locator("[data-property=name]").click()  # finishes the label typed on the canvas
    new_id = panel.get_attribute("data-element") or ""
    assert new_id.startswith("Activity_")
    assert panel.locator("[data-property=name]").input_value() == "Second check"
    panel.locator("[data-property=type]").select_option("bpmn:UserTask")
    page.locator(f'#modeler .djs-element[data-element-id="{new_id}"]').wait_for()
    panel = select(page, new_id)
    assert panel.locator("[data-property=type]").input_value() == "bpmn:UserTask"

    _xml, verdict = check(page)
    assert verdict == "Deploying would be refused: correct the problems listed."
    problem = page.locator(f'[data-check-problems] li[data-element="{new_id}"]')
    assert "has no 'step' property" in problem.inner_text()
    click_element(page, "StartEvent_1")
    problem.get_by_role("button").click()  # the problem selects its element
    page.locator(f'#properties[data-element="{new_id}"]').wait_for()
    enter(panel, "step", "general.second_check")
    enter(panel, "due_hours", "2")
    _xml, verdict = check(page)
    assert verdict == "No problems found in the diagram."
    screenshot("modeler-panel-checked")

    root = deploy_version_2(app, page, "Inspect as a receiving step; a second check after it.")
    first = properties(root.find(".//bpmn:userTask[@id='Task_check']", NS))
    assert json.loads(first.pop("form"))["fields"][0]["name"] == "result"
    assert first == {"step": "receiving.inspect", "due_hours": "12", "signature": "performed"}
    second = root.find(f".//bpmn:userTask[@id='{new_id}']", NS)
    assert second.get("name") == "Second check"
    assert properties(second) == {"step": "general.second_check", "due_hours": "2"}
    lane = root.find(".//bpmn:lane[@id='Lane_inspector']", NS)
    assert new_id in [ref.text for ref in lane.iterfind("bpmn:flowNodeRef", NS)]
    flows = {(f.get("sourceRef"), f.get("targetRef"))
             for f in root.iterfind(".//bpmn:sequenceFlow", NS)}
    assert {("Task_check", new_id), (new_id, "EndEvent_1")} <= flows

    # The same panel in Chinese.
    page.goto(f"{live_server}/lang/zh?next=/processes/quick_check/modeler")
    page.locator("#modeler[data-state=ready]").wait_for()
    panel = select(page, "Task_check")
    assert "步骤" in panel.inner_text() and "处理时限（小时）" in panel.inner_text()
    screenshot("modeler-panel-zh")
    assert errors == [], errors


def test_a_script_a_condition_and_a_timer_are_edited_in_the_panel(
    app: Flask, live_server: str, page: Any, screenshot: Any, make_user: Any, errors: list[str]
) -> None:
    make_user("olga", "process_owner")
    with app.app_context():
        for name in ("putaway.bpmn", "receiving.bpmn"):
            store.deploy(audit.SYSTEM, (SAMPLES / name).read_bytes(), name)
        db.session.commit()
    log_in(page, live_server, "olga")
    page.goto(f"{live_server}/processes/receiving_inspection/modeler")
    page.locator("#modeler[data-state=ready]").wait_for()

    panel = select(page, "Script_totals")
    script = panel.locator("[data-property=script]")
    assert script.input_value().strip()
    enter(panel, "script", "expected_qty = 1")
    panel = select(page, "Flow_accepted")
    assert "conclusion ==" in panel.locator("[data-property=condition]").input_value()
    enter(panel, "condition", 'conclusion == "accepted"')
    assert not panel.locator("[data-property=default]").is_checked()
    panel = select(page, "Flow_rejected")
    assert panel.locator("[data-property=default]").is_checked()
    panel.locator("[data-property=default]").uncheck()  # both flows get a condition instead
    enter(panel, "condition", 'conclusion == "rejected"')
    panel = select(page, "Timer_inspection_overdue")
    assert panel.locator("[data-property=timer_expression]").input_value() == "inspection_window"
    panel.locator("[data-property=timer_kind]").select_option("timeCycle")
    enter(panel, "timer_expression", '"R3/PT1H"')
    screenshot("modeler-panel-timer")
    xml, _verdict = check(page)

    root = etree.fromstring(xml.encode("utf-8"))
    assert root.find(".//bpmn:scriptTask[@id='Script_totals']/bpmn:script", NS).text == (
        "expected_qty = 1")
    flow = root.find(".//bpmn:sequenceFlow[@id='Flow_accepted']", NS)
    assert flow.find("bpmn:conditionExpression", NS).text == 'conclusion == "accepted"'
    flow = root.find(".//bpmn:sequenceFlow[@id='Flow_rejected']", NS)
    assert flow.find("bpmn:conditionExpression", NS).text == 'conclusion == "rejected"'
    assert root.find(".//bpmn:exclusiveGateway[@id='Gateway_conclusion']", NS).get(
        "default") is None
    timer = root.find(".//bpmn:boundaryEvent[@id='Timer_inspection_overdue']"
                      "/bpmn:timerEventDefinition", NS)
    assert [child.tag.split("}")[1] for child in timer] == ["timeCycle"]
    assert timer.find("bpmn:timeCycle", NS).text == '"R3/PT1H"'
    assert errors == [], errors


def test_spiffworkflow_elements_the_panel_does_not_know_survive_the_modeler(
    app: Flask, live_server: str, page: Any, make_user: Any, errors: list[str]
) -> None:
    make_user("olga", "process_owner")
    original = quick_check(EXTRAS)
    with app.app_context():
        store.deploy(audit.SYSTEM, original, "quick_check.bpmn")
        db.session.commit()
    log_in(page, live_server, "olga")
    page.goto(f"{live_server}/processes/quick_check/modeler")
    page.locator("#modeler[data-state=ready]").wait_for()

    def extras(xml: str | bytes) -> list[bytes]:
        root = etree.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
        task = root.find(".//*[@id='Task_check']", NS)
        found = task.find("bpmn:extensionElements", NS)
        return [etree.tostring(element, method="c14n", exclusive=True, with_tail=False)
                for element in found.iter(f"{{{NS['spiffworkflow']}}}*")
                if etree.QName(element).localname != "properties"
                and element.get("name") not in ("step", "form", "due_hours")]

    opened_and_saved, verdict = check(page)
    assert verdict == "No problems found in the diagram."
    assert len(extras(original)) == 3, "the unknown property and the two unknown elements"
    assert extras(opened_and_saved) == extras(original)

    # Edited in the panel, and made a manual task: the unknown elements still come along.
    panel = select(page, "Task_check")
    enter(panel, "due_hours", "6")
    panel.locator("[data-property=type]").select_option("bpmn:ManualTask")
    panel = select(page, "Task_check")
    assert panel.locator("[data-property=step]").input_value() == "general.check"
    edited, verdict = check(page)
    assert verdict == "No problems found in the diagram."
    assert extras(edited) == extras(original)
    task = etree.fromstring(edited.encode("utf-8")).find(".//*[@id='Task_check']", NS)
    assert etree.QName(task).localname == "manualTask"
    assert properties(task)["due_hours"] == "6" and properties(task)["step"] == "general.check"
    assert errors == [], errors


def stock_check(connector: str = "gxpflow.stock_on_hand") -> bytes:
    """The stock check with a diagram (the file has none: the engine does not need one)."""
    shapes = (("Participant_stock_check", 100, 60, 600, 180, True),
              ("Lane_inspector", 130, 60, 570, 180, True),
              ("StartEvent_1", 182, 132, 36, 36, False), ("Task_count", 270, 110, 100, 80, False),
              ("Task_review", 420, 110, 100, 80, False), ("EndEvent_1", 572, 132, 36, 36, False))
    edges = (("Flow_1", 218, 270), ("Flow_2", 370, 420), ("Flow_3", 520, 572))
    horizontal = {True: ' isHorizontal="true"', False: ""}
    di = "".join(
        f'<bpmndi:BPMNShape id="{id_}_di" bpmnElement="{id_}"{horizontal[pool]}>'
        f'<dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}" /></bpmndi:BPMNShape>'
        for id_, x, y, w, h, pool in shapes) + "".join(
        f'<bpmndi:BPMNEdge id="{id_}_di" bpmnElement="{id_}"><di:waypoint x="{start}" y="150" />'
        f'<di:waypoint x="{end}" y="150" /></bpmndi:BPMNEdge>' for id_, start, end in edges)
    xml = (HERE / "stock_check.bpmn").read_text(encoding="utf-8")
    xml = xml.replace("gxpflow.stock_on_hand", connector).replace(
        "<bpmn:definitions ", '<bpmn:definitions xmlns:bpmndi="http://www.omg.org/spec/BPMN/'
        '20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
        'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" ', 1).replace(
        "</bpmn:definitions>", '<bpmndi:BPMNDiagram id="BPMNDiagram_1"><bpmndi:BPMNPlane '
        f'id="BPMNPlane_1" bpmnElement="Collaboration_stock_check">{di}</bpmndi:BPMNPlane>'
        "</bpmndi:BPMNDiagram></bpmn:definitions>")
    return xml.encode("utf-8")


def service_call(task: Any) -> tuple[str | None, str | None, list[tuple[str, str, str]]]:
    """A service task's connector, result variable and parameters (name, type, expression)."""
    operator = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
    if operator is None:
        return None, None, []
    return operator.get("id"), operator.get("resultVariable"), [
        (p.get("id"), p.get("type"), p.get("value"))
        for p in operator.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS)]


def parameter_rows(panel: Any) -> list[tuple[str, str]]:
    return [(row.locator("[data-parameter-name]").input_value(),
             row.locator("[data-parameter-expression]").input_value())
            for row in panel.locator("[data-parameter]").all()]


def fill_parameter(panel: Any, number: int, name: str, expression: str) -> None:
    """Fill parameter row `number` (from 1) and leave it: the row is written."""
    row = panel.locator("[data-parameter]").nth(number - 1)
    row.locator("[data-parameter-name]").fill(name)
    row.locator("[data-parameter-expression]").fill(expression)
    row.locator("[data-parameter-expression]").press("Tab")


def test_a_task_becomes_a_service_task_calling_a_connector(
    app: Flask, live_server: str, page: Any, screenshot: Any, make_user: Any, errors: list[str]
) -> None:
    make_user("olga", "process_owner")
    with app.app_context():
        store.deploy(audit.SYSTEM, quick_check(EXTRAS), "quick_check.bpmn")
        db.session.commit()
    log_in(page, live_server, "olga")
    page.goto(f"{live_server}/processes/quick_check/modeler")
    page.locator("#modeler[data-state=ready]").wait_for()

    panel = select(page, "Task_check")
    panel.locator("[data-property=type]").select_option("bpmn:ServiceTask")
    page.locator('#modeler .djs-element[data-element-id="Task_check"]').wait_for()
    panel = select(page, "Task_check")
    assert "Service call" in panel.inner_text()
    connector = panel.locator("[data-property=connector]")
    assert connector.input_value() == ""
    assert "names the connector it calls" in panel.locator(".field-error:visible").inner_text()
    connector.select_option("gxpflow.stock_on_hand")
    enter(panel, "result_variable", "1 stock")
    assert panel.locator(".field-error:visible").inner_text().startswith(
        "Not a Python identifier")
    enter(panel, "result_variable", "stock")
    assert panel.locator(".field-error:visible").count() == 0
    assert "No parameters." in panel.inner_text()
    add = panel.get_by_role("button", name="Add a parameter")
    add.click()
    fill_parameter(panel, 1, "product", '"P-100"')
    add.click()
    panel.locator("[data-parameter-expression]").nth(1).fill('"WH1"')
    assert "Parameter 2: the name is missing" in panel.locator("[role=alert]:visible").inner_text()
    fill_parameter(panel, 2, "site", '"WH1"')
    add.click()
    fill_parameter(panel, 3, "lot", "None")
    panel.get_by_role("button", name="Remove parameter 3").click()
    assert parameter_rows(panel) == [("product", '"P-100"'), ("site", '"WH1"')]
    assert panel.locator(".field-error:visible").count() == 0
    panel.locator("[data-add-parameter]").scroll_into_view_if_needed()
    screenshot("modeler-panel-service-task")

    xml, verdict = check(page)
    assert verdict == "No problems found in the diagram.", page.locator(
        "[data-check-problems]").inner_text()
    task = etree.fromstring(xml.encode("utf-8")).find(".//*[@id='Task_check']", NS)
    assert etree.QName(task).localname == "serviceTask"
    assert service_call(task) == ("gxpflow.stock_on_hand", "stock",
                                  [("product", "str", '"P-100"'), ("site", "str", '"WH1"')])
    # The other spiffworkflow elements of the task came along, untouched.
    kept = [etree.QName(e).localname for e in task.find("bpmn:extensionElements", NS)]
    assert kept == ["properties", "instructionsForEndUser", "preScript", "serviceTaskOperator"]

    root = deploy_version_2(app, page, "The check reads the stock on hand.")
    assert service_call(root.find(".//bpmn:serviceTask[@id='Task_check']", NS)) == (
        "gxpflow.stock_on_hand", "stock",
        [("product", "str", '"P-100"'), ("site", "str", '"WH1"')])
    assert errors == [], errors


def test_a_service_task_shows_its_connector_result_and_parameters(
    app: Flask, live_server: str, page: Any, screenshot: Any, make_user: Any, errors: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_user("olga", "process_owner")
    with app.app_context():
        store.deploy(audit.SYSTEM, stock_check(), "stock_check.bpmn")
        db.session.commit()
    log_in(page, live_server, "olga")
    page.goto(f"{live_server}/processes/stock_check/modeler")
    page.locator("#modeler[data-state=ready]").wait_for()

    panel = select(page, "Task_count")
    assert panel.locator("[data-property=type]").input_value() == "bpmn:ServiceTask"
    assert panel.locator("[data-property=connector]").input_value() == "gxpflow.stock_on_hand"
    assert panel.locator("[data-property=result_variable]").input_value() == "stock"
    assert parameter_rows(panel) == [("product", "product"), ("site", "site")]
    assert panel.locator(".field-error:visible").count() == 0
    panel.locator("[data-add-parameter]").scroll_into_view_if_needed()
    screenshot("modeler-panel-stock-check")

    # Edited and undone: the panel shows the model as it was.
    panel.get_by_role("button", name="Remove parameter 1").click()
    assert parameter_rows(panel) == [("site", "site")]
    click_element(page, "Task_count")
    page.keyboard.press("Control+z")
    panel = select(page, "Task_count")
    assert parameter_rows(panel) == [("product", "product"), ("site", "site")]
    xml, _verdict = check(page)
    task = etree.fromstring(xml.encode("utf-8")).find(".//*[@id='Task_count']", NS)
    assert service_call(task) == ("gxpflow.stock_on_hand", "stock",
                                  [("product", "str", "product"), ("site", "str", "site")])

    # A connector the server does not know (its plugin is gone) is shown as such, not lost.
    with app.app_context():
        monkeypatch.setitem(current_runtime().connectors, "acme.weigh", lambda **_: {})
        store.deploy(audit.SYSTEM, stock_check("acme.weigh"), "stock_check.bpmn")
        db.session.commit()
    page.goto(f"{live_server}/processes/stock_check/modeler")
    page.locator("#modeler[data-state=ready]").wait_for()
    panel = select(page, "Task_count")
    connector = panel.locator("[data-property=connector]")
    assert connector.input_value() == "acme.weigh"
    assert connector.locator("option:checked").inner_text() == "acme.weigh (not registered)"
    assert "is not registered here" in panel.locator(".field-error:visible").inner_text()
    assert errors == [], errors

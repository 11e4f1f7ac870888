"""A process owner whose language is Chinese reads why a diagram is refused in Chinese, in the
modeler's Check and on the deploy page; in English, the same reasons read as before."""

from __future__ import annotations

import io
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.factories import PASSWORD
from tests.support.web import csrf_token, login

HERE = Path(__file__).resolve().parent / "bpmn"
QUICK_CHECK = (HERE / "quick_check.bpmn").read_text(encoding="utf-8")
STEP = '<spiffworkflow:property name="step" value="general.check" />'


def troubled_diagram() -> str:
    """The quick check with our problems: its task has no step, a bad due time, an unknown
    signature meaning and a form that is not JSON, in a lane naming no role; a script task
    before it imports a module."""
    task_properties = ('<spiffworkflow:property name="due_hours" value="soon" />'
                       '<spiffworkflow:property name="signature" value="blessed" />')
    xml = (QUICK_CHECK.replace(STEP, task_properties)
           .replace("value='{\"fields\": [{\"name\": \"result\"", "value='{oops \"fields\": "
                    "[{\"name\": \"result\"")
           .replace('name="Inspector (inspector)"', 'name="Boss"')
           .replace('<bpmn:sequenceFlow id="Flow_start_check" sourceRef="StartEvent_1" '
                    'targetRef="Task_check" />',
                    '<bpmn:sequenceFlow id="Flow_start_check" sourceRef="StartEvent_1" '
                    'targetRef="Script_1" /><bpmn:sequenceFlow id="Flow_script_check" '
                    'sourceRef="Script_1" targetRef="Task_check" />'
                    '<bpmn:scriptTask id="Script_1"><bpmn:script>import os</bpmn:script>'
                    "</bpmn:scriptTask>"))
    assert xml.count("Boss") == 1 and "soon" in xml and "{oops" in xml and "Script_1" in xml
    return xml


#: Each problem's element and the start of its reason, in each language.
EXPECTED = {
    "zh-CN": [
        ("Script_1", "脚本：第 1 行：不允许使用 import 语句"),
        ("Task_check", "用户任务没有 'step' 属性（它执行的合规步骤"),
        ("Task_check", "泳道 'Boss' 未指明任何角色：请以角色标识命名"),
        ("Task_check", "表单无效：表单不是有效的 JSON："),
        ("Task_check", "due_hours 'soon' 不是正数小时（最多 87600）。"),
        ("Task_check", "签名含义 'blessed' 不是以下之一：approved"),
    ],
    "en": [
        ("Script_1", "Script: Line 1: import statements are not allowed"),
        ("Task_check", "The user task has no 'step' property (the compliance step"),
        ("Task_check", "The lane 'Boss' names no role; name it after a role id"),
        ("Task_check", "The form is not valid: The form is not valid JSON: "),
        ("Task_check", "due_hours 'soon' is not a positive number of hours (at most 87600)."),
        ("Task_check", "The signature meaning 'blessed' is not one of approved"),
    ],
}


def owner(client: FlaskClient, make_user: Any) -> None:
    make_user("olga", "process_owner")
    login(client, "olga")


def matches(found: list[tuple[str, str]], expected: list[tuple[str, str]]) -> bool:
    """Whether the problems found are those expected, one for one (in any order)."""
    left = list(found)
    for element, start in expected:
        hit = next((item for item in left if item[0] == element and item[1].startswith(start)),
                   None)
        if hit is None:
            return False
        left.remove(hit)
    return not left


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_check_gives_the_reasons_in_the_owners_language(
    client: FlaskClient, make_user: Any, language: str
) -> None:
    owner(client, make_user)
    token = csrf_token(client, "/processes/modeler")
    response = client.post("/processes/check", json={"xml": troubled_diagram()}, headers={
        "Accept": "application/json", "X-CSRFToken": token, "Accept-Language": language})
    assert response.status_code == 200
    body = response.json
    assert body["ok"] is False
    found = [(p["element_id"], p["reason"]) for p in body["problems"]]
    assert matches(found, EXPECTED[language]), found
    if language == "zh-CN":
        assert body["message"] == "部署将被拒绝：请更正所列问题。"


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_deploy_page_lists_the_reasons_in_the_owners_language(
    client: FlaskClient, make_user: Any, language: str
) -> None:
    owner(client, make_user)
    token = csrf_token(client, "/processes/deploy")
    response = client.post("/processes/deploy", data={
        "csrf_token": token, "note": "first", "password": PASSWORD, "username": "olga",
        "file": (io.BytesIO(troubled_diagram().encode()), "troubled.bpmn"),
    }, content_type="multipart/form-data", headers={"Accept-Language": language})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    found = [(element, unescape(reason)) for element, reason in re.findall(
        r'<li data-element="([^"]+)"><code>[^<]*</code>(?: \([^)]*\))?: ([^<]*)</li>', page)]
    assert matches(found, EXPECTED[language]), found
    summary = re.search(r'class="flash error gx-refused"[^>]*>\s*<p>([^<]*)</p>', page)
    assert summary is not None
    assert summary.group(1) == ("文件被拒绝。" if language == "zh-CN" else "The file was refused.")
    if language == "zh-CN":
        assert "is not a positive number" not in page, "no English reason left on the page"

"""The modeler's Check: the diagram checked as deploying would check it, nothing deployed; only
for those who may deploy, with the CSRF token."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.db import db
from engine.workflow.models import ProcessDefinition
from tests.support.web import csrf_token, login

HERE = Path(__file__).resolve().parent / "bpmn"
QUICK_CHECK = (HERE / "quick_check.bpmn").read_text(encoding="utf-8")


def post_check(client: FlaskClient, body: Any, token: str | None = None, **kwargs: Any) -> Any:
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["X-CSRFToken"] = token
    return client.post("/processes/check", json=body, headers=headers, **kwargs)


def owner(client: FlaskClient, make_user: Any) -> str:
    """A process owner logged in on the modeler page; the CSRF token of that page."""
    make_user("olga", "process_owner")
    login(client, "olga")
    return csrf_token(client, "/processes/modeler")


def definitions(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(ProcessDefinition)) or 0)


def test_a_valid_diagram_passes_and_nothing_is_deployed(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    token = owner(client, make_user)
    response = post_check(client, {"xml": QUICK_CHECK}, token)
    assert response.status_code == 200
    assert response.json == {"ok": True, "process_key": "quick_check", "problems": [],
                             "message": "No problems found in the diagram."}
    assert definitions(app) == 0


def test_the_problems_name_their_elements(client: FlaskClient, make_user: Any) -> None:
    token = owner(client, make_user)
    no_step = re.sub(r'<spiffworkflow:property name="step" value="general.check" />', "",
                     QUICK_CHECK)
    found = post_check(client, {"xml": no_step}, token).json
    assert found["ok"] is False
    assert found["message"] == "Deploying would be refused: correct the problems listed."
    assert [p["element_id"] for p in found["problems"]] == ["Task_check"]
    assert "has no 'step' property" in found["problems"][0]["reason"]
    # the modeler editing another process: deploying would be refused, so the check says so
    other = post_check(client, {"xml": QUICK_CHECK, "key": "putaway"}, token).json
    assert other["ok"] is False and "the modeler is editing putaway" in (
        other["problems"][0]["reason"])


def test_bad_input_gives_problems_never_a_server_error(
    client: FlaskClient, make_user: Any
) -> None:
    token = owner(client, make_user)
    for xml in ("not xml at all", "", "<bpmn:definitions", "<x/>",
                '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "<a>" * 100_000):
        response = post_check(client, {"xml": xml}, token)
        assert response.status_code == 200, xml[:40]
        problems = response.json["problems"]
        assert response.json["ok"] is False and problems[0]["element_id"] == "(document)"
    for xml in ("\ud800", "<x>\x00</x>"):  # text no database could store: refused before
        response = post_check(client, {"xml": xml}, token)
        assert response.status_code == 422 and list(response.json["error"]["fields"]) == ["xml"]
    for body in ({"xml": 42}, ["xml"], "xml"):
        response = post_check(client, body, token)
        assert response.status_code == 400 and response.json["ok"] is False
    unreadable = client.post("/processes/check", data="not json", headers={
        "X-CSRFToken": token, "Content-Type": "application/json", "Accept": "application/json"})
    assert unreadable.status_code == 400 and unreadable.get_json()["ok"] is False


def test_only_those_who_may_deploy_check_and_only_with_the_csrf_token(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    assert post_check(client, {"xml": QUICK_CHECK}).status_code == 400  # no token: refused
    anonymous = post_check(client, {"xml": QUICK_CHECK}, csrf_token(client, "/auth/login"))
    assert anonymous.status_code == 302 and "/auth/login" in anonymous.headers["Location"]
    make_user("clara", "receiving_clerk")
    login(client, "clara")
    token = csrf_token(client, "/processes/")
    refused = post_check(client, {"xml": QUICK_CHECK}, token)
    assert refused.status_code == 403 and "problems" not in refused.json
    owners = app.test_client()
    token = owner(owners, make_user)
    forged = post_check(owners, {"xml": QUICK_CHECK})
    assert forged.status_code == 400 and forged.json["error"]["code"] == "csrf"
    assert post_check(owners, {"xml": QUICK_CHECK}, "forged-token").status_code == 400
    assert post_check(owners, {"xml": QUICK_CHECK}, token).json["ok"] is True
    assert definitions(app) == 0

"""A message starts every process whose start event catches it, with its payload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine import audit
from engine.db import db
from engine.workflow import store
from engine.workflow.messages import start_by_message
from engine.workflow.models import HumanTask
from engine.workflow.runtime import current_runtime

BPMN = Path(__file__).parent / "bpmn" / "message_start.bpmn"


def test_a_message_starts_the_process_with_its_payload(ctx: Any, make_user: Any) -> None:
    store.deploy(audit.SYSTEM, BPMN.read_bytes(), "message_start.bpmn")
    db.session.commit()
    started = start_by_message(audit.SYSTEM, "complaint_received",
                               {"customer": "CUS-1", "text": "Display flickers"},
                               subject="Complaint CUS-1")
    db.session.commit()
    assert len(started) == 1
    task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == started[0].id))
    assert task is not None and task.step == "vigilance.report" and task.status == "open"
    workflow = current_runtime().load(started[0])
    ready = next(t for t in workflow.get_tasks() if t.task_spec.name == "Task_assess")
    assert ready.data["complaint"] == {"customer": "CUS-1", "text": "Display flickers"}
    assert start_by_message(audit.SYSTEM, "nobody_listens", {}) == []


def test_the_api_starts_instances_and_sends_messages(app: Any, client: Any,
                                                      make_user: Any) -> None:
    from tests.integration.api.test_api_basics import make_token

    with app.app_context():
        store.deploy(audit.SYSTEM, BPMN.read_bytes(), "message_start.bpmn")
        db.session.commit()
    token = make_token(app, make_user)
    auth = {"Authorization": f"Bearer {token}"}
    refused = client.post("/api/v1/processes/complaint_intake/instances", json={}, headers=auth)
    assert refused.status_code == 422 and "key" in refused.get_json()["error"]["fields"]
    bad = client.post("/api/v1/messages/complaint_received", json={"payload": "x"},
                      headers=auth)
    assert bad.status_code == 422 and "payload" in bad.get_json()["error"]["fields"]
    sent = client.post("/api/v1/messages/complaint_received",
                       json={"payload": {"customer": "CUS-9"}, "subject": "Complaint CUS-9"},
                       headers=auth)
    assert sent.status_code == 200, sent.get_json()
    body = sent.get_json()
    assert body["reached"] == [] and len(body["started"]) == 1
    assert body["started"][0]["process_key"] == "complaint_intake"
    assert body["started"][0]["subject"] == "Complaint CUS-9"


def test_the_api_starts_a_startable_process(app: Any, client: Any, make_user: Any) -> None:
    from tests.integration.api.test_api_basics import make_token

    with app.app_context():
        store.deploy(audit.SYSTEM, (BPMN.parent / "quick_check.bpmn").read_bytes(),
                     "quick_check.bpmn")
        db.session.commit()
        key = store.definitions()[0].key
    token = make_token(app, make_user)
    started = client.post(f"/api/v1/processes/{key}/instances",
                          json={"subject": "From the ERP", "data": {"lot": "L-77"}},
                          headers={"Authorization": f"Bearer {token}"})
    assert started.status_code == 201, started.get_json()
    assert started.get_json()["subject"] == "From the ERP"
    missing = client.post("/api/v1/processes/no_such_process/instances", json={},
                          headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 404
    nowhere = client.post(f"/api/v1/processes/{key}/instances",
                          json={"subject": "From the ERP", "data": {"lot": "L-78"},
                                "site": "Shanghai"},
                          headers={"Authorization": f"Bearer {token}"})
    assert nowhere.status_code == 422, "an unknown site would run the instance ungated"
    assert "Shanghai" in nowhere.get_json()["error"]["fields"]["site"]

"""The workflow pages as people use them: the inbox per role, claiming, completing a task
through its form (errors, signature, four-eyes, the gate), deploying BPMN (signed, refused
files shown with the element and reason), starting and administering instances."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import audit
from engine.audit import AuditEvent
from engine.db import db, utcnow
from engine.identity import service as identity
from engine.masterdata import service as md
from engine.workflow import store
from engine.workflow.models import HumanTask, ProcessDefinition, ProcessInstance, TaskHistory
from engine.workflow.runtime import GateOutcome, Runtime, StepContext, current_runtime
from tests.integration.workflow.conftest import SAMPLES, START_DATA
from tests.support.factories import PASSWORD
from tests.support.web import csrf_token, login, started_instance, submit

HERE = Path(__file__).resolve().parent / "bpmn"


@pytest.fixture
def samples(app: Flask) -> None:
    """The sample receiving and put-away processes, deployed (no app context left pushed: the
    test client's requests each get their own, as in production)."""
    with app.app_context():
        for name in ("putaway.bpmn", "receiving.bpmn"):
            store.deploy(audit.SYSTEM, (SAMPLES / name).read_bytes(), name)
        db.session.commit()


@contextmanager
def engine(app: Flask) -> Iterator[Runtime]:
    """A short app context to call the runtime in, committed at the end."""
    with app.app_context():
        yield current_runtime()
        db.session.commit()
        db.session.remove()


def start_receiving(app: Flask, starter: str, subject: str = "PO-1") -> int:
    with engine(app) as runtime:
        user = identity.find_user(starter)
        instance = runtime.start(user, "receiving_inspection", START_DATA, subject=subject)
        return instance.id


def open_task_id(app: Flask, instance_id: int, step: str | None = None) -> int:
    with app.app_context():
        query = select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                           HumanTask.status == "open")
        if step:
            query = query.where(HumanTask.step == step)
        found = db.session.scalar(query)
        assert found is not None
        return found


def read(app: Flask, model: Any, key: Any, column: str) -> Any:
    with app.app_context():
        row = db.session.get(model, key)
        return getattr(row, column)


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def tab(client: FlaskClient, name: str) -> str:
    response = client.get(f"/inbox/?tab={name}")
    assert response.status_code == 200
    return text(response)


def field_error(page: str, field: str) -> str:
    found = re.search(rf'data-field="{field}">([^<]*)<', page)
    assert found, f"no error shown next to {field}"
    return found.group(1)


def inspect(client: FlaskClient, task_id: int, data: dict[str, str]) -> Any:
    return submit(client, f"/inbox/tasks/{task_id}", data)


# -- the inbox ---------------------------------------------------------------------------------


def test_inbox_tabs_show_the_right_rows_per_role(
    app: Flask, client: FlaskClient, samples: None, make_user: Any
) -> None:
    make_user("clerk", "receiving_clerk")
    make_user("insp", "inspector")
    make_user("op", "warehouse_operator")
    first = start_receiving(app, "clerk", "PO-first")
    start_receiving(app, "clerk", "PO-second")
    with engine(app):
        task = db.session.get(HumanTask, open_task_id(app, first))
        task.due_at = utcnow() - timedelta(hours=1)

    login(client, "insp")
    unclaimed = tab(client, "unclaimed")
    assert "PO-first" in unclaimed and "PO-second" in unclaimed
    assert "Inspect goods" in unclaimed
    assert "PO-first" not in tab(client, "mine")
    overdue = tab(client, "overdue")
    assert "PO-first" in overdue and "PO-second" not in overdue
    searched = text(client.get("/inbox/?tab=unclaimed&q=second"))
    assert "PO-second" in searched and "PO-first" not in searched
    by_process = text(client.get("/inbox/?tab=unclaimed&process=putaway"))
    assert "PO-first" not in by_process
    home = text(client.get("/"))
    assert "Welcome to GxPFlow" in home and "PO-first" in home, "the inbox is on the home page"

    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/inbox/")})
    login(client, "op")
    assert "PO-first" not in tab(client, "unclaimed"), "not a task of the operator's roles"


def test_claim_and_release(
    app: Flask, client: FlaskClient, samples: None, make_user: Any
) -> None:
    make_user("clerk", "receiving_clerk")
    make_user("insp", "inspector")
    make_user("other", "inspector")
    instance = start_receiving(app, "clerk")
    task_id = open_task_id(app, instance)
    login(client, "insp")
    response = submit(client, f"/inbox/tasks/{task_id}/claim", {}, form_url="/inbox/?tab=unclaimed")
    assert response.status_code == 302
    assert "PO-1" in tab(client, "mine")
    assert "PO-1" not in tab(client, "unclaimed")

    second = client.application.test_client()
    login(second, "other")
    assert "PO-1" not in tab(second, "unclaimed")
    refused = submit(second, f"/inbox/tasks/{task_id}/claim", {}, form_url="/inbox/")
    assert "already claimed" in text(second.get(refused.headers["Location"]))
    page = text(second.get(f"/inbox/tasks/{task_id}"))
    assert "claimed by someone else" in page

    submit(client, f"/inbox/tasks/{task_id}/release", {}, form_url="/inbox/")
    assert "PO-1" in tab(client, "unclaimed")
    assert read(app, HumanTask, task_id, "assignee_id") is None


def test_a_quality_manager_assigns_a_task_with_a_reason(
    app: Flask, client: FlaskClient, samples: None, make_user: Any
) -> None:
    make_user("clerk", "receiving_clerk")
    inspector = make_user("insp", "inspector")
    make_user("qm", "quality_manager")
    instance = start_receiving(app, "clerk")
    task_id = open_task_id(app, instance)
    login(client, "qm")
    page = f"/inbox/tasks/{task_id}"
    assert "Assign or reassign" in text(client.get(page))
    submit(client, f"{page}/assign", {"assignee": str(inspector.id), "reason": ""}, form_url=page)
    assert read(app, HumanTask, task_id, "assignee_id") is None, "a reason is required"
    submit(client, f"{page}/assign", {"assignee": str(inspector.id), "reason": "on shift"},
           form_url=page)
    assert read(app, HumanTask, task_id, "assignee_id") == inspector.id


# -- completing a task -------------------------------------------------------------------------


def test_complete_through_the_form_errors_then_signature_then_success(
    app: Flask, client: FlaskClient, samples: None, make_user: Any
) -> None:
    make_user("clerk", "receiving_clerk")
    make_user("insp", "inspector", full_name="Ivy Inspector")
    instance = start_receiving(app, "clerk")
    task_id = open_task_id(app, instance)
    login(client, "insp")
    page = text(client.get(f"/inbox/tasks/{task_id}"))
    assert "Inspect goods" in page and "PO-1" in page
    assert 'name="conclusion"' in page and 'name="accepted_qty"' in page
    assert "Signing means:" in page and "Performed" in page, "the meaning is shown"

    invalid = inspect(client, task_id, {"conclusion": "maybe", "accepted_qty": "-1"})
    assert invalid.status_code == 422
    assert field_error(text(invalid), "accepted_qty") == "Must be at least 0."
    assert "Choose one of" in field_error(text(invalid), "conclusion")

    unsigned = inspect(client, task_id, {"conclusion": "accepted", "accepted_qty": "10"})
    assert unsigned.status_code == 428
    assert "This step must be signed" in text(unsigned)
    assert 'value="10"' in text(unsigned), "what was typed is kept"

    wrong = inspect(client, task_id, {"conclusion": "accepted", "accepted_qty": "10",
                                      "username": "insp", "password": "not-my-password-1"})
    assert wrong.status_code == 401
    assert "The password is wrong" in text(wrong)
    assert read(app, HumanTask, task_id, "status") == "open"

    done = inspect(client, task_id, {"conclusion": "accepted", "accepted_qty": "10",
                                     "username": "insp", "password": PASSWORD})
    assert done.status_code == 302, text(done)[:2000]
    assert read(app, HumanTask, task_id, "status") == "completed"
    with app.app_context():
        signed = db.session.scalar(select(AuditEvent.after)
                                   .where(AuditEvent.action == "signature.sign"))
    assert signed is not None and json.loads(signed)["meaning"] == "performed"
    history = text(client.get(f"/inbox/tasks/{task_id}"))
    assert "Ivy Inspector" in history and "accepted_qty" in history


def test_four_eyes_refusal_is_shown_clearly(
    app: Flask, client: FlaskClient, samples: None, make_user: Any
) -> None:
    make_user("clerk", "receiving_clerk")
    make_user("both", "inspector", "quality_manager")
    instance = start_receiving(app, "clerk")
    task_id = open_task_id(app, instance)
    with engine(app) as runtime:
        runtime.complete(identity.find_user("both"), task_id,
                         {"conclusion": "rejected", "accepted_qty": "3"}, signer=lambda *a: 1)
    review = open_task_id(app, instance, "receiving.review_nonconformity")
    login(client, "both")
    page = text(client.get(f"/inbox/tasks/{review}"))
    assert "You performed “Inspect goods” in this process" in page
    assert "/claim" not in page and 'name="disposition"' not in page, "nothing to do here"
    claim = submit(client, f"/inbox/tasks/{review}/claim", {}, form_url="/inbox/")
    assert "a second person must do this task" in text(client.get(claim.headers["Location"]))
    assert read(app, HumanTask, review, "assignee_id") is None
    other = app.test_client()
    make_user("qm2", "quality_manager", full_name="Quinn Second")
    login(other, "qm2")
    assert "Someone other than " in text(other.get(f"/inbox/tasks/{review}"))
    refused = inspect(client, review, {"disposition": "destroy", "username": "both",
                                       "password": PASSWORD})
    assert refused.status_code == 422
    page = text(refused)
    assert "A second person must do this" in page and "four-eyes" in page
    assert read(app, HumanTask, review, "status") == "open"
    assert "Refused attempts" in text(client.get(f"/inbox/tasks/{review}"))


class FakeGate:
    """A rule-pack gate stand-in: warns on every step, blocks or demands a signature on one."""

    def __init__(self, *, block: str | None = None, sign: str | None = None) -> None:
        self.block, self.sign = block, sign

    def check(self, context: StepContext) -> GateOutcome:
        warn = {"rule_id": "FDA-820-86", "effect": "warn", "params": {},
                "message": {"en": "Short-dated lot: tell the customer.", "zh": "近效期批次"},
                "source": "21 CFR 820.86", "pack_id": "fda", "pack_version": "1"}
        outcome = GateOutcome(verdicts=[warn])
        if context.meta.step == self.block:
            outcome.blocked = True
            outcome.messages.append({"en": "The supplier licence has expired.",
                                     "zh": "供应商许可证已过期。"})
        if context.meta.step == self.sign:
            outcome.signature_meaning = "approved"
        return outcome


def test_gate_blocks_demands_a_signature_and_its_verdicts_are_shown(
    app: Flask, client: FlaskClient, samples: None,
    make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user("clerk", "receiving_clerk")
    make_user("insp", "inspector")
    make_user("op", "warehouse_operator")
    instance = start_receiving(app, "clerk")
    task_id = open_task_id(app, instance)
    monkeypatch.setattr(app.extensions["gxpflow.runtime"], "gate",
                        FakeGate(block="receiving.inspect"))
    login(client, "insp")
    blocked = inspect(client, task_id, {"conclusion": "accepted", "accepted_qty": "10",
                                        "username": "insp", "password": PASSWORD})
    assert blocked.status_code == 422
    assert "The supplier licence has expired." in text(blocked)
    assert "FDA-820-86" in text(blocked)

    monkeypatch.setattr(app.extensions["gxpflow.runtime"], "gate",
                        FakeGate(sign="receiving.putaway"))
    assert inspect(client, task_id, {"conclusion": "accepted", "accepted_qty": "10",
                                     "username": "insp", "password": PASSWORD}
                   ).status_code == 302
    putaway = open_task_id(app, instance, "receiving.putaway")
    operator = app.test_client()
    login(operator, "op")
    page = text(operator.get(f"/inbox/tasks/{putaway}"))
    assert "Signing means:" not in page, "only the gate asks for this signature"
    demanded = inspect(operator, putaway, {"location": "A-01-02"})
    assert demanded.status_code == 428
    assert "Approved" in text(demanded) and 'name="password"' in text(demanded)
    wrong = inspect(operator, putaway, {"location": "A-01-02", "username": "op",
                                        "password": "not-the-password"})
    assert wrong.status_code == 401, "a wrong password is said so, and the box asks again"
    assert "Approved" in text(wrong) and 'name="password"' in text(wrong)
    assert "password" in text(wrong).split('role="alert"', 1)[-1].lower()
    assert inspect(operator, putaway, {"location": "A-01-02", "username": "op",
                                       "password": PASSWORD}).status_code == 302
    with app.app_context():
        verdicts = db.session.scalars(select(TaskHistory.verdicts).where(
            TaskHistory.instance_id == instance, TaskHistory.event == "completed")).all()
    assert all("FDA-820-86" in v for v in verdicts) and len(verdicts) == 2
    assert "Short-dated lot: tell the customer." in text(operator.get(
        f"/processes/instances/{instance}"))


# -- deploying ---------------------------------------------------------------------------------


def deploy(client: FlaskClient, content: bytes, name: str = "upload.bpmn",
           password: str = PASSWORD, username: str = "owner", **extra: str) -> Any:
    import io

    return submit(client, "/processes/deploy",
                  {"file": (io.BytesIO(content), name), "note": "test", "password": password,
                   "username": username, **extra},
                  content_type="multipart/form-data")


@pytest.mark.parametrize(("content", "element", "reason"), [
    (b"<definitions><oops></definitions>", "(document)", "not well-formed XML"),
    ((SAMPLES / "camunda_modeler.bpmn").read_bytes(), "Task_approve", "step"),
    ((SAMPLES / "putaway.bpmn").read_bytes().replace(b'"Start_putaway"', b'"Start"'),
     "Start", "reserved by SpiffWorkflow"),
    ((SAMPLES / "putaway.bpmn").read_bytes().decode().replace("UTF-8", "UTF-16")
     .encode("utf-16"), "(document)", "UTF-8"),
    (b"", "(document)", "empty"),
])
def test_refused_uploads_name_the_element_and_reason_with_400(
    client: FlaskClient, make_user: Any, content: bytes, element: str, reason: str
) -> None:
    make_user("owner", "process_owner")
    login(client, "owner")
    response = deploy(client, content)
    assert response.status_code == 400, text(response)[:1500]
    page = text(response)
    assert f'data-element="{element}"' in page
    assert reason in page
    with client.application.app_context():
        assert db.session.scalar(select(ProcessDefinition)) is None


def test_a_signed_deployment_and_a_wrong_password(
    client: FlaskClient, make_user: Any
) -> None:
    make_user("owner", "process_owner", full_name="Olga Owner")
    login(client, "owner")
    putaway = (SAMPLES / "putaway.bpmn").read_bytes()
    wrong = deploy(client, putaway, "putaway.bpmn", password="wrong-password-9")
    assert wrong.status_code == 401 and "The password is wrong" in text(wrong)
    done = deploy(client, putaway, "putaway.bpmn")
    assert done.status_code == 302, text(done)[:1500]
    listing = text(client.get("/processes/"))
    assert "putaway" in listing and "Olga Owner · Approved" in listing and "valid" in listing
    again = deploy(client, putaway, "putaway.bpmn")
    assert again.status_code == 409 and "already the active version" in text(again)
    with client.application.app_context():
        definition = db.session.scalar(select(ProcessDefinition))
        assert definition.signature_id is not None
        assert client.get(f"/processes/definitions/{definition.id}/xml").data == putaway
        page = text(client.get(f"/processes/definitions/{definition.id}"))
        assert "data-bpmn-viewer" in page and "bpmn-navigated-viewer" in page


def owner_with_putaway(client: FlaskClient, make_user: Any) -> bytes:
    """A process owner logged in, with putaway deployed; its BPMN."""
    make_user("owner", "process_owner")
    login(client, "owner")
    putaway = (SAMPLES / "putaway.bpmn").read_bytes()
    assert deploy(client, putaway, "putaway.bpmn").status_code == 302
    return putaway


def test_the_modeler_page_loads_the_current_version_and_deploys_edits(
    client: FlaskClient, make_user: Any
) -> None:
    putaway = owner_with_putaway(client, make_user)
    page = text(client.get("/processes/putaway/modeler"))
    assert "bpmn-modeler.production.min.js" in page and 'name="csrf_token"' in page
    assert "Task_putaway" in page, "the current XML is in the page"
    edited = putaway.decode().replace("Put goods away", "Put goods away (v2)")
    bad = submit(client, "/processes/deploy", {"source": "modeler", "key": "putaway",
                                               "xml": edited.replace('"Task_putaway"', '"End"'),
                                               "password": PASSWORD},
                 form_url="/processes/putaway/modeler")
    assert bad.status_code == 400 and 'data-element="End"' in text(bad)
    assert "data-bpmn-modeler" in text(bad), "the modeler comes back with the edits"
    good = submit(client, "/processes/deploy", {"source": "modeler", "key": "putaway",
                                                "xml": edited, "password": PASSWORD},
                  form_url="/processes/putaway/modeler")
    assert good.status_code == 302
    assert "v2" in text(client.get("/processes/?status=active"))


def test_a_clerk_cannot_deploy(client: FlaskClient, make_user: Any) -> None:
    make_user("clerk", "receiving_clerk")
    login(client, "clerk")
    assert client.get("/processes/deploy").status_code == 403
    assert client.get("/processes/putaway/modeler").status_code == 403
    token = csrf_token(client, "/processes/")
    response = client.post("/processes/deploy", data={"csrf_token": token, "xml": "x"})
    assert response.status_code == 403
    assert "Upload a new version" not in text(client.get("/processes/"))


# -- starting and administering instances ------------------------------------------------------


def test_start_from_a_page_with_the_start_form(
    app: Flask, client: FlaskClient, samples: None, make_user: Any
) -> None:
    with engine(app):
        store.deploy(audit.SYSTEM, (HERE / "quick_check.bpmn").read_bytes(), "quick_check.bpmn")
    make_user("insp", "inspector")
    login(client, "insp")
    listing = text(client.get("/processes/"))
    assert "/processes/quick_check/start" in listing
    assert "/processes/putaway/start" not in listing, "a called process is not started by hand"
    missing = submit(client, "/processes/quick_check/start", {"subject": "Lot check"})
    assert missing.status_code == 422 and 'data-field="lot"' in text(missing)
    with engine(app):
        md.create_site(audit.SYSTEM, "SH", "Shanghai warehouse", "CN", "Asia/Shanghai")
        md.set_active(audit.SYSTEM, md.create_site(audit.SYSTEM, "OLD", "Closed warehouse",
                                                   "CN", "Asia/Shanghai"), False, "closed")
    form = text(client.get("/processes/quick_check/start"))
    assert '<option selected value="SH">SH · Shanghai warehouse</option>' in form, (
        "the only site is chosen already")
    assert 'value="OLD"' not in form, "a deactivated site is not offered"
    for typed in ("Shanghai", "OLD"):  # a site the gate knows no packs for would run ungated
        refused = submit(client, "/processes/quick_check/start",
                         {"subject": "Lot check", "lot": "L-7", "site_code": typed})
        assert refused.status_code == 422, typed
    started = submit(client, "/processes/quick_check/start", {"subject": "Lot check",
                                                               "lot": "L-7", "site_code": "SH"})
    assert started.status_code == 302
    # The first task is the starter's (an inspector's): the start leads straight to its form.
    assert re.fullmatch(r"/inbox/tasks/\d+", started.headers["Location"])
    assert "its first task is yours" in text(client.get(started.headers["Location"]))
    page = text(client.get(f"/processes/instances/{started_instance(app, started)}"))
    assert "Lot check" in page and "Check" in page
    assert '<dt title="lot">Lot</dt>' in page, "the start data named as the start form names it"
    states = json.loads(re.search(r'id="diagram-states">([^<]*)<', page).group(1))
    assert states == {"elements": {"StartEvent_1": "done", "Task_check": "active"},
                      "flows": [["StartEvent_1", "Task_check"]]}
    assert "Lot check" in tab(client, "unclaimed")
    # With several sites, the one this person started at last is chosen for the next start.
    with engine(app):
        md.create_site(audit.SYSTEM, "CHI", "Chicago warehouse", "US", "America/Chicago")
    form = text(client.get("/processes/quick_check/start"))
    assert '<option selected value="SH">' in form and '<option value="CHI">' in form
    # Someone who cannot do the first task (a clerk; it is an inspector's) sees the instance.
    make_user("clerk", "receiving_clerk")
    clerk = app.test_client()
    login(clerk, "clerk")
    other = submit(clerk, "/processes/quick_check/start", {"subject": "Lot check 2",
                                                           "lot": "L-8", "site_code": "CHI"})
    assert re.fullmatch(r"/processes/instances/\d+", other.headers["Location"])


def test_suspend_resume_terminate_need_a_reason_and_a_confirmation(
    app: Flask, client: FlaskClient, samples: None, make_user: Any
) -> None:
    make_user("clerk", "receiving_clerk")
    make_user("admin", "administrator")
    instance = start_receiving(app, "clerk")
    url = f"/processes/instances/{instance}"
    login(client, "admin")
    page = text(client.get(url))
    assert "Suspend" in page and "Terminate" in page
    assert "open tasks are cancelled" in page and "Goods it picked" not in page  # not an outbound
    states = json.loads(re.search(r'id="diagram-states">([^<]*)<', page).group(1))
    elements = states["elements"]
    assert elements["Script_totals"] == "done" and elements["Task_inspect"] == "active"

    def status() -> str:
        return str(read(app, ProcessInstance, instance, "status"))

    submit(client, f"{url}/suspend", {"reason": "", "confirm": "y"}, form_url=url)
    submit(client, f"{url}/suspend", {"reason": "supplier dispute"}, form_url=url)
    assert status() == "running", "a reason and the confirmation are both required"
    submit(client, f"{url}/suspend", {"reason": "supplier dispute", "confirm": "y"}, form_url=url)
    assert status() == "suspended"
    assert "Resume" in text(client.get(url))
    submit(client, f"{url}/resume", {"reason": "resolved", "confirm": "y"}, form_url=url)
    assert status() == "running"
    submit(client, f"{url}/terminate", {"reason": "wrong PO", "confirm": "y"}, form_url=url)
    assert status() == "terminated"
    with app.app_context():
        reasons = db.session.scalars(select(AuditEvent.reason).where(
            AuditEvent.entity_type == "process_instance", AuditEvent.reason != "")).all()
    assert reasons == ["supplier dispute", "resolved", "wrong PO"]
    listing = text(client.get("/processes/instances?status=terminated"))
    assert "PO-1" in listing


def test_a_clerk_cannot_suspend(
    app: Flask, client: FlaskClient, samples: None, make_user: Any
) -> None:
    make_user("clerk", "receiving_clerk")
    instance = start_receiving(app, "clerk")
    login(client, "clerk")
    url = f"/processes/instances/{instance}"
    assert "Suspend" not in text(client.get(url))
    response = submit(client, f"{url}/suspend", {"reason": "x", "confirm": "y"}, form_url=url)
    assert response.status_code == 403


def test_the_modeler_never_deploys_over_another_process(
    client: FlaskClient, make_user: Any
) -> None:
    putaway = owner_with_putaway(client, make_user)
    # Editing putaway, a diagram of another process is refused.
    other = putaway.decode().replace('id="putaway"', 'id="putaway_b"') \
        .replace('processRef="putaway"', 'processRef="putaway_b"')
    wrong = submit(client, "/processes/deploy", {"source": "modeler", "key": "putaway",
                                                 "xml": other, "password": PASSWORD},
                   form_url="/processes/putaway/modeler")
    assert wrong.status_code == 409 and "the modeler is editing putaway" in text(wrong)
    # A new process gets the key the user gives; a key taken already is refused.
    starter = text(client.get("/processes/modeler"))
    assert 'name="new_key"' in starter
    xml = json.loads(re.search(r'id="modeler-xml">([^<]*)<', starter).group(1))
    unnamed = submit(client, "/processes/deploy", {"source": "modeler", "xml": xml,
                                                   "password": PASSWORD},
                     form_url="/processes/modeler")
    assert unnamed.status_code == 400 and "Give the new process its key." in text(unnamed)
    taken = submit(client, "/processes/deploy", {"source": "modeler", "xml": xml,
                                                 "new_key": "putaway", "password": PASSWORD},
                   form_url="/processes/modeler")
    assert taken.status_code == 409 and "exists already" in text(taken)
    assert "data-bpmn-modeler" in text(taken), "the modeler comes back with the edits"
    made = submit(client, "/processes/deploy", {"source": "modeler", "xml": xml,
                                                "new_key": "goods_issue", "password": PASSWORD},
                  form_url="/processes/modeler")
    assert made.status_code == 302, text(made)[-2000:]
    assert "goods_issue" in text(client.get("/processes/?status=active"))

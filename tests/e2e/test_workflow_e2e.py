"""In a browser: the modeler shows a process, an instance page highlights the path taken, and
an inspector completes a task from the inbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from engine import audit
from engine.db import db
from engine.identity import service as identity
from engine.workflow import store
from engine.workflow.runtime import current_runtime
from tests.support.factories import PASSWORD

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[1] / "unit" / "workflow" / "bpmn"
HERE = Path(__file__).resolve().parents[1] / "integration" / "workflow" / "bpmn"


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(base + "/auth/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def test_modeler_instance_diagram_and_completing_from_the_inbox(
    app: Flask, live_server: str, page: Any, screenshot: Any, make_user: Any, errors: list[str]
) -> None:
    make_user("olga", "process_owner", "inspector")
    make_user("ivy", "inspector")
    with app.app_context():
        store.deploy(audit.SYSTEM, (HERE / "quick_check.bpmn").read_bytes(), "quick_check.bpmn")
        db.session.commit()
        instance = current_runtime().start(identity.find_user("olga"), "quick_check",
                                           {"lot": "L-42"}, subject="Lot L-42 check")
        db.session.commit()
        instance_id = instance.id
    log_in(page, live_server, "olga")
    page.goto(f"{live_server}/processes/quick_check/modeler")
    modeler = page.locator("#modeler")
    modeler.and_(page.locator("[data-state=ready]")).wait_for()
    assert page.locator("#modeler .djs-element[data-element-id=Task_check]").count() == 1
    assert page.locator(".djs-palette").count() == 1, "the modeler's palette is there"
    screenshot("workflow-modeler")
    # Unsaved edits: leaving the modeler asks first (an unedited one leaves quietly).
    editor = page.context.new_page()
    editor.goto(f"{live_server}/processes/quick_check/modeler")
    editor.locator("#modeler[data-state=ready]").wait_for()
    editor.locator("#modeler .djs-element[data-element-id=Task_check]").dblclick()
    editor.keyboard.type(" again")
    editor.locator("#modeler .djs-element[data-element-id=StartEvent_1]").click()
    editor.locator("#modeler[data-edited=true]").wait_for()
    asked: list[str] = []
    editor.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    editor.close(run_before_unload=True)
    editor.wait_for_timeout(300)
    assert asked == ["beforeunload"]
    assert not editor.is_closed(), "dismissing the question keeps the edits"
    editor.close()

    page.goto(f"{live_server}/processes/instances/{instance_id}")
    page.locator("#diagram[data-state=ready]").wait_for()
    assert page.locator("#diagram .djs-element.gx-done[data-element-id=StartEvent_1]").count() == 1
    assert page.locator("#diagram .djs-element.gx-active[data-element-id=Task_check]").count() == 1
    assert page.locator("#diagram .djs-connection.gx-taken").count() == 1
    screenshot("workflow-instance")
    assert errors == [], errors

    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, "ivy")
    page.get_by_role("tab", name="Unclaimed for my roles").click()
    row = page.locator("tr", has_text="Lot L-42 check")
    row.get_by_role("button", name="Claim").click()
    assert "The task is yours now." in page.locator(".flash").inner_text()
    page.get_by_role("tab", name="My tasks").click()
    page.locator("tr", has_text="Lot L-42 check").get_by_role("link", name="Open").click()
    page.get_by_role("button", name="Complete").click()
    assert page.locator("[data-field=result]").inner_text() == "This field is required."
    page.get_by_label("Result").select_option("passed")
    screenshot("workflow-task")
    page.get_by_role("button", name="Complete").click()
    assert "Task completed: Check." in page.locator(".flash").inner_text()
    page.goto(f"{live_server}/processes/instances/{instance_id}")
    assert page.locator(".gx-instance-status").inner_text() == "completed"
    page.locator("#diagram[data-state=ready]").wait_for()
    assert page.locator("#diagram .djs-element.gx-done[data-element-id=EndEvent_1]").count() == 1
    screenshot("workflow-instance-completed")
    assert errors == [], errors

"""Service tasks call connectors by name: the engine's own (gxpflow.stock_on_hand reads the
ledger) through Celery, a real worker process on the production stack and inline when eager,
with the result merged into the task data. A failing connector stops the instance in the error
state with its reason; an administrator sees it on the instance page and retries it there. A
retry calls the connector again with the same idempotency key, and a call that ran is never
applied twice (a redelivered task-queue message changes nothing)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from engine import audit, plugins
from engine.audit import AuditEvent
from engine.db import db
from engine.errors import InvalidInput
from engine.masterdata import service as md
from engine.processes import connectors
from engine.workflow import store
from engine.workflow.models import HumanTask, ProcessInstance, ServiceCall
from engine.workflow.runtime import current_runtime
from tests.integration.ledger.world import World, build_world
from tests.support.web import login, submit

HERE = Path(__file__).parent / "bpmn"
Wait = Callable[[Callable[[], bool]], None]


def start(world: World, site: str) -> int:
    store.deploy(audit.SYSTEM, (HERE / "stock_check.bpmn").read_bytes(), "stock_check.bpmn")
    instance = current_runtime().start(world.inspector, "stock_check",
                                       {"product": "THERMO", "site": site},
                                       subject=f"Count THERMO at {site}", site_code="SH")
    db.session.commit()
    return instance.id


def review_task(instance_id: int) -> HumanTask | None:
    return db.session.scalar(select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.status == "open"))


def calls(instance_id: int) -> list[tuple[str, str, int]]:
    return [(c.connector, c.status, c.attempts) for c in db.session.scalars(
        select(ServiceCall).where(ServiceCall.instance_id == instance_id))]


def test_a_service_task_reads_the_ledger_into_the_task_data(
    ctx: Flask, make_user: Any, settled: Wait
) -> None:
    world = build_world(make_user)
    world.receive_available("T1", 20)
    world.receive_available("T2", 5, location=world.stock2)
    db.session.commit()
    instance_id = start(world, "SH")
    settled(lambda: review_task(instance_id) is not None)
    row = review_task(instance_id)
    assert row is not None and row.step == "general.check"
    _, _, data = current_runtime().task_view(row)
    assert data["stock"] == {"product": "THERMO", "site": "SH", "lot": None,
                             "by_status": {"available": 25}, "available": 25, "total": 25}
    assert calls(instance_id) == [("gxpflow.stock_on_hand", "done", 1)]
    service = next(h for h in current_runtime().history(instance_id) if h.event == "service")
    assert json.loads(service.data)["stock"]["available"] == 25, "the history shows the answer"
    one_lot = connectors.stock_on_hand(idempotency_key="k", product="06901234000023", site="SH",
                                       lot=" T2 ")
    assert (one_lot["lot"], one_lot["by_status"]) == ("T2", {"available": 5})
    with pytest.raises(InvalidInput) as unknown:
        connectors.stock_on_hand(idempotency_key="k", product="THERMO", site="SH", lot="T9")
    assert unknown.value.zh == "产品 THERMO 没有批号 'T9'。"


def test_a_failing_connector_stops_the_instance_until_an_administrator_retries(
    app: Flask, client: Any, make_user: Any, settled: Wait
) -> None:
    with app.app_context():
        world = build_world(make_user)
        instance_id = start(world, "RTM")  # no such site yet: the connector fails
        settled(lambda: db.session.get(ProcessInstance, instance_id).status == "error")
        instance = db.session.get(ProcessInstance, instance_id)
        assert "No site with code 'RTM'" in instance.error
        assert calls(instance_id) == [("gxpflow.stock_on_hand", "failed", 1)]
        assert review_task(instance_id) is None
    make_user("ada", "administrator")
    login(client, "ada")
    page = client.get(f"/processes/instances/{instance_id}").get_data(as_text=True)
    assert "No site with code" in page and "gxpflow.stock_on_hand" in page
    assert f"/processes/instances/{instance_id}/retry" in page, "the administrator may retry"

    with app.app_context():  # the cause is mended: the site is set up
        md.create_site(audit.SYSTEM, "RTM", "Rotterdam hub", "EU", "Europe/Amsterdam")
        db.session.commit()
    retried = submit(client, f"/processes/instances/{instance_id}/retry", {},
                     form_url=f"/processes/instances/{instance_id}")
    assert retried.status_code == 302
    with app.app_context():
        settled(lambda: review_task(instance_id) is not None)
        assert db.session.get(ProcessInstance, instance_id).status == "running"
        assert calls(instance_id) == [("gxpflow.stock_on_hand", "done", 2)]
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "instance.retry")) == 1
        assert audit.verify().ok


def test_a_retry_calls_again_with_the_same_key_and_a_call_applies_once(
    app: Flask, ctx: Flask, make_user: Any, stack: Any
) -> None:
    if stack.backend == "production":
        pytest.skip("the connector is registered in this process; a real worker has its own")
    runtime = current_runtime()
    keys: list[str] = []

    def flaky(*, idempotency_key: str, product: str, site: str) -> dict[str, Any]:
        keys.append(idempotency_key)
        if len(keys) == 1:
            raise TimeoutError("the partner system did not answer")
        return {"checked": product, "at": site}

    builtin = runtime.connectors.pop("gxpflow.stock_on_hand")
    try:
        plugins.register_connector(app, "gxpflow.stock_on_hand", flaky)
        with pytest.raises(ValueError, match="registered already"):
            plugins.register_connector(app, "gxpflow.stock_on_hand", flaky)
        world = build_world(make_user)
        instance_id = start(world, "SH")
        assert db.session.get(ProcessInstance, instance_id).status == "error"
        assert "TimeoutError: the partner system did not answer" in (
            db.session.get(ProcessInstance, instance_id).error)
        admin = make_user("ada", "administrator")
        runtime.retry(admin, instance_id)
        db.session.commit()
        row = review_task(instance_id)
        assert row is not None
        assert runtime.task_view(row)[2]["stock"] == {"checked": "THERMO", "at": "SH"}
        call = db.session.scalar(select(ServiceCall).where(
            ServiceCall.instance_id == instance_id))
        assert keys == [f"service-call-{call.id}"] * 2, "the same key both times"
        # The task queue delivers the call again (acks_late): nothing runs twice.
        runtime.run_service_call(call.id)
        db.session.commit()
        assert len(keys) == 2
        assert [h.event for h in runtime.history(instance_id)].count("service") == 1
        assert db.session.scalar(select(func.count()).select_from(HumanTask).where(
            HumanTask.instance_id == instance_id)) == 1
    finally:
        runtime.connectors["gxpflow.stock_on_hand"] = builtin


def test_a_service_task_calling_no_registered_connector_is_refused_at_deploy(ctx: Flask) -> None:
    from engine.workflow.definitions import DefinitionInvalid, validate_bpmn

    xml = (HERE / "stock_check.bpmn").read_bytes().replace(b"gxpflow.stock_on_hand",
                                                           b"erp.stock_level")
    with pytest.raises(DefinitionInvalid) as refused:
        store.deploy(audit.SYSTEM, xml, "stock_check.bpmn")
    assert [(p.element_id, p.reason) for p in refused.value.problems] == [(
        "Task_count", "The service task calls the connector 'erp.stock_level', which is not "
        "registered (registered: gxpflow.stock_on_hand).")]
    assert refused.value.problems[0].reason.zh.startswith("服务任务调用的连接器")
    assert validate_bpmn(xml, "x.bpmn").ok, "outside the app nothing says what is registered"


def test_a_call_whose_message_was_lost_is_sent_again(ctx: Flask, make_user: Any) -> None:
    """On the production stack a call goes to a worker after commit; if that message is lost
    (the broker was down, a worker died) the beat's sweep sends the call again, and an
    administrator's retry sends a failed one again."""
    runtime = current_runtime()
    sent: list[int] = []
    dispatch = runtime.dispatch
    runtime.dispatch = sent.append
    try:
        world = build_world(make_user)
        instance_id = start(world, "SH")
        call = db.session.scalar(select(ServiceCall).where(
            ServiceCall.instance_id == instance_id))
        assert sent == [call.id] and call.status == "pending" and call.dispatched_at
        assert runtime.resend_stale_service_calls() == 0, "sent a moment ago: still on its way"
        assert runtime.resend_stale_service_calls(older_than=timedelta(0)) == 1
        assert sent == [call.id, call.id]
        call.status, call.error = "failed", "TimeoutError"
        db.session.get(ProcessInstance, instance_id).status = "error"
        db.session.flush()
        runtime.retry(make_user("ada", "administrator"), instance_id)
        assert sent == [call.id] * 3 and call.status == "pending"
    finally:
        runtime.dispatch = dispatch
        db.session.rollback()


@pytest.mark.parametrize(("operator", "reason"), [
    (b'<spiffworkflow:serviceTaskOperator id="" resultVariable="stock">',
     "The service task names no connector."),
    (b'<spiffworkflow:serviceTaskOperator id="gxpflow.stock_on_hand" resultVariable="1 bad">',
     "The result variable '1 bad' is not a name scripts can use"),
    (b'<spiffworkflow:serviceTaskOperator id="gxpflow.stock_on_hand" '
     b'resultVariable="__builtins__">',
     "The result variable '__builtins__' is not a name scripts can use"),
])
def test_a_service_task_without_a_connector_or_a_usable_result_name_is_refused(
        ctx: Flask, operator: bytes, reason: str) -> None:
    xml = (HERE / "stock_check.bpmn").read_bytes().replace(
        b'<spiffworkflow:serviceTaskOperator id="gxpflow.stock_on_hand" resultVariable="stock">',
        operator)
    result = store.validate(xml, "stock_check.bpmn")
    assert [p.element_id for p in result.problems] == ["Task_count"]
    assert result.problems[0].reason.startswith(reason)

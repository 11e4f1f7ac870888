"""Staff who read Chinese meet the process steps' refusals in Chinese on the task page (a quality
decision over more than is held, an order for a customer not on file), and a missing attachment
or tracking report in Chinese on the error page."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.integration.processes.stockworld import (
    World,
    complete,
    open_task,
    start,
    world,
)

__all__ = ["world"]  # the fixture, imported for pytest


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def chinese(world: World, username: str) -> FlaskClient:
    client = world.client(username)
    client.set_cookie("gxpflow_locale", "zh")
    return client


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_a_decision_over_more_than_is_held_is_refused_in_chinese(world: World) -> None:
    chinese(world, "qm")
    instance = start(world, "qm", "release", "QD N-1", {
        "product": "NOUDI", "lot_no": "N-1", "from_status": "nonconforming", "quantity": "8",
        "held_reason": "Awaiting the quality decision"})
    task = open_task(world, "qm", instance, "release.decide")
    refused = complete(world, "qm", task, {"disposition": "scrap",
                                           "decision_reason": "Investigation QI-7 closed"},
                       expect=422)
    assert "SH 的批号 N-1 仅有 5 件不合格库存。" in text(refused)
    assert "Only 5 of lot N-1" not in text(refused)


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_an_order_for_a_customer_not_on_file_is_refused_in_chinese(world: World) -> None:
    chinese(world, "oper")
    instance = start(world, "oper", "outbound", "SO-NOPE")
    task = open_task(world, "oper", instance, "outbound.order")
    refused = complete(world, "oper", task, {"customer": "NOPE", "product": "THERMO",
                                             "quantity": "1"}, expect=422)
    assert "没有编码为 NOPE 的有效客户。" in text(refused)


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_a_missing_attachment_or_tracking_report_is_said_in_chinese(world: World) -> None:
    client = chinese(world, "qm")
    attachment = client.get("/inbox/attachments/424242")
    assert attachment.status_code == 404
    assert "附件 424242 不存在。" in text(attachment)
    report = client.get("/tracking/424242")
    assert report.status_code == 404
    assert "追踪报告 424242 不存在。" in text(report)
